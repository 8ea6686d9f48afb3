//! The event tables every emitting or subscribing context creates in its
//! own migrations (same names in every schema or file).

diesel::table! {
    outbox (seq) {
        seq -> BigInt,
        event_id -> Text,
        name -> Text,
        payload -> Text,
        occurred_at -> Timestamp,
        correlation_id -> Nullable<Text>,
        causation_id -> Nullable<Text>,
        fanned_out -> Bool,
    }
}

diesel::table! {
    outbox_deliveries (event_seq, subscriber) {
        event_seq -> BigInt,
        subscriber -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outbox_relay_lease (name) {
        name -> Text,
        holder -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    inbox (subscriber, event_id) {
        subscriber -> Text,
        event_id -> Text,
        handled_at -> Timestamp,
    }
}

diesel::joinable!(outbox_deliveries -> outbox (event_seq));
diesel::allow_tables_to_appear_in_same_query!(outbox, outbox_deliveries);

/// The DDL of the event tables, per backend. Context migrations carry a copy
/// (migrations are immutable history); the kernel's own tests use these.
pub const SQLITE_DDL: &str = "
CREATE TABLE outbox (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    payload        TEXT NOT NULL,
    occurred_at    TIMESTAMP NOT NULL,
    correlation_id TEXT,
    causation_id   TEXT,
    fanned_out     BOOLEAN NOT NULL DEFAULT 0
);
CREATE INDEX outbox_not_fanned_out ON outbox (fanned_out, seq);
CREATE TABLE outbox_deliveries (
    event_seq       BIGINT NOT NULL REFERENCES outbox (seq),
    subscriber      TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error      TEXT,
    delivered_at    TIMESTAMP,
    PRIMARY KEY (event_seq, subscriber)
);
CREATE INDEX outbox_deliveries_by_subscriber ON outbox_deliveries (subscriber, status, event_seq);
CREATE TABLE outbox_relay_lease (
    name       TEXT PRIMARY KEY NOT NULL,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE TABLE inbox (
    subscriber TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    handled_at TIMESTAMP NOT NULL,
    PRIMARY KEY (subscriber, event_id)
);
";

pub const POSTGRES_DDL: &str = "
CREATE TABLE outbox (
    seq            BIGSERIAL PRIMARY KEY,
    event_id       TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    payload        TEXT NOT NULL,
    occurred_at    TIMESTAMP NOT NULL,
    correlation_id TEXT,
    causation_id   TEXT,
    fanned_out     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX outbox_not_fanned_out ON outbox (fanned_out, seq);
CREATE TABLE outbox_deliveries (
    event_seq       BIGINT NOT NULL REFERENCES outbox (seq),
    subscriber      TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error      TEXT,
    delivered_at    TIMESTAMP,
    PRIMARY KEY (event_seq, subscriber)
);
CREATE INDEX outbox_deliveries_by_subscriber ON outbox_deliveries (subscriber, status, event_seq);
CREATE TABLE outbox_relay_lease (
    name       TEXT PRIMARY KEY NOT NULL,
    holder     TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE TABLE inbox (
    subscriber TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    handled_at TIMESTAMP NOT NULL,
    PRIMARY KEY (subscriber, event_id)
);
";

-- Saga instances (one per order and kind) and the log of every step's
-- outcome. A saga is advanced one step per transaction here, after the
-- step's call to another context; every such call is idempotent, so a
-- process killed in between repeats the step on restart.

CREATE TABLE sagas (
    id              TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    state           TEXT NOT NULL,
    step            TEXT NOT NULL,
    -- JSON: what the saga carries (order lines, the failure reason).
    data            TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    UNIQUE (kind, order_id)
);
CREATE INDEX sagas_due ON sagas (state, next_attempt_at);

CREATE TABLE saga_steps (
    id      TEXT PRIMARY KEY NOT NULL,
    saga_id TEXT NOT NULL REFERENCES sagas (id),
    step    TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail  TEXT,
    at      TIMESTAMP NOT NULL
);
CREATE INDEX saga_steps_by_saga ON saga_steps (saga_id, id);

-- Outbox and inbox (see kernel::events).
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

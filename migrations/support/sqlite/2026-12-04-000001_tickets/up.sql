-- Support tickets and their messages. A ticket refers to a customer and
-- an order by id only: names, emails and order details are fetched from the
-- users and orders contexts when an agent looks (API composition).

CREATE TABLE tickets (
    id                TEXT PRIMARY KEY NOT NULL,
    user_id           TEXT NOT NULL,
    kind              TEXT NOT NULL,
    subject           TEXT NOT NULL,
    order_id          TEXT,
    status            TEXT NOT NULL,
    priority          TEXT NOT NULL,
    assignee_id       TEXT,
    needs_attention   BOOLEAN NOT NULL DEFAULT 0,
    first_response_at TIMESTAMP,
    resolved_at       TIMESTAMP,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX tickets_by_user ON tickets (user_id, id);
CREATE INDEX tickets_queue ON tickets (status, kind, id);

CREATE TABLE ticket_messages (
    id         TEXT PRIMARY KEY NOT NULL,
    ticket_id  TEXT NOT NULL REFERENCES tickets (id),
    author_id  TEXT NOT NULL,
    -- customer or agent
    author     TEXT NOT NULL,
    body       TEXT NOT NULL,
    -- Agents' notes, never shown to the customer.
    internal   BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX ticket_messages_by_ticket ON ticket_messages (ticket_id, id);

-- Outbox and inbox (see kernel::events).
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

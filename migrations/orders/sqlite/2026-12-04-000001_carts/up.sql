-- Carts: one per signed-in customer, or a guest cart found by the hash of
-- its token. Lines keep only product ids and quantities; names and prices
-- come from the catalog when the cart is shown.

CREATE TABLE carts (
    id            TEXT PRIMARY KEY NOT NULL,
    owner_id      TEXT UNIQUE,
    token_hash    TEXT UNIQUE,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

CREATE TABLE cart_items (
    cart_id    TEXT NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    product_id TEXT NOT NULL,
    quantity   BIGINT NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    added_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (cart_id, product_id)
);

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

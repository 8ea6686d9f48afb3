-- Orders with their lines (name and price snapshotted at checkout), the
-- timeline of status changes, one payment per order, and the idempotency
-- keys of checkout requests.

CREATE TABLE orders (
    id               TEXT PRIMARY KEY NOT NULL,
    user_id          TEXT NOT NULL,
    status           TEXT NOT NULL,
    currency         TEXT NOT NULL,
    total_amount     BIGINT NOT NULL,
    -- JSON: the address as given at checkout.
    shipping_address TEXT NOT NULL,
    payment_token    TEXT NOT NULL,
    rejection_reason TEXT,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE INDEX orders_by_user ON orders (user_id, id);

CREATE TABLE order_lines (
    order_id   TEXT NOT NULL REFERENCES orders (id),
    product_id TEXT NOT NULL,
    sku        TEXT NOT NULL,
    name       TEXT NOT NULL,
    unit_price BIGINT NOT NULL,
    quantity   BIGINT NOT NULL CHECK (quantity > 0),
    line_total BIGINT NOT NULL,
    PRIMARY KEY (order_id, product_id)
);

CREATE TABLE order_history (
    id       TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL REFERENCES orders (id),
    status   TEXT NOT NULL,
    reason   TEXT,
    at       TIMESTAMP NOT NULL
);
CREATE INDEX order_history_by_order ON order_history (order_id, id);

CREATE TABLE payments (
    order_id     TEXT PRIMARY KEY NOT NULL REFERENCES orders (id),
    status       TEXT NOT NULL,
    amount       BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    captured     BIGINT NOT NULL DEFAULT 0,
    refunded     BIGINT NOT NULL DEFAULT 0,
    provider_ref TEXT,
    last_error   TEXT,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    CHECK (refunded <= captured AND captured <= amount)
);

CREATE TABLE idempotency_keys (
    user_id         TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    state           TEXT NOT NULL,
    response_status INTEGER,
    response_body   TEXT,
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
);

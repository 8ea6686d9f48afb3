-- Each refund under its key (the saga and cause asking for it), so a refund
-- repeated after a crash is recognised and not paid twice.
CREATE TABLE refunds (
    order_id   TEXT NOT NULL REFERENCES orders (id),
    refund_key TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (order_id, refund_key)
);

-- A customer's rating of a resolved ticket, and the lines of a return
-- ticket with the state of the return.

CREATE TABLE ticket_ratings (
    ticket_id  TEXT PRIMARY KEY NOT NULL REFERENCES tickets (id),
    score      INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment    TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE return_lines (
    ticket_id  TEXT NOT NULL REFERENCES tickets (id),
    order_id   TEXT NOT NULL,
    product_id TEXT NOT NULL,
    quantity   BIGINT NOT NULL CHECK (quantity > 0),
    reason     TEXT NOT NULL,
    -- What the customer paid per unit (the order's price snapshot).
    unit_price BIGINT NOT NULL,
    currency   TEXT NOT NULL,
    PRIMARY KEY (ticket_id, product_id)
);
CREATE INDEX return_lines_by_order ON return_lines (order_id);

ALTER TABLE tickets ADD COLUMN return_status TEXT;

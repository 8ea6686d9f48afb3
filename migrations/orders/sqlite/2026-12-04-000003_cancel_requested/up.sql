-- A customer may ask to cancel while the checkout saga is still running;
-- the request is honoured when the order is confirmed.
ALTER TABLE orders ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT 0;

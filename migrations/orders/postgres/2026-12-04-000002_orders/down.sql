DROP TABLE idempotency_keys;
DROP TABLE payments;
DROP TABLE order_history;
DROP TABLE order_lines;
DROP TABLE orders;

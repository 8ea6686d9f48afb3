-- The catalog: a category tree, products with prices, images and stock,
-- stock reservations keyed by order, the stock audit trail, full-text search,
-- and the context's outbox and inbox.

CREATE TABLE categories (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    parent_id  TEXT REFERENCES categories (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX categories_by_parent ON categories (parent_id);

CREATE TABLE products (
    -- Insertion order: the stable tie-breaker of every listing, and the
    -- full-text index's row key.
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    sku            TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL,
    price_amount   BIGINT NOT NULL CHECK (price_amount >= 0),
    price_currency TEXT NOT NULL,
    category_id    TEXT REFERENCES categories (id),
    -- A JSON object of free-form attributes (colour, size, …).
    attributes     TEXT NOT NULL DEFAULT '{}',
    active         BOOLEAN NOT NULL,
    archived_at    TIMESTAMP,
    on_hand        BIGINT NOT NULL DEFAULT 0,
    reserved       BIGINT NOT NULL DEFAULT 0,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    -- The database itself refuses to oversell.
    CHECK (reserved >= 0 AND on_hand >= reserved)
);
CREATE INDEX products_by_category ON products (category_id);
CREATE INDEX products_by_price ON products (price_amount, seq);

CREATE TABLE product_images (
    id           TEXT PRIMARY KEY NOT NULL,
    product_id   TEXT NOT NULL REFERENCES products (id),
    position     INTEGER NOT NULL,
    url          TEXT NOT NULL,
    alt          TEXT NOT NULL,
    -- Set for uploaded images: the file under the data directory.
    stored_file  TEXT,
    content_type TEXT,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX product_images_by_product ON product_images (product_id, position);

CREATE TABLE stock_adjustments (
    id            TEXT PRIMARY KEY NOT NULL,
    product_id    TEXT NOT NULL REFERENCES products (id),
    delta         BIGINT NOT NULL,
    reason        TEXT NOT NULL,
    on_hand_after BIGINT NOT NULL,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX stock_adjustments_by_product ON stock_adjustments (product_id, created_at);

-- Units held for an order until committed (sold), released, or expired.
CREATE TABLE reservations (
    order_id   TEXT NOT NULL,
    product_id TEXT NOT NULL REFERENCES products (id),
    quantity   BIGINT NOT NULL CHECK (quantity > 0),
    status     TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
CREATE INDEX reservations_expiring ON reservations (status, expires_at);

-- Full text over sku, name and description: porter stemming, unicode folding.
-- An external-content index on products' rowid (seq), kept in step by
-- triggers inside every writing transaction.
CREATE VIRTUAL TABLE product_search USING fts5(
    name, sku, description,
    content = 'products', content_rowid = 'seq',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER products_search_insert AFTER INSERT ON products BEGIN
    INSERT INTO product_search (rowid, name, sku, description) VALUES (new.seq, new.name, new.sku, new.description);
END;
CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN
    INSERT INTO product_search (product_search, rowid, name, sku, description)
        VALUES ('delete', old.seq, old.name, old.sku, old.description);
END;
CREATE TRIGGER products_search_update AFTER UPDATE OF name, sku, description ON products BEGIN
    INSERT INTO product_search (product_search, rowid, name, sku, description)
        VALUES ('delete', old.seq, old.name, old.sku, old.description);
    INSERT INTO product_search (rowid, name, sku, description) VALUES (new.seq, new.name, new.sku, new.description);
END;

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

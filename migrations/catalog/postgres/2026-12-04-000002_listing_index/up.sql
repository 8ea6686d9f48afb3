-- What shoppers' listings filter on, in one index: category facets and
-- category/price/in-stock filters are answered from it without reading the
-- (wide) product rows.
CREATE INDEX products_listing ON products (active, archived_at, category_id, price_amount, on_hand, reserved);

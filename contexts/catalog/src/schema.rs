//! Diesel's view of the catalog tables (portable types only). The full-text
//! index (`product_search` on SQLite, `products.search_vector` on
//! PostgreSQL) is queried with per-backend SQL in `search.rs`.

diesel::table! {
    categories (id) {
        id -> Text,
        name -> Text,
        slug -> Text,
        parent_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    products (seq) {
        seq -> BigInt,
        id -> Text,
        sku -> Text,
        name -> Text,
        description -> Text,
        price_amount -> BigInt,
        price_currency -> Text,
        category_id -> Nullable<Text>,
        attributes -> Text,
        active -> Bool,
        archived_at -> Nullable<Timestamp>,
        on_hand -> BigInt,
        reserved -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    product_images (id) {
        id -> Text,
        product_id -> Text,
        position -> Integer,
        url -> Text,
        alt -> Text,
        stored_file -> Nullable<Text>,
        content_type -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    stock_adjustments (id) {
        id -> Text,
        product_id -> Text,
        delta -> BigInt,
        reason -> Text,
        on_hand_after -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    reservations (order_id, product_id) {
        order_id -> Text,
        product_id -> Text,
        quantity -> BigInt,
        status -> Text,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(categories, products, product_images, stock_adjustments, reservations);

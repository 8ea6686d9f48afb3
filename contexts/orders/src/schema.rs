//! Diesel's view of the orders tables.

diesel::table! {
    carts (id) {
        id -> Text,
        owner_id -> Nullable<Text>,
        token_hash -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    cart_items (cart_id, product_id) {
        cart_id -> Text,
        product_id -> Text,
        quantity -> BigInt,
        added_at -> Timestamp,
    }
}

diesel::joinable!(cart_items -> carts (cart_id));
diesel::allow_tables_to_appear_in_same_query!(carts, cart_items);

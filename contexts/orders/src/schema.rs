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

diesel::table! {
    orders (id) {
        id -> Text,
        user_id -> Text,
        status -> Text,
        currency -> Text,
        total_amount -> BigInt,
        shipping_address -> Text,
        payment_token -> Text,
        rejection_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        cancel_requested -> Bool,
    }
}

diesel::table! {
    order_lines (order_id, product_id) {
        order_id -> Text,
        product_id -> Text,
        sku -> Text,
        name -> Text,
        unit_price -> BigInt,
        quantity -> BigInt,
        line_total -> BigInt,
    }
}

diesel::table! {
    order_history (id) {
        id -> Text,
        order_id -> Text,
        status -> Text,
        reason -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    payments (order_id) {
        order_id -> Text,
        status -> Text,
        amount -> BigInt,
        currency -> Text,
        captured -> BigInt,
        refunded -> BigInt,
        provider_ref -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (user_id, idempotency_key) {
        user_id -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        state -> Text,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    refunds (order_id, refund_key) {
        order_id -> Text,
        refund_key -> Text,
        amount -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::joinable!(payments -> orders (order_id));
diesel::joinable!(order_lines -> orders (order_id));
diesel::allow_tables_to_appear_in_same_query!(
    orders,
    order_lines,
    order_history,
    payments,
    idempotency_keys,
    carts,
    cart_items
);

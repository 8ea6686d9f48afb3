//! Diesel's view of the support tables.

diesel::table! {
    tickets (id) {
        id -> Text,
        user_id -> Text,
        kind -> Text,
        subject -> Text,
        order_id -> Nullable<Text>,
        status -> Text,
        priority -> Text,
        assignee_id -> Nullable<Text>,
        needs_attention -> Bool,
        first_response_at -> Nullable<Timestamp>,
        resolved_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        return_status -> Nullable<Text>,
    }
}

diesel::table! {
    ticket_messages (id) {
        id -> Text,
        ticket_id -> Text,
        author_id -> Text,
        author -> Text,
        body -> Text,
        internal -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ticket_ratings (ticket_id) {
        ticket_id -> Text,
        score -> Integer,
        comment -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    return_lines (ticket_id, product_id) {
        ticket_id -> Text,
        order_id -> Text,
        product_id -> Text,
        quantity -> BigInt,
        reason -> Text,
        unit_price -> BigInt,
        currency -> Text,
    }
}

diesel::joinable!(ticket_messages -> tickets (ticket_id));
diesel::joinable!(return_lines -> tickets (ticket_id));
diesel::allow_tables_to_appear_in_same_query!(tickets, ticket_messages, ticket_ratings, return_lines);

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

diesel::joinable!(ticket_messages -> tickets (ticket_id));
diesel::allow_tables_to_appear_in_same_query!(tickets, ticket_messages);

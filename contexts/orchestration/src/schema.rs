//! Diesel's view of the orchestration tables.

diesel::table! {
    sagas (id) {
        id -> Text,
        kind -> Text,
        order_id -> Text,
        state -> Text,
        step -> Text,
        data -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    saga_steps (id) {
        id -> Text,
        saga_id -> Text,
        step -> Text,
        outcome -> Text,
        detail -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::joinable!(saga_steps -> sagas (saga_id));
diesel::allow_tables_to_appear_in_same_query!(sagas, saga_steps);

// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "orderpay_order_state"))]
    pub struct OrderpayOrderState;

    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "orderpay_payment_state"))]
    pub struct OrderpayPaymentState;
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        name -> Text,
        prefix -> Text,
        key_hash -> Bytea,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        scopes -> Nullable<Array<Text>>,
    }
}

diesel::table! {
    customers (id) {
        id -> Uuid,
        phone -> Text,
        name -> Text,
        email -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_keys (api_key_id, key) {
        api_key_id -> Uuid,
        key -> Text,
        fingerprint -> Bytea,
        created_at -> Timestamptz,
        response_status -> Nullable<Int2>,
        response_type -> Nullable<Text>,
        response_body -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::OrderpayOrderState;
    use super::sql_types::OrderpayPaymentState;

    order_events (id) {
        id -> Uuid,
        order_id -> Uuid,
        #[sql_name = "type"]
        type_ -> Text,
        payment_id -> Nullable<Uuid>,
        amount -> Nullable<Int8>,
        reason -> Nullable<Text>,
        created_at -> Timestamptz,
        sequence -> Int8,
        published -> Bool,
        order_state -> Nullable<OrderpayOrderState>,
        payment_state -> Nullable<OrderpayPaymentState>,
        actor -> Nullable<Text>,
    }
}

diesel::table! {
    order_items (order_id, position) {
        order_id -> Uuid,
        position -> Int2,
        name -> Text,
        quantity -> Int4,
        unit_amount -> Int8,
        amount -> Int8,
    }
}

diesel::table! {
    orders (id) {
        id -> Uuid,
        reference -> Text,
        customer_id -> Uuid,
        currency -> Text,
        total_amount -> Int8,
        status -> Text,
        metadata -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        pay_token -> Text,
        flags -> Array<Text>,
        amount_refunded -> Int8,
        version -> Int4,
    }
}

diesel::table! {
    payments (id) {
        id -> Uuid,
        order_id -> Uuid,
        provider -> Text,
        status -> Text,
        amount -> Int8,
        currency -> Text,
        session_id -> Nullable<Text>,
        session_url -> Nullable<Text>,
        session_expires_at -> Nullable<Timestamptz>,
        provider_payment_id -> Nullable<Text>,
        amount_received -> Int8,
        amount_refunded -> Int8,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        checked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    processed_events (id) {
        id -> Text,
        processed_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Uuid,
        endpoint_id -> Uuid,
        event_id -> Uuid,
        order_id -> Uuid,
        event_sequence -> Int8,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Nullable<Timestamptz>,
        leased_until -> Nullable<Timestamptz>,
        lease -> Nullable<Uuid>,
        last_attempt_at -> Nullable<Timestamptz>,
        last_status -> Nullable<Int2>,
        last_duration_ms -> Nullable<Int4>,
        last_response -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Uuid,
        url -> Text,
        description -> Nullable<Text>,
        enabled_events -> Array<Text>,
        status -> Text,
        secret_version -> Int4,
        previous_secret_until -> Nullable<Timestamptz>,
        failing_since -> Nullable<Timestamptz>,
        disabled_reason -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int8,
    }
}

diesel::joinable!(order_events -> orders (order_id));
diesel::joinable!(order_events -> payments (payment_id));
diesel::joinable!(order_items -> orders (order_id));
diesel::joinable!(orders -> customers (customer_id));
diesel::joinable!(payments -> orders (order_id));
diesel::joinable!(webhook_deliveries -> order_events (event_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_keys,
    customers,
    idempotency_keys,
    order_events,
    order_items,
    orders,
    payments,
    processed_events,
    webhook_deliveries,
    webhook_endpoints,
);

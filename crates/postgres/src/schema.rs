// @generated automatically by Diesel CLI.

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        name -> Text,
        prefix -> Text,
        key_hash -> Bytea,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
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
    }
}

diesel::joinable!(order_items -> orders (order_id));
diesel::joinable!(orders -> customers (customer_id));

diesel::allow_tables_to_appear_in_same_query!(api_keys, customers, order_items, orders,);

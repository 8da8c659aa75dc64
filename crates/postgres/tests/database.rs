//! Start-up, TLS and query-cost behaviour of the PostgreSQL adapter.

use orderpay_domain::contract::{customer, order};
use orderpay_domain::customer::CustomerRepository;
use orderpay_domain::order::{OrderReference, OrderRepository};
use orderpay_postgres::testing::{TestDatabase, with_database_name};
use orderpay_postgres::{ConnectOptions, PgStore, PoolOptions, database};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_migration_run_applies_nothing() {
    let db = TestDatabase::new().await;
    let options = ConnectOptions::parse(db.url()).unwrap();
    let applied = database::migrate(&options).await.unwrap();
    assert!(applied.is_empty(), "applied again: {applied:?}");
    assert!(!database::create_if_missing(&options).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looking_up_an_order_by_reference_costs_two_queries() {
    let db = TestDatabase::new().await;
    let c = customer(1, 0);
    db.store.insert_or_get(&c).await.unwrap();
    let o = order(c.id, "K7M2-Q9XD", 1);
    OrderRepository::insert(&db.store, &o).await.unwrap();
    let reference = OrderReference::parse("k7m2 q9xd").unwrap();

    let before = db.store.queries_executed();
    let found = db.store.find_by_reference(&reference).await.unwrap();
    let cost = db.store.queries_executed() - before;

    assert_eq!(found, Some(o));
    assert!(cost <= 2, "find_by_reference ran {cost} queries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_with_sslmode_require() {
    let server = std::env::var("DATABASE_URL")
        .unwrap_or("postgres://postgres@localhost:5432/postgres".into());
    let separator = if server.contains('?') { '&' } else { '?' };
    let db = TestDatabase::with_server_url(&format!("{server}{separator}sslmode=require")).await;
    db.store
        .ping()
        .await
        .expect("a TLS connection with sslmode=require");
    assert!(db.url().contains("sslmode=require"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_fails_ping_without_panicking() {
    let url = with_database_name("postgres://postgres@127.0.0.1:1/postgres", "nothing");
    let options = ConnectOptions::parse(&url).unwrap();
    let pool = PoolOptions {
        connect_timeout: std::time::Duration::from_millis(500),
        acquire_timeout: std::time::Duration::from_millis(500),
        ..PoolOptions::default()
    };
    let store = PgStore::new(&options, pool).unwrap();
    assert!(store.ping().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_verify_full_refuses_the_local_self_signed_certificate() {
    let server = std::env::var("DATABASE_URL")
        .unwrap_or("postgres://postgres@localhost:5432/postgres".into());
    let separator = if server.contains('?') { '&' } else { '?' };
    let url = format!(
        "{}{separator}sslmode=verify-full",
        with_database_name(&server, "postgres")
    );
    let store = PgStore::new(
        &ConnectOptions::parse(&url).unwrap(),
        PoolOptions::default(),
    )
    .unwrap();
    // Debian's PostgreSQL serves a self-signed "snakeoil" certificate: checking it must fail,
    // while `sslmode=require` (tested above) connects.
    assert!(store.ping().await.is_err());
}

/// Reads trust what the schema guarantees: a row that today's input rules would refuse (a
/// number outside today's phone metadata, a name longer than today's limit, an item quantity
/// above today's maximum, a currency dropped from the table) still reads back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_that_todays_rules_refuse_still_read_back() {
    use diesel_async::RunQueryDsl;
    use orderpay_domain::customer::CustomerId;
    use orderpay_domain::order::OrderId;

    let db = TestDatabase::new().await;
    let customer_id = uuid::Uuid::now_v7();
    let order_id = uuid::Uuid::now_v7();
    let mut conn = db.connection().await;
    diesel::sql_query(format!(
        "INSERT INTO customers (id, phone, name, email, created_at, updated_at) \
         VALUES ('{customer_id}', '+19', '{}', 'not-an-email', now(), now())",
        "n".repeat(200)
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO orders (id, reference, customer_id, currency, total_amount, status, \
         metadata, created_at, updated_at) VALUES ('{order_id}', 'AAAABBBB', '{customer_id}', \
         'xyz', 5000000, 'pending_payment', '{{\"k\": \"v\"}}', now(), now())"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO order_items (order_id, position, name, quantity, unit_amount, amount) \
         VALUES ('{order_id}', 0, '  padded  ', 5000000, 1, 5000000)"
    ))
    .execute(&mut conn)
    .await
    .unwrap();

    let customer = CustomerRepository::find_by_id(&db.store, CustomerId::from_uuid(customer_id))
        .await
        .expect("the stored customer reads back")
        .unwrap();
    assert_eq!(customer.phone.as_str(), "+19");
    assert_eq!(customer.email.unwrap().as_str(), "not-an-email");
    let order = OrderRepository::find_by_id(&db.store, OrderId::from_uuid(order_id))
        .await
        .expect("the stored order reads back")
        .unwrap();
    assert_eq!(order.currency().code(), "xyz");
    assert_eq!(order.items()[0].quantity.get(), 5_000_000);
    assert_eq!(order.items()[0].name.as_str(), "  padded  ");
    let page = CustomerRepository::list(&db.store, orderpay_domain::PageRequest::default())
        .await
        .expect("the list reads back");
    assert_eq!(page.data.len(), 1);
}

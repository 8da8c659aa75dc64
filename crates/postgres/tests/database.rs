//! Start-up, TLS and query-cost behaviour of the PostgreSQL adapter.

use orderpay_domain::contract::{customer, order};
use orderpay_domain::customer::CustomerRepository;
use orderpay_domain::order::{OrderReference, OrderRepository};
use orderpay_domain::payment::PaymentRepository;
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
async fn creating_or_reading_an_order_or_a_page_costs_one_query() {
    let db = TestDatabase::new().await;
    let c = customer(1, 0);
    db.store.insert_or_get(&c).await.unwrap();
    let o = order(c.id, "K7M2-Q9XD", 1);
    let before = db.store.queries_executed();
    OrderRepository::insert(&db.store, &o, &orderpay_domain::contract::created(&o))
        .await
        .unwrap();
    assert_eq!(
        db.store.queries_executed() - before,
        1,
        "an order, its items and its history row: one statement"
    );
    let reference = OrderReference::parse("k7m2 q9xd").unwrap();

    let before = db.store.queries_executed();
    let found = db.store.find_by_reference(&reference).await.unwrap();
    let cost = db.store.queries_executed() - before;

    assert_eq!(found, Some(o.clone()));
    assert_eq!(cost, 1, "find_by_reference ran {cost} queries");

    let before = db.store.queries_executed();
    let found = OrderRepository::find_by_id(&db.store, o.id).await.unwrap();
    assert_eq!(found, Some(o.clone()));
    assert_eq!(db.store.queries_executed() - before, 1, "find_by_id");

    let before = db.store.queries_executed();
    let shown = db.store.order_with_latest_payment(o.id).await.unwrap();
    assert_eq!(shown, Some((o.clone(), None)));
    assert_eq!(
        db.store.queries_executed() - before,
        2,
        "an order and its latest payment: two statements, pipelined on one connection"
    );

    let before = db.store.queries_executed();
    let page = OrderRepository::list(
        &db.store,
        orderpay_domain::order::OrderFilter::default(),
        orderpay_domain::PageRequest::default(),
    )
    .await
    .unwrap();
    assert_eq!(page.data, vec![o.clone()]);
    assert_eq!(db.store.queries_executed() - before, 1, "a first page");

    let newer = order(c.id, "K7M2-Q9XE", 2);
    OrderRepository::insert(
        &db.store,
        &newer,
        &orderpay_domain::contract::created(&newer),
    )
    .await
    .unwrap();
    let before = db.store.queries_executed();
    let after_cursor = orderpay_domain::PageRequest {
        starting_after: Some(newer.id.as_uuid()),
        ..orderpay_domain::PageRequest::default()
    };
    let page = OrderRepository::list(
        &db.store,
        orderpay_domain::order::OrderFilter::default(),
        after_cursor,
    )
    .await
    .unwrap();
    assert_eq!(page.data, vec![o]);
    assert_eq!(
        db.store.queries_executed() - before,
        1,
        "a page after a cursor: the cursor's position is found by the page's statement"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_for_a_customer_by_phone_costs_one_query_found_or_made() {
    let db = TestDatabase::new().await;
    let newcomer = customer(2, 0);
    let first = order(newcomer.id, "K7M2-Q9X1", 1);
    let before = db.store.queries_executed();
    let used = db
        .store
        .insert_with_customer(
            &newcomer,
            &first,
            &orderpay_domain::contract::created(&first),
        )
        .await
        .unwrap();
    assert_eq!(used, newcomer.id);
    assert_eq!(db.store.queries_executed() - before, 1, "a new customer");

    let again = customer(2, 9);
    let second = order(again.id, "K7M2-Q9X2", 2);
    let before = db.store.queries_executed();
    let used = db
        .store
        .insert_with_customer(
            &again,
            &second,
            &orderpay_domain::contract::created(&second),
        )
        .await
        .unwrap();
    assert_eq!(used, newcomer.id, "the phone's customer, found");
    assert_eq!(db.store.queries_executed() - before, 1, "a known customer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applying_a_provider_event_costs_one_read_round_trip_and_one_write_statement() {
    use orderpay_domain::order::{OrderEvent, OrderEventType};
    use orderpay_domain::payment::{EventCommit, Payment, PaymentKey, PaymentProvider};
    let db = TestDatabase::new().await;
    let c = customer(3, 0);
    db.store.insert_or_get(&c).await.unwrap();
    let o = order(c.id, "K7M2-Q9X3", 1);
    OrderRepository::insert(&db.store, &o, &orderpay_domain::contract::created(&o))
        .await
        .unwrap();
    let (p, _) = db
        .store
        .open_or_get(&Payment::start(&o, PaymentProvider::Sandbox, o.created_at))
        .await
        .unwrap();

    let before = db.store.queries_executed();
    let subject = db
        .store
        .event_subject("evt_rt", &PaymentKey::Id(p.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        db.store.queries_executed() - before,
        2,
        "seen before? and payment + order + items: two statements pipelined, one round trip"
    );

    let mut paid = subject.order.clone();
    paid.transition(
        orderpay_domain::order::StatusEvent::PaymentSucceeded,
        o.created_at,
    )
    .unwrap();
    let commit = EventCommit {
        event_id: Some("evt_rt".into()),
        payment: Some(subject.payment.clone()),
        order: Some(paid),
        events: vec![OrderEvent::new(o.id, OrderEventType::Paid, o.created_at).for_payment(p.id)],
    };
    let before = db.store.queries_executed();
    db.store.commit(&commit).await.unwrap();
    assert_eq!(
        db.store.queries_executed() - before,
        1,
        "event id, payment, order and history: one statement"
    );
}

/// Each HTTP worker thread binds itself to a pool: its connections are opened, and so driven,
/// on its own runtime. Other threads use pool 0.
#[test]
fn a_thread_bound_to_a_pool_takes_its_connections_from_that_pool() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDatabase::new());
    let options = ConnectOptions::parse(db.url()).unwrap();
    let store = PgStore::new(
        &options,
        PoolOptions {
            max_size: 4,
            shards: 2,
            ..PoolOptions::default()
        },
    )
    .unwrap();
    let worker = store.clone();
    std::thread::spawn(move || {
        orderpay_postgres::bind_thread_to_pool(1);
        let local = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        local.block_on(worker.ping()).unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(store.open_connections(), vec![0, 1]);
    runtime.block_on(store.ping()).unwrap();
    assert_eq!(store.open_connections(), vec![1, 1]);
}

/// Many first orders for one new phone at once: every one is stored, all for one customer.
/// (A found-or-made CTE that only reads its snapshot would fail or lose orders here: the
/// winner's row is invisible to it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_orders_for_one_phone_share_one_customer() {
    let db = TestDatabase::new().await;
    for round in 0..5u16 {
        let tasks: Vec<_> = (0..8u16)
            .map(|i| {
                let store = db.store.clone();
                tokio::spawn(async move {
                    let c = customer(100 + round, i64::from(i));
                    let reference = format!("RACE-{round}{i:03}");
                    let o = order(c.id, &reference, i64::from(i));
                    let created = orderpay_domain::contract::created(&o);
                    store.insert_with_customer(&c, &o, &created).await
                })
            })
            .collect();
        let mut ids = std::collections::BTreeSet::new();
        for task in tasks {
            ids.insert(task.await.unwrap().expect("every order is stored"));
        }
        assert_eq!(ids.len(), 1, "round {round}: orders went to {ids:?}");
        let phone = customer(100 + round, 0).phone;
        let stored = db.store.find_by_phone(&phone).await.unwrap().unwrap();
        assert!(ids.contains(&stored.id));
    }
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

/// The test server's URL for database `postgres` on `host`, with `params` added.
fn server_url(host: &str, params: &str) -> String {
    let server = std::env::var("DATABASE_URL")
        .unwrap_or("postgres://postgres@localhost:5432/postgres".into());
    let url = with_database_name(&server, "postgres");
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let (user, host_port) = match authority.rsplit_once('@') {
        Some((user, hp)) => (format!("{user}@"), hp),
        None => (String::new(), authority),
    };
    let port = host_port.rsplit_once(':').map_or("5432", |(_, p)| p);
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{scheme}://{user}{host}:{port}/{path}{separator}{params}")
}

async fn ping(url: &str) -> Result<(), String> {
    let options = ConnectOptions::parse(url).map_err(|e| format!("{e:#}"))?;
    let store = PgStore::new(&options, PoolOptions::default()).unwrap();
    store.ping().await.map_err(|e| format!("{e:#}"))
}

/// The certificate file the test server presents (Debian's self-signed "snakeoil", for
/// `localhost`, by default).
async fn server_certificate() -> String {
    let (client, connection) = tokio_postgres::connect(
        &server_url("localhost", "sslmode=disable"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("PostgreSQL answers");
    tokio::spawn(connection);
    let row = client.query_one("SHOW ssl_cert_file", &[]).await.unwrap();
    let path: String = row.get(0);
    assert!(
        std::path::Path::new(&path).exists(),
        "the server's certificate {path} must be readable by the tests"
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_checks_the_chain_and_the_host_name() {
    let cert = server_certificate().await;
    // The server's own certificate as the root: the chain and the name `localhost` match.
    ping(&server_url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={cert}"),
    ))
    .await
    .expect("verify-full against the server's own certificate");
    // The same certificate, but the client asks for 127.0.0.1: not the name in it.
    let wrong_name = ping(&server_url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={cert}"),
    ))
    .await;
    assert!(
        wrong_name.is_err(),
        "verify-full accepted a certificate for another name"
    );
    // verify-ca checks the chain only, so the same connection succeeds.
    ping(&server_url(
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={cert}"),
    ))
    .await
    .expect("verify-ca ignores the name");
    // libpq: `require` with a root certificate verifies the chain as verify-ca does.
    ping(&server_url(
        "127.0.0.1",
        &format!("sslmode=require&sslrootcert={cert}"),
    ))
    .await
    .expect("require with sslrootcert");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_refuses_a_certificate_from_an_unknown_issuer() {
    // A real CA that did not sign the local server's certificate.
    let other_ca = std::fs::read_dir("/usr/share/ca-certificates/mozilla")
        .expect("Debian's ca-certificates")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "crt"))
        .expect("a CA certificate");
    let url = server_url(
        "localhost",
        &format!("sslmode=verify-ca&sslrootcert={}", other_ca.display()),
    );
    let refused = ping(&url).await;
    assert!(refused.is_err(), "an unknown issuer was accepted");
    // System roots with the wrong name fail whatever the system trusts.
    let refused = ping(&server_url("127.0.0.1", "sslmode=verify-full")).await;
    assert!(refused.is_err());
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
         metadata, created_at, updated_at, pay_token) VALUES ('{order_id}', 'AAAABBBB', \
         '{customer_id}', 'xyz', 5000000, 'pending_payment', '{{\"k\": \"v\"}}', now(), now(), \
         'token-of-an-older-shape')"
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

/// A known API key costs no query once verified: the service checks it in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_api_key_costs_no_query_the_second_time() {
    use orderpay_domain::api_key::ApiKeyService;
    let db = TestDatabase::new().await;
    let keys = ApiKeyService::new(
        std::sync::Arc::new(db.store.clone()),
        std::sync::Arc::new(orderpay_domain::SystemClock),
    );
    let token = keys.create("bot").await.unwrap().token;
    keys.authenticate(&token).await.unwrap();
    let before = db.store.queries_executed();
    keys.authenticate(&token).await.unwrap();
    assert_eq!(db.store.queries_executed() - before, 0);
    // An unknown key still asks the store, every time.
    let unknown = {
        // The same prefix, a different last character of the secret.
        let last = if token.ends_with('x') { 'y' } else { 'x' };
        format!("{}{last}", &token[..token.len() - 1])
    };
    assert!(keys.authenticate(&unknown).await.is_err());
    assert!(keys.authenticate(&unknown).await.is_err());
    assert_eq!(
        db.store.queries_executed() - before,
        0,
        "same prefix: from memory, refused"
    );
}

/// The hot statements are prepared once per connection and then only bound and executed: the
/// session holds each as one named prepared statement however often it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_statements_are_prepared_once_per_connection() {
    use diesel::QueryableByName;
    use diesel_async::RunQueryDsl;

    #[derive(QueryableByName)]
    struct Prepared {
        #[diesel(sql_type = diesel::sql_types::Text)]
        statement: String,
    }

    let db = TestDatabase::new().await;
    let store = db.single_connection_store();
    let c = customer(1, 0);
    store.insert_or_get(&c).await.unwrap();
    let mut references = Vec::new();
    for (i, reference) in ["AAAA-0001", "AAAA-0002", "AAAA-0003"].iter().enumerate() {
        let o = order(c.id, reference, i as i64);
        OrderRepository::insert(&store, &o, &orderpay_domain::contract::created(&o))
            .await
            .unwrap();
        references.push(o.reference);
    }
    for reference in &references {
        store.find_by_reference(reference).await.unwrap().unwrap();
    }
    // Pages after a cursor, twice.
    let newest = OrderRepository::list(
        &store,
        orderpay_domain::order::OrderFilter::default(),
        orderpay_domain::PageRequest::default(),
    )
    .await
    .unwrap()
    .data;
    for o in &newest[..2] {
        let page = orderpay_domain::PageRequest {
            starting_after: Some(o.id.as_uuid()),
            ..orderpay_domain::PageRequest::default()
        };
        let filter = orderpay_domain::order::OrderFilter::default();
        assert!(
            !OrderRepository::list(&store, filter, page)
                .await
                .unwrap()
                .data
                .is_empty()
        );
    }
    let mut conn = TestDatabase::connection_of(&store).await;
    let prepared: Vec<Prepared> = diesel::sql_query("SELECT statement FROM pg_prepared_statements")
        .load(&mut *conn)
        .await
        .unwrap();
    let count = |prefix: &str| {
        prepared
            .iter()
            .filter(|p| p.statement.starts_with(prefix))
            .count()
    };
    assert_eq!(count("WITH o AS (INSERT INTO orders"), 1, "the create");
    assert_eq!(
        prepared
            .iter()
            .filter(|p| p.statement.contains("WHERE \"orders\".\"reference\" = "))
            .count(),
        1,
        "the lookup"
    );
    assert_eq!(
        prepared
            .iter()
            .filter(|p| p.statement.contains("SELECT created_at, id FROM"))
            .count(),
        1,
        "a page after a cursor"
    );
}

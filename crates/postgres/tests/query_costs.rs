//! What the PostgreSQL adapter's hot calls cost: statements counted by the store's query
//! counter, statements prepared once per connection, a pool per worker thread, and the race
//! the one-statement create by phone must win. Counts, never times.

use orderpay_domain::contract::{customer, order};
use orderpay_domain::customer::CustomerRepository;
use orderpay_domain::order::Inserted;
use orderpay_domain::order::{OrderReference, OrderRepository};
use orderpay_domain::payment::PaymentRepository;
use orderpay_postgres::testing::TestDatabase;
use orderpay_postgres::{ConnectOptions, PgStore, PoolOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_or_reading_an_order_or_a_page_costs_one_query() {
    let db = TestDatabase::new().await;
    let c = customer(1, 0);
    db.store.insert_or_get(&c).await.unwrap();
    let o = order(c.id, "K7M2-Q9XD", 1);
    let before = db.store.queries_executed();
    OrderRepository::insert(&db.store, &o, &orderpay_domain::contract::created(&o), None)
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
    let found = OrderRepository::find_by_id(&db.store, o.id())
        .await
        .unwrap();
    assert_eq!(found, Some(o.clone()));
    assert_eq!(db.store.queries_executed() - before, 1, "find_by_id");

    let before = db.store.queries_executed();
    let shown = db.store.order_with_latest_payment(o.id()).await.unwrap();
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
        None,
    )
    .await
    .unwrap();
    let before = db.store.queries_executed();
    let after_cursor = orderpay_domain::PageRequest {
        starting_after: Some(newer.id().as_uuid()),
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
            None,
        )
        .await
        .unwrap();
    assert_eq!(used, Inserted::Stored(newcomer.id));
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
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        used,
        Inserted::Stored(newcomer.id),
        "the phone's customer, found"
    );
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
    OrderRepository::insert(&db.store, &o, &orderpay_domain::contract::created(&o), None)
        .await
        .unwrap();
    let (p, _) = db
        .store
        .open_or_get(&Payment::start(
            &o,
            PaymentProvider::Sandbox,
            o.created_at(),
        ))
        .await
        .unwrap();

    let before = db.store.queries_executed();
    let subject = db
        .store
        .event_subject("evt_rt", &PaymentKey::Id(p.id()))
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
        o.created_at(),
    )
    .unwrap();
    let commit = EventCommit {
        event_id: Some("evt_rt".into()),
        payment: Some(subject.payment.clone()),
        order: Some(paid),
        events: vec![
            OrderEvent::new(o.id(), OrderEventType::Paid, o.created_at()).for_payment(p.id()),
        ],
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
                    store.insert_with_customer(&c, &o, &created, None).await
                })
            })
            .collect();
        let mut ids = std::collections::BTreeSet::new();
        for task in tasks {
            match task.await.unwrap().expect("every order is stored") {
                Inserted::Stored(id) => ids.insert(id),
                taken => panic!("no key was given: {taken:?}"),
            };
        }
        assert_eq!(ids.len(), 1, "round {round}: orders went to {ids:?}");
        let phone = customer(100 + round, 0).phone;
        let stored = db.store.find_by_phone(&phone).await.unwrap().unwrap();
        assert!(ids.contains(&stored.id));
    }
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
        OrderRepository::insert(&store, &o, &orderpay_domain::contract::created(&o), None)
            .await
            .unwrap();
        references.push(o.reference());
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
            starting_after: Some(o.id().as_uuid()),
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

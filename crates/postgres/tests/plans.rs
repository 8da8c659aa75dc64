//! Plans that hold as tables grow: on a fresh database analyzed while its tables were empty,
//! the hot paths run many times over (each statement planned once per connection, generic),
//! and no table they read is scanned whole once per request.

use std::collections::BTreeMap;

use orderpay_domain::api_key::ApiKeyId;
use orderpay_domain::contract::idempotency::{key, keyed};
use orderpay_domain::contract::{created, customer, order};
use orderpay_domain::customer::CustomerRepository;
use orderpay_domain::order::{OrderReference, OrderRepository};
use orderpay_postgres::testing::TestDatabase;
use orderpay_postgres::{ConnectOptions, PgStore, PoolOptions};

/// Requests of each hot path.
const REQUESTS: usize = 200;

/// Read whole by design: a merchant's handful of webhook endpoints, every enabled one of
/// which each history write's fan-out reads.
const SMALL_BY_NATURE: &[&str] = &["webhook_endpoints"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_made_on_empty_tables_read_through_indexes_as_the_tables_grow() {
    let db = TestDatabase::new().await;
    let (stats, connection) = tokio_postgres::connect(db.url(), tokio_postgres::NoTls)
        .await
        .expect("a connection to read the statistics");
    tokio::spawn(connection);
    stats.batch_execute("ANALYZE").await.unwrap();
    let before = seq_scans(&stats).await;

    // A store of its own, closed at the end, so its sessions' statistics are flushed.
    let options = ConnectOptions::parse(db.url()).unwrap();
    let store = PgStore::new(&options, PoolOptions::default()).unwrap();
    let api = ApiKeyId::generate();
    let known = customer(1, 0);
    store.insert_or_get(&known).await.unwrap();
    for i in 0..REQUESTS {
        let n = u16::try_from(i).unwrap();
        // A new customer by phone and their order (the phone looked up first).
        let new = customer(1000 + n, 1);
        let first = order(new.id, &format!("PLA1-{i:04}"), 1);
        store
            .insert_with_customer(&new, &first, &created(&first), None)
            .await
            .unwrap();
        // An order for a known customer, plain and keyed.
        let plain = order(known.id, &format!("PLA2-{i:04}"), 2);
        store.insert(&plain, &created(&plain), None).await.unwrap();
        let with_key = order(known.id, &format!("PLA3-{i:04}"), 3);
        let answer = keyed(&key(api, &format!("k-{i}")), b"A", 3, "{}");
        store
            .insert(&with_key, &created(&with_key), Some(&answer))
            .await
            .unwrap();
        // The lookups a bot makes.
        assert!(store.find_by_phone(&new.phone).await.unwrap().is_some());
        let reference = OrderReference::parse(&format!("PLA2-{i:04}")).unwrap();
        assert!(store.find_by_reference(&reference).await.unwrap().is_some());
        let by_id = OrderRepository::find_by_id(&store, with_key.id()).await;
        assert!(by_id.unwrap().is_some());
    }
    drop(store);
    let after = settled_seq_scans(&stats).await;

    let mut scanned = BTreeMap::new();
    for (table, count) in &after {
        let grew = count - before.get(table).copied().unwrap_or(0);
        if grew * 10 >= i64::try_from(REQUESTS).unwrap() && !SMALL_BY_NATURE.contains(&&**table) {
            scanned.insert(table.clone(), grew);
        }
    }
    assert!(
        scanned.is_empty(),
        "tables read whole on (nearly) every request, after {REQUESTS} of each path: {scanned:?}"
    );
}

/// Sequential scans so far, by table.
async fn seq_scans(stats: &tokio_postgres::Client) -> BTreeMap<String, i64> {
    stats
        .query(
            "SELECT relname::text, seq_scan FROM pg_stat_user_tables",
            &[],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// [`seq_scans`] once every other session of the database has ended. A session flushes its
/// statistics as it exits, before it leaves `pg_stat_activity` (PostgreSQL runs the flush in
/// a `before_shmem_exit` hook, the activity slot's release in a later `on_shmem_exit` one), so
/// when none is listed, all of theirs are counted.
async fn settled_seq_scans(stats: &tokio_postgres::Client) -> BTreeMap<String, i64> {
    let others = "SELECT count(*) FROM pg_stat_activity \
                  WHERE datname = current_database() AND pid <> pg_backend_pid()";
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while stats.query_one(others, &[]).await.unwrap().get::<_, i64>(0) > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the store's sessions did not end within 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stats
        .batch_execute("SELECT pg_stat_clear_snapshot()")
        .await
        .unwrap();
    seq_scans(stats).await
}

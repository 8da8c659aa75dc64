//! Start-up, TLS and stored-data behaviour of the PostgreSQL adapter (query costs are in
//! `query_costs.rs`).

use orderpay_domain::customer::CustomerRepository;
use orderpay_domain::order::OrderRepository;
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

/// The quoted names in a constraint's or an index predicate's definition as PostgreSQL shows
/// it (`status = ANY (ARRAY['pending'::text, ...])`), sorted.
fn quoted_names(definition: &str) -> Vec<String> {
    let mut names: Vec<String> = definition
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

fn sorted(names: Vec<&str>) -> Vec<String> {
    let mut names: Vec<String> = names.into_iter().map(str::to_owned).collect();
    names.sort();
    names
}

/// The status sets written in the migrations' SQL (CHECK constraints, the one-open-payment
/// index) are the domain's, so adding a status to an enum cannot silently miss the schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schemas_status_sets_are_the_domains() {
    use diesel::sql_types::Text;
    use diesel_async::RunQueryDsl;
    use orderpay_domain::order::OrderStatus;
    use orderpay_domain::payment::PaymentStatus;

    #[derive(diesel::QueryableByName)]
    struct Definition {
        #[diesel(sql_type = Text)]
        definition: String,
    }
    let db = TestDatabase::new().await;
    let mut conn = db.connection().await;
    let mut definition = async |sql: &str| -> String {
        diesel::sql_query(sql)
            .get_result::<Definition>(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .definition
    };
    let check = "SELECT pg_get_constraintdef(c.oid) AS definition FROM pg_constraint c \
                 WHERE c.conrelid = '{table}'::regclass AND c.contype = 'c' \
                 AND pg_get_constraintdef(c.oid) LIKE '%status%'";

    let payments = definition(&check.replace("{table}", "payments")).await;
    assert_eq!(
        quoted_names(&payments),
        sorted(PaymentStatus::names(|_| true))
    );
    let orders = definition(&check.replace("{table}", "orders")).await;
    assert_eq!(
        quoted_names(&orders),
        sorted(OrderStatus::ALL.iter().map(|s| s.as_str()).collect())
    );
    let one_open = definition(
        "SELECT pg_get_expr(i.indpred, i.indrelid) AS definition FROM pg_index i \
         WHERE i.indexrelid = 'payments_one_open_per_order'::regclass",
    )
    .await;
    assert_eq!(
        quoted_names(&one_open),
        sorted(PaymentStatus::names(PaymentStatus::is_open))
    );
}

/// `schema.rs` (which diesel's query builder trusts, and which is kept by hand when the CLI
/// is not at hand) is the schema the migrations make: the same tables, columns and
/// nullability.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_rs_is_the_migrated_schema() {
    use std::collections::BTreeMap;

    use diesel::sql_types::{Bool, Text};
    use diesel_async::RunQueryDsl;

    let mut declared: BTreeMap<(String, String), bool> = BTreeMap::new();
    for block in include_str!("../src/schema.rs")
        .split("diesel::table! {")
        .skip(1)
    {
        let mut lines = block.lines().map(str::trim);
        let table = lines
            .find(|l| l.ends_with('{') && l.contains(" ("))
            .and_then(|l| l.split(' ').next())
            .expect("a table line")
            .to_owned();
        let mut sql_name = None;
        for line in lines.take_while(|l| *l != "}") {
            if let Some(name) = line.strip_prefix("#[sql_name = \"") {
                sql_name = name.split('"').next().map(str::to_owned);
            } else if let Some((column, sql_type)) = line.split_once(" -> ") {
                let column = sql_name.take().unwrap_or_else(|| column.to_owned());
                declared.insert((table.clone(), column), sql_type.starts_with("Nullable<"));
            }
        }
    }

    #[derive(diesel::QueryableByName)]
    struct Column {
        #[diesel(sql_type = Text)]
        table_name: String,
        #[diesel(sql_type = Text)]
        column_name: String,
        #[diesel(sql_type = Bool)]
        nullable: bool,
    }
    let db = TestDatabase::new().await;
    let mut conn = db.connection().await;
    let migrated: BTreeMap<(String, String), bool> = diesel::sql_query(
        "SELECT table_name::text, column_name::text, is_nullable = 'YES' AS nullable \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
    )
    .load::<Column>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|c| ((c.table_name, c.column_name), c.nullable))
    .collect();
    assert!(declared.len() > 50, "schema.rs read: {declared:?}");
    assert_eq!(declared, migrated);
}

//! A fresh, migrated database for one test, dropped when the test ends, so tests run in
//! parallel without seeing each other's rows and leave nothing behind.
//!
//! The server comes from `DATABASE_URL` (its database name is replaced), or
//! `postgres://postgres@localhost:5432/postgres`. When no server answers, the test fails
//! with a message saying so: it never passes by skipping.

use uuid::Uuid;

use crate::{ConnectOptions, PgStore, PoolOptions, database};

const DEFAULT_SERVER: &str = "postgres://postgres@localhost:5432/postgres";

pub struct TestDatabase {
    url: String,
    options: ConnectOptions,
    pub store: PgStore,
}

/// `url` with its database name replaced by `name`.
pub fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

impl TestDatabase {
    /// Creates and migrates `orderpay_test_<random>` on the test server.
    pub async fn new() -> Self {
        Self::with_server_url(&std::env::var("DATABASE_URL").unwrap_or(DEFAULT_SERVER.into())).await
    }

    /// The same, on the server `server_url` points at (its query, `sslmode` say, is kept).
    pub async fn with_server_url(server_url: &str) -> Self {
        let name = format!("orderpay_test_{}", Uuid::new_v4().simple());
        let url = with_database_name(server_url, &name);
        let options = ConnectOptions::parse(&url).expect("test database URL");
        if let Err(e) = database::create_if_missing(&options).await {
            panic!(
                "PostgreSQL is needed for this test and did not answer at {}: {e:#}\n\
                 Start it (see README: Testing) or set DATABASE_URL.",
                options.display()
            );
        }
        database::migrate(&options)
            .await
            .expect("migrating the test database");
        let store = PgStore::new(&options, PoolOptions::default()).expect("test pool");
        Self {
            url,
            options,
            store,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A store on this database whose pool holds one connection, so a test can look at that
    /// connection's session (its prepared statements, say) after the adapter used it.
    pub fn single_connection_store(&self) -> PgStore {
        let pool = PoolOptions {
            max_size: 1,
            ..PoolOptions::default()
        };
        PgStore::new(&self.options, pool).expect("a one-connection pool")
    }

    /// A pooled connection of `store`, for looking at its session.
    pub async fn connection_of(
        store: &PgStore,
    ) -> diesel_async::pooled_connection::deadpool::Object<diesel_async::AsyncPgConnection> {
        store.conn().await.expect("a connection")
    }

    /// A pooled connection of the test store, for tests that write rows behind the adapter's
    /// back (as a migration or an operator might).
    pub async fn connection(
        &self,
    ) -> diesel_async::pooled_connection::deadpool::Object<diesel_async::AsyncPgConnection> {
        self.store.conn().await.expect("a test database connection")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let options = self.options.clone();
        // Drop runs outside async context: give the cleanup its own small runtime.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(database::drop_database(&options))
        });
        if let Ok(Err(e)) = cleanup.join() {
            eprintln!("could not drop test database: {e:#}");
        }
    }
}

/// Creates the database `options` names with no tables at all, as an operator might before
/// orderpay first starts.
pub async fn create_empty_database(options: &ConnectOptions) {
    let name = options.database_name().to_owned();
    let admin = options.with_database("postgres");
    let (client, connection) = admin.connect_raw().await.expect("PostgreSQL answers");
    let driver = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("creating an empty database");
    drop(client);
    let _ = driver.await;
}

#[cfg(test)]
mod tests {
    use super::with_database_name;

    #[test]
    fn database_name_is_replaced_and_query_kept() {
        assert_eq!(
            with_database_name("postgres://u:p@h:5432/postgres?sslmode=require", "t1"),
            "postgres://u:p@h:5432/t1?sslmode=require"
        );
        assert_eq!(with_database_name("postgres://h", "t2"), "postgres://h/t2");
    }
}

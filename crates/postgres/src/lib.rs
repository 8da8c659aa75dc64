//! PostgreSQL adapter: the repositories orderpay's domain needs, on diesel-async with a
//! deadpool pool. Rows are translated to domain types here and never leave this crate.

#[macro_use]
mod pagination;

mod api_keys;
mod connect;
mod customers;
pub mod database;
mod errors;
mod orders;
mod schema;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel_async::AsyncPgConnection;
use diesel_async::RunQueryDsl;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use orderpay_domain::store::StoreError;

pub use connect::{ConnectOptions, PoolOptions};

/// The PostgreSQL store: one pool behind every repository.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool<AsyncPgConnection>,
    queries: Arc<AtomicU64>,
}

impl PgStore {
    /// A store over a new pool. Connections open lazily, so this succeeds with the database down.
    pub fn new(options: &ConnectOptions, pool: PoolOptions) -> anyhow::Result<Self> {
        let queries = Arc::new(AtomicU64::new(0));
        let pool = connect::build_pool(options, pool, queries.clone())?;
        Ok(Self { pool, queries })
    }

    /// How many queries this store's connections have started, in all.
    pub fn queries_executed(&self) -> u64 {
        AtomicU64::load(&self.queries, Ordering::Relaxed)
    }

    /// Whether the database answers a trivial query now.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(errors::store_error)
    }

    pub(crate) async fn conn(&self) -> Result<Object<AsyncPgConnection>, StoreError> {
        self.pool.get().await.map_err(errors::pool_error)
    }
}

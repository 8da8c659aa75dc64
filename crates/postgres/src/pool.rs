//! The connection pools: their settings and how one is built on [`ConnectOptions`].

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::Context;
use diesel::connection::CacheSize;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use futures_util::FutureExt;

use crate::connect::ConnectOptions;

/// Pool settings, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    /// The most connections open at once, all pools together.
    pub max_size: usize,
    /// How many pools the connections are shared out over: one per HTTP worker, or 1.
    pub shards: usize,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// How long opening one connection may take.
    pub connect_timeout: Duration,
    /// The server-side deadline of one statement (`statement_timeout`).
    pub statement_timeout: Duration,
    /// The client-side deadline of one store call, waiting for a connection included: past it
    /// the call fails as unavailable and its connection is closed, whatever the server does.
    pub query_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 10,
            shards: 1,
            acquire_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            query_timeout: Duration::from_secs(8),
        }
    }
}

pub(crate) fn build_pool(
    options: &ConnectOptions,
    pool: PoolOptions,
    counter: Arc<AtomicU64>,
) -> anyhow::Result<Pool<AsyncPgConnection>> {
    let connect = options
        .clone()
        .with_connect_timeout(pool.connect_timeout)
        .with_session_settings(pool.statement_timeout);
    let mut config = ManagerConfig::default();
    // The default checks every connection with a query on checkout; a broken connection is
    // already detected without one, and the round trip would double the cost of a lookup.
    config.recycling_method = RecyclingMethod::Fast;
    let pooler = options.behind_transaction_pooler();
    config.custom_setup = Box::new(move |_url| {
        let connect = connect.clone();
        let counter = counter.clone();
        async move {
            let mut conn = connect.connect(counter).await?;
            if pooler {
                // A statement prepared in one transaction may be gone in the next (another
                // server connection): prepare each anew, inside its transaction.
                conn.set_prepared_statement_cache_size(CacheSize::Disabled);
            }
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        options.display(),
        config,
    );
    Pool::builder(manager)
        .max_size(pool.max_size)
        .wait_timeout(Some(pool.acquire_timeout))
        .create_timeout(Some(pool.connect_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .context("building the connection pool")
}

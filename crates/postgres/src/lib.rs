//! PostgreSQL adapter: the repositories orderpay's domain needs, on diesel-async with a
//! deadpool pool. Rows are translated to domain types here and never leave this crate.

#[macro_use]
mod pagination;

mod api_keys;
mod connect;
mod customers;
pub mod database;
mod errors;
mod events;
mod idempotency;
mod leases;
mod orders;
mod payments;
mod pool;
mod schema;
mod statements;
#[cfg(feature = "testing")]
pub mod testing;
mod tls;
mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel_async::AsyncPgConnection;
use diesel_async::RunQueryDsl;
use diesel_async::pooled_connection::PoolableConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use orderpay_domain::store::StoreError;

pub use connect::ConnectOptions;
pub use pool::PoolOptions;

/// A store's pooled connections at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    pub open: usize,
    pub in_use: usize,
    pub waiting: usize,
}
pub use tls::TlsMode;
pub use webhooks::OutboxBacklog;

/// The PostgreSQL store: the pools behind every repository. One pool, or one per HTTP
/// worker (`PoolOptions::shards`): a connection's I/O is driven by a task on the runtime that
/// opened it, so a worker that only uses connections it opened never wakes another thread
/// to talk to PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pools: Arc<[Pool<AsyncPgConnection>]>,
    queries: Arc<AtomicU64>,
    query_timeout: Duration,
    /// Signalled after each write that may have made webhook deliveries (history rows, a
    /// retry): the sender in this process wakes at once.
    outbox: Arc<tokio::sync::Notify>,
    /// Behind a transaction-mode pooler (`pgbouncer=true`): the statement deadline each store
    /// call's transaction sets for itself.
    pooled: Option<Duration>,
    /// Connections straight to the server, for what holds a session (a lease's advisory
    /// lock): `DATABASE_DIRECT_URL`'s, when the main pool goes through a pooler.
    sessions: Option<Pool<AsyncPgConnection>>,
}

thread_local! {
    /// The pool this thread takes connections from (see `bind_thread_to_pool`).
    static POOL_SLOT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Makes the calling thread take its connections from pool `slot` (modulo the number of
/// pools) of every store. Each HTTP worker calls it once, on its own thread, as it starts;
/// other threads use pool 0.
pub fn bind_thread_to_pool(slot: usize) {
    POOL_SLOT.set(slot);
}

/// Names the future an async closure returns, so `with_conn` can require it to be `Send`
/// (the same device diesel-async uses for its transactions).
pub(crate) trait ConnWork<'c, T>:
    AsyncFnOnce(&'c mut AsyncPgConnection) -> Result<T, StoreError>
    + FnOnce(&'c mut AsyncPgConnection) -> <Self as ConnWork<'c, T>>::Fut
{
    type Fut: Future<Output = Result<T, StoreError>>;
}

impl<'c, F, T, Fut> ConnWork<'c, T> for F
where
    F: AsyncFnOnce(&'c mut AsyncPgConnection) -> Result<T, StoreError>
        + FnOnce(&'c mut AsyncPgConnection) -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    type Fut = Fut;
}

impl PgStore {
    /// A store over a new pool. Connections open lazily, so this succeeds with the database down.
    pub fn new(options: &ConnectOptions, pool: PoolOptions) -> anyhow::Result<Self> {
        let queries = Arc::new(AtomicU64::new(0));
        let query_timeout = pool.query_timeout;
        let shards = pool.shards.max(1);
        // The connections are shared out: `max_size` in all, at least one per pool.
        let each = PoolOptions {
            max_size: pool.max_size.div_ceil(shards).max(1),
            ..pool
        };
        let pools = (0..shards)
            .map(|_| pool::build_pool(options, each, queries.clone()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            pools: pools.into(),
            queries,
            query_timeout,
            outbox: Arc::new(tokio::sync::Notify::new()),
            pooled: options
                .behind_transaction_pooler()
                .then_some(pool.statement_timeout),
            sessions: None,
        })
    }

    /// The same store, its sessions (leases) on connections to `direct`, the server itself,
    /// rather than through the main URL's pooler: a few, opened as needed.
    ///
    /// # Errors
    /// When `direct` is itself a transaction pooler's URL.
    pub fn with_sessions_on(
        mut self,
        direct: &ConnectOptions,
        pool: PoolOptions,
    ) -> anyhow::Result<Self> {
        if direct.behind_transaction_pooler() {
            anyhow::bail!("DATABASE_DIRECT_URL must reach the server itself, not a pooler");
        }
        let few = PoolOptions {
            max_size: 4,
            shards: 1,
            ..pool
        };
        self.sessions = Some(pool::build_pool(direct, few, self.queries.clone())?);
        Ok(self)
    }

    /// What [`PgStore::outbox_signal`] of `other` is, this store's writes signal too (another
    /// pool of the same process).
    #[must_use]
    pub fn sharing_outbox_signal(mut self, other: &PgStore) -> Self {
        self.outbox = other.outbox.clone();
        self
    }

    /// Notified after each write that made webhook deliveries due (a permit is kept when
    /// nobody waits, so none is missed).
    pub fn outbox_signal(&self) -> Arc<tokio::sync::Notify> {
        self.outbox.clone()
    }

    /// A write committed that made deliveries (`made`, as its statement said) or that made
    /// one due (a retry asked for): the sender is woken only then.
    pub(crate) fn outbox_written(&self, made: bool) {
        if made {
            self.outbox.notify_one();
        }
    }

    /// Runs `work` on a pooled connection within the store's deadline, waiting for the
    /// connection included. Past the deadline the call is `Unavailable` and the connection is
    /// closed rather than pooled (its state is unknown). A failure that left the connection
    /// dead (the server restarted, a backend was terminated) is `Unavailable` too: worth a
    /// retry, never a 500.
    pub(crate) async fn with_conn<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: for<'c> ConnWork<'c, T, Fut: Send> + Send,
        T: Send,
    {
        let started = Instant::now();
        let timed_out = || {
            StoreError::Unavailable(anyhow::anyhow!(
                "the database did not answer within {:?}",
                self.query_timeout
            ))
        };
        let mut conn = self.conn_within(self.query_timeout).await?;
        let remaining = self.query_timeout.saturating_sub(started.elapsed());
        let outcome = tokio::time::timeout(remaining, async {
            match self.pooled {
                None => work(&mut conn).await,
                Some(deadline) => in_transaction(&mut conn, deadline, work).await,
            }
        })
        .await;
        match outcome {
            Ok(Err(StoreError::Unexpected(e))) if conn.is_broken() => {
                // Detached from the pool, the connection closes as it drops.
                drop(Object::take(conn));
                Err(StoreError::Unavailable(
                    e.context("the database connection was lost"),
                ))
            }
            Ok(result) => result,
            Err(_) => {
                // Detached from the pool, the connection closes as it drops.
                drop(Object::take(conn));
                Err(timed_out())
            }
        }
    }

    /// The main pools' connections now, all shards together: open, in use, and how many
    /// callers wait for one.
    pub fn pool_status(&self) -> PoolStatus {
        self.pools
            .iter()
            .map(Pool::status)
            .fold(PoolStatus::default(), |sum, s| PoolStatus {
                open: sum.open + s.size,
                in_use: sum.in_use + s.size.saturating_sub(s.available),
                waiting: sum.waiting + s.waiting,
            })
    }

    /// How many connections each pool holds now (open, idle or in use).
    pub fn open_connections(&self) -> Vec<usize> {
        self.pools.iter().map(|p| p.status().size).collect()
    }

    /// How many queries this store's connections have started, in all.
    pub fn queries_executed(&self) -> u64 {
        AtomicU64::load(&self.queries, Ordering::Relaxed)
    }

    /// Whether the database answers a trivial query now.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.with_conn(async |conn| {
            diesel::sql_query("SELECT 1")
                .execute(conn)
                .await
                .map(|_| ())
                .map_err(errors::store_error)
        })
        .await
    }

    /// A connection taken out of the pool for good (a lease's session lock lives and dies
    /// with it), within the store's deadline: a direct one when the store has them.
    pub(crate) async fn detached_conn(&self) -> Result<AsyncPgConnection, StoreError> {
        match (&self.sessions, self.pooled) {
            (Some(sessions), _) => {
                let conn = tokio::time::timeout(self.query_timeout, sessions.get())
                    .await
                    .map_err(|_| {
                        StoreError::Unavailable(anyhow::anyhow!(
                            "no direct database connection within {:?}",
                            self.query_timeout
                        ))
                    })?
                    .map_err(errors::pool_error)?;
                Ok(Object::take(conn))
            }
            // A pooler would hand the session's lock to whichever transaction came next.
            (None, Some(_)) => Err(StoreError::Unexpected(anyhow::anyhow!(
                "a lease needs a session, which a transaction pooler does not keep: set \
                 DATABASE_DIRECT_URL"
            ))),
            (None, None) => Ok(Object::take(self.conn_within(self.query_timeout).await?)),
        }
    }

    /// A pooled connection, waiting at most `deadline` for it.
    async fn conn_within(
        &self,
        deadline: Duration,
    ) -> Result<Object<AsyncPgConnection>, StoreError> {
        tokio::time::timeout(deadline, self.conn())
            .await
            .map_err(|_| {
                StoreError::Unavailable(anyhow::anyhow!(
                    "no database connection within {deadline:?}"
                ))
            })?
    }

    pub(crate) async fn conn(&self) -> Result<Object<AsyncPgConnection>, StoreError> {
        let slot = POOL_SLOT.get() % self.pools.len();
        self.pools[slot].get().await.map_err(errors::pool_error)
    }
}

/// Runs `work` in a transaction of its own, which first sets its statement deadline and the
/// session settings of a direct connection (`ConnectOptions::with_session_settings`): behind a
/// transaction-mode pooler, a transaction is what keeps one server connection, so each
/// statement is prepared and run on the same one, and no setting outlives it. One round trip
/// more each side of `work`.
async fn in_transaction<T, F>(
    conn: &mut AsyncPgConnection,
    deadline: Duration,
    work: F,
) -> Result<T, StoreError>
where
    F: for<'c> ConnWork<'c, T, Fut: Send> + Send,
    T: Send,
{
    use diesel_async::SimpleAsyncConnection;
    let ms = deadline.as_millis();
    conn.batch_execute(&format!(
        "BEGIN; SET LOCAL statement_timeout = {ms}; \
         SET LOCAL idle_in_transaction_session_timeout = {ms}; \
         SET LOCAL enable_seqscan = off; SET LOCAL jit = off"
    ))
    .await
    .map_err(errors::store_error)?;
    let done = work(conn).await;
    let end = if done.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = conn.batch_execute(end).await.map_err(errors::store_error);
    let value = done?;
    ended.map(|()| value)
}

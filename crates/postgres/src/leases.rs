//! `Leases` on PostgreSQL: session advisory locks.

use async_trait::async_trait;
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use orderpay_domain::payment::{Lease, Leases};
use orderpay_domain::store::StoreError;

use crate::PgStore;
use crate::errors::{is_lock_wait_over, store_error};

/// A lease held as a PostgreSQL session-level advisory lock on a connection of its own, taken
/// out of the pool: no transaction is open while it is held, and closing the connection (when
/// the lease drops, or the process dies) releases it.
struct AdvisoryLease {
    _conn: AsyncPgConnection,
}

impl Lease for AdvisoryLease {}

#[async_trait]
impl Leases for PgStore {
    async fn try_acquire(&self, job: &str) -> Result<Option<Box<dyn Lease>>, StoreError> {
        #[derive(QueryableByName)]
        struct Acquired {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            acquired: bool,
        }
        let mut conn = self.detached_conn().await?;
        let acquired: Acquired = diesel::sql_query(
            "SELECT pg_try_advisory_lock(hashtextextended('orderpay:' || $1, 0)) AS acquired",
        )
        .bind::<diesel::sql_types::Text, _>(job)
        .get_result(&mut conn)
        .await
        .map_err(store_error)?;
        Ok(acquired
            .acquired
            .then(|| Box::new(AdvisoryLease { _conn: conn }) as Box<dyn Lease>))
    }

    /// Waits in PostgreSQL (`lock_timeout` on a connection of the lease's own, whose statement
    /// deadline is lifted for the wait); `55P03` when the wait is over.
    async fn acquire(
        &self,
        job: &str,
        wait: std::time::Duration,
    ) -> Result<Option<Box<dyn Lease>>, StoreError> {
        let mut conn = self.detached_conn().await?;
        let ms = wait.as_millis().max(1);
        conn.batch_execute(&format!(
            "SET statement_timeout = {}; SET lock_timeout = {ms}",
            ms + 1000
        ))
        .await
        .map_err(store_error)?;
        let locked =
            diesel::sql_query("SELECT pg_advisory_lock(hashtextextended('orderpay:' || $1, 0))")
                .bind::<diesel::sql_types::Text, _>(job)
                .execute(&mut conn)
                .await;
        match locked {
            Ok(_) => Ok(Some(Box::new(AdvisoryLease { _conn: conn }))),
            Err(e) if is_lock_wait_over(&e) => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }
}

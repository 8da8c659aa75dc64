//! Waking senders: the outbox trigger NOTIFYs `orderpay_webhooks` when a commit made
//! deliveries; a connection of its own LISTENs and calls back on each notification.

use diesel_async::RunQueryDsl;
use futures_util::StreamExt;

use orderpay_domain::store::StoreError;

use crate::PgStore;
use crate::errors::store_error;

/// The channel the outbox trigger (and a retry) notifies.
pub const WAKE_CHANNEL: &str = "orderpay_webhooks";

impl PgStore {
    /// LISTENs on [`WAKE_CHANNEL`] on a connection of its own and calls `wake` for every
    /// notification, until the connection fails (then it returns the error; callers listen
    /// again after a pause, and poll meanwhile).
    pub async fn listen_for_deliveries(&self, wake: impl Fn()) -> Result<(), StoreError> {
        let mut conn = self.detached_conn().await?;
        diesel::sql_query(format!("LISTEN {WAKE_CHANNEL}"))
            .execute(&mut conn)
            .await
            .map_err(store_error)?;
        wake();
        let mut notifications = std::pin::pin!(conn.notifications_stream());
        while let Some(notification) = notifications.next().await {
            notification.map_err(store_error)?;
            wake();
        }
        Err(StoreError::Unavailable(anyhow::anyhow!(
            "the LISTEN connection closed"
        )))
    }
}

//! Webhooks out in PostgreSQL: endpoints, the event feed (the order history's rows, which
//! are the outbox: the statement that writes a row writes its snapshot and, by
//! [`DELIVERIES_OF_E`], its deliveries) and deliveries. Sending (`sending`) claims due
//! deliveries under a lease, never holding a transaction across the network. Each write that
//! may have made deliveries signals [`PgStore::outbox_signal`], which wakes this process's
//! sender.

mod feed;
mod retention;
mod rows;
mod sending;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use orderpay_domain::order::{OrderEventId, OrderEventType};
use orderpay_domain::pagination::{Page, PageRequest};
use orderpay_domain::store::StoreError;
use orderpay_domain::webhook::{
    Claim, Delivery, DeliveryId, DeliveryStatus, DueDelivery, EndpointHealth, Event,
    RecordedAttempt, WebhookEndpoint, WebhookEndpointId, WebhookRepository,
};

use crate::PgStore;
use crate::errors::store_error;
use crate::schema::{order_events, webhook_deliveries, webhook_endpoints};

use self::feed::{EventsQuery, FeedRow, NEWEST, event_of_feed_row, shape};
use self::rows::{DeliveryRow, EndpointRow, delivery_of};

/// A CTE that makes the deliveries of the history rows written by a CTE `e` (returning `id,
/// order_id, type, sequence`): one per enabled endpoint subscribed to the row's type. To
/// follow `e` in a `WITH`; the one statement of the subscription rule in SQL (the domain's is
/// `EventSelection::includes`).
pub(crate) const DELIVERIES_OF_E: &str = "d AS (INSERT INTO webhook_deliveries \
     (endpoint_id, event_id, order_id, event_sequence, next_attempt_at) \
     SELECT w.id, e.id, e.order_id, e.sequence, now() FROM e JOIN webhook_endpoints w \
     ON w.status = 'enabled' AND (e.type = ANY (w.enabled_events) \
     OR '*' = ANY (w.enabled_events)) RETURNING id)";

/// Whether the statement's [`DELIVERIES_OF_E`] made any delivery: a statement that writes
/// history says so, and only then is this process's sender woken.
pub(crate) const MADE_DELIVERIES: &str = "EXISTS (SELECT 1 FROM d)";

#[async_trait]
impl WebhookRepository for PgStore {
    async fn insert_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError> {
        let row = EndpointRow::from(endpoint);
        self.with_conn(async |conn| {
            diesel::insert_into(webhook_endpoints::table)
                .values(&row)
                .execute(conn)
                .await
                .map(|_| ())
                .map_err(store_error)
        })
        .await
    }

    async fn endpoint(&self, id: WebhookEndpointId) -> Result<Option<WebhookEndpoint>, StoreError> {
        self.with_conn(async |conn| {
            webhook_endpoints::table
                .find(id.as_uuid())
                .select(EndpointRow::as_select())
                .first(conn)
                .await
                .optional()
                .map_err(store_error)?
                .map(WebhookEndpoint::try_from)
                .transpose()
        })
        .await
    }

    async fn endpoints(&self, page: PageRequest) -> Result<Page<WebhookEndpoint>, StoreError> {
        self.with_conn(async |conn| {
            let rows: Vec<EndpointRow> = newest_first_page!(
                webhook_endpoints,
                webhook_endpoints::table.into_boxed(),
                page
            )
            .select(EndpointRow::as_select())
            .load(conn)
            .await
            .map_err(store_error)?;
            check_cursor!(webhook_endpoints, conn, page, rows.is_empty());
            let endpoints = rows
                .into_iter()
                .map(WebhookEndpoint::try_from)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Page::from_overfetch(endpoints, page.limit))
        })
        .await
    }

    async fn update_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<bool, StoreError> {
        let mut row = EndpointRow::from(endpoint);
        row.version = endpoint.version + 1;
        self.with_conn(async |conn| {
            let written = diesel::update(
                webhook_endpoints::table
                    .find(row.id)
                    .filter(webhook_endpoints::version.eq(endpoint.version)),
            )
            .set(&row)
            .execute(conn)
            .await
            .map_err(store_error)?;
            if written == 1 {
                return Ok(true);
            }
            let exists = diesel::select(diesel::dsl::exists(webhook_endpoints::table.find(row.id)))
                .get_result::<bool>(conn)
                .await
                .map_err(store_error)?;
            if exists {
                Err(StoreError::Conflict)
            } else {
                Ok(false)
            }
        })
        .await
    }

    async fn delete_endpoint(&self, id: WebhookEndpointId) -> Result<bool, StoreError> {
        self.with_conn(async |conn| {
            diesel::delete(webhook_endpoints::table.find(id.as_uuid()))
                .execute(conn)
                .await
                .map(|n| n == 1)
                .map_err(store_error)
        })
        .await
    }

    async fn event(&self, id: OrderEventId) -> Result<Option<Event>, StoreError> {
        let query = EventsQuery::<{ shape::ONE }> {
            key: id.as_uuid(),
            kind: "",
            limit: 1,
        };
        let rows: Vec<FeedRow> = self
            .with_conn(async |conn| query.load(conn).await.map_err(store_error))
            .await?;
        rows.into_iter().next().map(event_of_feed_row).transpose()
    }

    /// Newest first by id (a time-ordered UUIDv7: the `order_events_published` index serves
    /// it, and the `order_events_by_type` index a type's).
    async fn events(
        &self,
        kind: Option<OrderEventType>,
        page: PageRequest,
    ) -> Result<Page<Event>, StoreError> {
        let key = page.starting_after.unwrap_or(NEWEST);
        let limit = page.limit.get() as i64 + 1;
        let rows: Vec<FeedRow> = self
            .with_conn(async |conn| {
                let rows = match kind {
                    None => {
                        let q = EventsQuery::<{ shape::PAGE }> {
                            key,
                            kind: "",
                            limit,
                        };
                        q.load(conn).await
                    }
                    Some(OrderEventType::Created) => {
                        let q = EventsQuery::<{ shape::CREATED }> {
                            key,
                            kind: "",
                            limit,
                        };
                        q.load(conn).await
                    }
                    Some(other) => {
                        let kind = other.as_str();
                        let q = EventsQuery::<{ shape::OF_TYPE }> { key, kind, limit };
                        q.load(conn).await
                    }
                }
                .map_err(store_error)?;
                if let (true, Some(cursor)) = (rows.is_empty(), page.starting_after) {
                    let exists: bool = diesel::select(diesel::dsl::exists(
                        order_events::table
                            .find(cursor)
                            .filter(order_events::published),
                    ))
                    .get_result(conn)
                    .await
                    .map_err(store_error)?;
                    if !exists {
                        return Err(StoreError::MissingReference);
                    }
                }
                Ok(rows)
            })
            .await?;
        let events = rows
            .into_iter()
            .map(event_of_feed_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(events, page.limit))
    }

    async fn deliveries(
        &self,
        endpoint: WebhookEndpointId,
        page: PageRequest,
    ) -> Result<Page<Delivery>, StoreError> {
        self.with_conn(async |conn| {
            let query = webhook_deliveries::table
                .inner_join(order_events::table)
                .filter(webhook_deliveries::endpoint_id.eq(endpoint.as_uuid()))
                .into_boxed();
            let rows: Vec<(DeliveryRow, String)> =
                newest_first_page!(webhook_deliveries, query, page)
                    .select((DeliveryRow::as_select(), order_events::type_))
                    .load(conn)
                    .await
                    .map_err(store_error)?;
            check_cursor!(webhook_deliveries, conn, page, rows.is_empty());
            let deliveries = rows
                .into_iter()
                .map(delivery_of)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Page::from_overfetch(deliveries, page.limit))
        })
        .await
    }

    async fn retry_delivery(
        &self,
        endpoint: WebhookEndpointId,
        delivery: DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<Option<Delivery>, StoreError> {
        self.with_conn(async |conn| {
            let updated: Option<Uuid> = diesel::update(
                webhook_deliveries::table
                    .find(delivery.as_uuid())
                    .filter(webhook_deliveries::endpoint_id.eq(endpoint.as_uuid())),
            )
            .set((
                webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
                webhook_deliveries::next_attempt_at.eq(now),
            ))
            .returning(webhook_deliveries::id)
            .get_result(conn)
            .await
            .optional()
            .map_err(store_error)?;
            let Some(id) = updated else {
                return Ok(None);
            };
            let row: (DeliveryRow, String) = webhook_deliveries::table
                .inner_join(order_events::table)
                .filter(webhook_deliveries::id.eq(id))
                .select((DeliveryRow::as_select(), order_events::type_))
                .first(conn)
                .await
                .map_err(store_error)?;
            delivery_of(row).map(Some)
        })
        .await
        .inspect(|retried| self.outbox_written(retried.is_some()))
    }

    async fn purge_deliveries(
        &self,
        before: DateTime<Utc>,
        batch: usize,
    ) -> Result<usize, StoreError> {
        retention::purge_deliveries(self, before, batch).await
    }

    async fn retire_events(
        &self,
        before: DateTime<Utc>,
        batch: usize,
    ) -> Result<usize, StoreError> {
        retention::retire_events(self, before, batch).await
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        claim: &Claim,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        sending::claim_due(self, now, claim).await
    }

    async fn record_attempts(
        &self,
        attempts: &[RecordedAttempt],
        endpoints: &[(WebhookEndpointId, EndpointHealth)],
    ) -> Result<(), StoreError> {
        sending::record_attempts(self, attempts, endpoints).await
    }
}

/// The deliveries waiting to be sent: how many, and how long the oldest has waited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutboxBacklog {
    pub pending: i64,
    /// Seconds since the oldest pending delivery was made; 0 when none is pending.
    pub oldest_age_seconds: f64,
}

impl PgStore {
    /// The outbox's backlog now (for `/metrics`): one indexed count of the pending deliveries.
    ///
    /// # Errors
    /// When the database does not answer.
    pub async fn outbox_backlog(&self) -> Result<OutboxBacklog, StoreError> {
        #[derive(QueryableByName)]
        struct Backlog {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            pending: i64,
            #[diesel(sql_type = diesel::sql_types::Double)]
            oldest_age_seconds: f64,
        }
        let pending = DeliveryStatus::Pending.as_str();
        let row: Backlog = self
            .with_conn(async |conn| {
                diesel::sql_query(
                    "SELECT count(*) AS pending, \
                     coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 \
                     AS oldest_age_seconds FROM webhook_deliveries WHERE status = $1",
                )
                .bind::<diesel::sql_types::Text, _>(pending)
                .get_result(conn)
                .await
                .map_err(store_error)
            })
            .await?;
        Ok(OutboxBacklog {
            pending: row.pending,
            oldest_age_seconds: row.oldest_age_seconds,
        })
    }
}

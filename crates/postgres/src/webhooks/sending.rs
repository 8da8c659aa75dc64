//! Claiming due deliveries and recording attempts. A claim is a lease written in its own
//! short statement: the send happens outside any transaction, and a sender that dies
//! mid-send leaves a claim that lapses, so another sends the delivery again (receivers
//! dedupe by `webhook-id`). `FOR UPDATE SKIP LOCKED` keeps replicas' claims apart.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{
    BigInt, Bool, Int2, Int4, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use orderpay_domain::store::StoreError;
use orderpay_domain::webhook::{
    Attempt, DeliveryId, DueDelivery, EndpointHealth, Verdict, WebhookEndpoint,
};

use super::{EndpointRow, event_of};
use crate::PgStore;
use crate::errors::store_error;

/// Claims the due deliveries to enabled endpoints whose order has no earlier pending
/// delivery to the same endpoint (one order's events reach an endpoint in order), with the
/// endpoint and the event each needs.
const CLAIM: &str = "\
WITH claimed AS (
    UPDATE webhook_deliveries d
       SET leased_until = $1 + $2 * interval '1 millisecond', lease = $3, attempts = d.attempts + 1
     WHERE d.id IN (
        SELECT c.id FROM webhook_deliveries c
          JOIN webhook_endpoints w ON w.id = c.endpoint_id AND w.status = 'enabled'
         WHERE c.status = 'pending' AND c.next_attempt_at <= $1
           AND (c.leased_until IS NULL OR c.leased_until < $1)
           AND NOT EXISTS (
               SELECT 1 FROM webhook_deliveries b
                WHERE b.endpoint_id = c.endpoint_id AND b.order_id = c.order_id
                  AND b.status = 'pending' AND b.event_sequence < c.event_sequence)
         ORDER BY c.next_attempt_at, c.event_sequence
         LIMIT $4
           FOR UPDATE OF c SKIP LOCKED)
    RETURNING d.id, d.endpoint_id, d.event_id, d.attempts)
SELECT claimed.id AS delivery_id, claimed.attempts AS delivery_attempts,
       e.id AS event_id, e.type AS event_type, e.created_at AS event_created_at,
       orderpay_event_snapshot(e) AS snapshot, w.*
  FROM claimed
  JOIN webhook_endpoints w ON w.id = claimed.endpoint_id
  JOIN order_events e ON e.id = claimed.event_id";

#[derive(QueryableByName)]
struct ClaimRow {
    #[diesel(sql_type = SqlUuid)]
    delivery_id: Uuid,
    #[diesel(sql_type = Int4)]
    delivery_attempts: i32,
    #[diesel(sql_type = SqlUuid)]
    event_id: Uuid,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = Timestamptz)]
    event_created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    snapshot: Option<serde_json::Value>,
    #[diesel(embed)]
    endpoint: EndpointRow,
}

pub(super) async fn claim_due(
    store: &PgStore,
    now: DateTime<Utc>,
    limit: usize,
    lease: TimeDelta,
) -> Result<Vec<DueDelivery>, StoreError> {
    let token = Uuid::new_v4();
    let rows: Vec<ClaimRow> = store
        .with_conn(async |conn| {
            diesel::sql_query(CLAIM)
                .bind::<Timestamptz, _>(now)
                .bind::<BigInt, _>(lease.num_milliseconds())
                .bind::<SqlUuid, _>(token)
                .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
                .load(conn)
                .await
                .map_err(store_error)
        })
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok(DueDelivery {
                id: DeliveryId::from_uuid(row.delivery_id),
                lease: token,
                attempts: u32::try_from(row.delivery_attempts).unwrap_or(u32::MAX),
                endpoint: WebhookEndpoint::try_from(row.endpoint)?,
                event: event_of(
                    row.event_id,
                    &row.event_type,
                    row.event_created_at,
                    row.snapshot,
                )?,
            })
        })
        .collect()
}

/// The attempt on the delivery (under its claim) and its consequence for the endpoint, in
/// one statement.
const RECORD: &str = "\
WITH d AS (
    UPDATE webhook_deliveries
       SET status = $3, next_attempt_at = $4, leased_until = NULL, lease = NULL,
           last_attempt_at = $5, last_status = $6, last_duration_ms = $7,
           last_response = $8, last_error = $9
     WHERE id = $1 AND lease = $2
    RETURNING endpoint_id)
UPDATE webhook_endpoints
   SET failing_since = CASE WHEN $10 THEN NULL ELSE coalesce(failing_since, $11) END,
       status = CASE WHEN $12 THEN 'disabled' ELSE status END,
       disabled_reason = CASE WHEN $12 THEN $13 ELSE disabled_reason END
 WHERE id = (SELECT endpoint_id FROM d)";

pub(super) async fn record_attempt(
    store: &PgStore,
    due: &DueDelivery,
    attempted_at: DateTime<Utc>,
    attempt: &Attempt,
    verdict: &Verdict,
) -> Result<(), StoreError> {
    let (healthy, since, disable) = match &verdict.endpoint {
        EndpointHealth::Healthy => (true, None, None),
        EndpointHealth::FailingSince(since) => (false, Some(*since), None),
        EndpointHealth::Disable(reason) => (false, Some(attempted_at), Some(reason.clone())),
    };
    let duration_ms = i32::try_from(attempt.duration.num_milliseconds()).unwrap_or(i32::MAX);
    store
        .with_conn(async |conn| {
            diesel::sql_query(RECORD)
                .bind::<SqlUuid, _>(due.id.as_uuid())
                .bind::<SqlUuid, _>(due.lease)
                .bind::<Text, _>(verdict.status.as_str())
                .bind::<Nullable<Timestamptz>, _>(verdict.next_attempt_at)
                .bind::<Timestamptz, _>(attempted_at)
                .bind::<Nullable<Int2>, _>(attempt.status.and_then(|s| i16::try_from(s).ok()))
                .bind::<Int4, _>(duration_ms)
                .bind::<Text, _>(&attempt.response)
                .bind::<Nullable<Text>, _>(attempt.error.as_deref())
                .bind::<Bool, _>(healthy)
                .bind::<Nullable<Timestamptz>, _>(since)
                .bind::<Bool, _>(disable.is_some())
                .bind::<Nullable<Text>, _>(disable.as_deref())
                .execute(conn)
                .await
                .map(|_| ())
                .map_err(store_error)
        })
        .await
}

//! Claiming due deliveries and recording attempts. A claim is a lease written in its own
//! short statement: the send happens outside any transaction, and a sender that dies
//! mid-send leaves a claim that lapses, so another sends the delivery again (receivers
//! dedupe by `webhook-id`). `FOR UPDATE SKIP LOCKED` keeps replicas' claims apart.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{
    Array, BigInt, Bool, Int2, Int4, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use orderpay_domain::store::StoreError;
use orderpay_domain::webhook::{
    Claim, DeliveryId, DeliveryStatus, DueDelivery, EndpointHealth, EndpointStatus,
    RecordedAttempt, WebhookEndpoint, WebhookEndpointId,
};

use super::rows::{EndpointRow, event_of};
use crate::PgStore;
use crate::errors::store_error;

/// Claims the due deliveries to enabled endpoints whose order has no earlier pending
/// delivery to the same endpoint (one order's events reach an endpoint in order), at most
/// `$6` per endpoint and none of the endpoints in `$5`, earliest due first, with the endpoint
/// and the event each needs.
/// (The statuses are the domain's, written into the text once: literals keep the partial
/// indexes usable by every plan.)
static CLAIM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "\
WITH claimed AS (
    UPDATE webhook_deliveries d
       SET leased_until = $1 + $2 * interval '1 millisecond', lease = $3, attempts = d.attempts + 1
     WHERE d.id IN (
        SELECT c.id FROM webhook_endpoints w
         CROSS JOIN LATERAL (
            SELECT c.id, c.next_attempt_at, c.event_sequence FROM webhook_deliveries c
             WHERE c.endpoint_id = w.id AND c.status = '{pending}' AND c.next_attempt_at <= $1
               AND (c.leased_until IS NULL OR c.leased_until < $1)
               AND NOT EXISTS (
                   SELECT 1 FROM webhook_deliveries b
                    WHERE b.endpoint_id = c.endpoint_id AND b.order_id = c.order_id
                      AND b.status = '{pending}' AND b.event_sequence < c.event_sequence)
             ORDER BY c.next_attempt_at, c.event_sequence
             LIMIT $6
               FOR UPDATE OF c SKIP LOCKED) c
         WHERE w.status = '{enabled}' AND w.id <> ALL($5)
         ORDER BY c.next_attempt_at, c.event_sequence
         LIMIT $4)
    RETURNING d.id, d.endpoint_id, d.event_id, d.attempts)
SELECT claimed.id AS delivery_id, claimed.attempts AS delivery_attempts,
       e.id AS event_id, e.type AS event_type, e.created_at AS event_created_at,
       orderpay_event_snapshot(e) AS snapshot, w.*
  FROM claimed
  JOIN webhook_endpoints w ON w.id = claimed.endpoint_id
  JOIN order_events e ON e.id = claimed.event_id",
        enabled = EndpointStatus::Enabled.as_str(),
        pending = DeliveryStatus::Pending.as_str(),
    )
});

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
    claim: &Claim,
) -> Result<Vec<DueDelivery>, StoreError> {
    let token = Uuid::new_v4();
    let skip: Vec<Uuid> = claim.skip.iter().map(|id| id.as_uuid()).collect();
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let rows: Vec<ClaimRow> = store
        .with_conn(async |conn| {
            diesel::sql_query(CLAIM.as_str())
                .bind::<Timestamptz, _>(now)
                .bind::<BigInt, _>(claim.lease.num_milliseconds())
                .bind::<SqlUuid, _>(token)
                .bind::<BigInt, _>(count(claim.limit))
                .bind::<Array<SqlUuid>, _>(&skip)
                .bind::<BigInt, _>(count(claim.per_endpoint))
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

/// A group's attempts on their deliveries (each under its claim), and their consequences for
/// the endpoints, in one statement. An endpoint's row is written only when its health changes
/// (the domain's `EndpointHealth::apply_to`): a healthy endpoint's deliveries never queue on
/// its row's lock.
const RECORD: &str = "\
WITH r AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[],
                         $5::timestamptz[], $6::int2[], $7::int4[], $8::text[], $9::text[])
        AS r(id, lease, status, next_attempt_at, attempted_at, code, ms, response, error)),
d AS (
    UPDATE webhook_deliveries w
       SET status = r.status, next_attempt_at = r.next_attempt_at, leased_until = NULL,
           lease = NULL, last_attempt_at = r.attempted_at, last_status = r.code,
           last_duration_ms = r.ms, last_response = r.response, last_error = r.error
      FROM r
     WHERE w.id = r.id AND w.lease = r.lease
    RETURNING w.id)
UPDATE webhook_endpoints x
   SET version = x.version + 1,
       failing_since = CASE WHEN h.healthy THEN NULL ELSE coalesce(x.failing_since, h.since) END,
       status = CASE WHEN h.disable THEN 'disabled' ELSE x.status END,
       disabled_reason = CASE WHEN h.disable THEN h.reason ELSE x.disabled_reason END
  FROM unnest($10::uuid[], $11::bool[], $12::timestamptz[], $13::bool[], $14::text[])
        AS h(id, healthy, since, disable, reason)
 WHERE x.id = h.id
   AND CASE WHEN h.disable THEN x.status <> 'disabled'
            WHEN h.healthy THEN x.failing_since IS NOT NULL
            ELSE x.failing_since IS NULL END";

pub(super) async fn record_attempts(
    store: &PgStore,
    attempts: &[RecordedAttempt],
    endpoints: &[(WebhookEndpointId, EndpointHealth)],
) -> Result<(), StoreError> {
    let ids: Vec<Uuid> = attempts.iter().map(|a| a.delivery.as_uuid()).collect();
    let leases: Vec<Uuid> = attempts.iter().map(|a| a.lease).collect();
    let statuses: Vec<&str> = attempts.iter().map(|a| a.verdict.status.as_str()).collect();
    let next: Vec<Option<DateTime<Utc>>> =
        attempts.iter().map(|a| a.verdict.next_attempt_at).collect();
    let at: Vec<DateTime<Utc>> = attempts.iter().map(|a| a.attempted_at).collect();
    let codes: Vec<Option<i16>> = attempts
        .iter()
        .map(|a| a.attempt.status.and_then(|s| i16::try_from(s).ok()))
        .collect();
    let ms: Vec<i32> = attempts
        .iter()
        .map(|a| i32::try_from(a.attempt.duration.num_milliseconds()).unwrap_or(i32::MAX))
        .collect();
    // Text in PostgreSQL cannot hold NUL: whatever a receiver answered is stored.
    let without_nul = |s: &str| s.replace('\0', "\u{fffd}");
    let responses: Vec<String> = attempts
        .iter()
        .map(|a| without_nul(&a.attempt.response))
        .collect();
    let errors: Vec<Option<String>> = attempts
        .iter()
        .map(|a| a.attempt.error.as_deref().map(without_nul))
        .collect();
    let endpoint_ids: Vec<Uuid> = endpoints.iter().map(|(id, _)| id.as_uuid()).collect();
    let healthy: Vec<bool> = endpoints
        .iter()
        .map(|(_, h)| matches!(h, EndpointHealth::Healthy))
        .collect();
    let since: Vec<Option<DateTime<Utc>>> = endpoints
        .iter()
        .map(|(_, h)| match h {
            EndpointHealth::FailingSince(at) => Some(*at),
            _ => None,
        })
        .collect();
    let disable: Vec<bool> = endpoints
        .iter()
        .map(|(_, h)| matches!(h, EndpointHealth::Disable(_)))
        .collect();
    let reasons: Vec<Option<&str>> = endpoints
        .iter()
        .map(|(_, h)| match h {
            EndpointHealth::Disable(reason) => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    store
        .with_conn(async |conn| {
            diesel::sql_query(RECORD)
                .bind::<Array<SqlUuid>, _>(&ids)
                .bind::<Array<SqlUuid>, _>(&leases)
                .bind::<Array<Text>, _>(&statuses)
                .bind::<Array<Nullable<Timestamptz>>, _>(&next)
                .bind::<Array<Timestamptz>, _>(&at)
                .bind::<Array<Nullable<Int2>>, _>(&codes)
                .bind::<Array<Int4>, _>(&ms)
                .bind::<Array<Text>, _>(&responses)
                .bind::<Array<Nullable<Text>>, _>(&errors)
                .bind::<Array<SqlUuid>, _>(&endpoint_ids)
                .bind::<Array<Bool>, _>(&healthy)
                .bind::<Array<Nullable<Timestamptz>>, _>(&since)
                .bind::<Array<Bool>, _>(&disable)
                .bind::<Array<Nullable<Text>>, _>(&reasons)
                .execute(conn)
                .await
                .map(|_| ())
                .map_err(store_error)
        })
        .await
}

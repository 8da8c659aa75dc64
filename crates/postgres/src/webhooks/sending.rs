//! Claiming due deliveries and recording attempts. A claim is a lease written in its own
//! short statement: the send happens outside any transaction, and a sender that dies
//! mid-send leaves a claim that lapses, so another sends the delivery again (receivers
//! dedupe by `webhook-id`). `FOR UPDATE SKIP LOCKED` keeps replicas' claims apart.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use diesel::sql_types::{
    Array, BigInt, Bool, Int2, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use orderpay_domain::store::StoreError;
use orderpay_domain::webhook::{
    Claim, DeliveryId, DeliveryStatus, DueDelivery, EndpointHealth, EndpointStatus,
    RecordedAttempt, WebhookEndpoint, WebhookEndpointId,
};

use super::feed::{
    EVENT_COLUMNS, EVENT_JOINS, EVENT_ROW, EventSql, FeedRow, SqlOf, event_of_feed_row,
};
use super::rows::EndpointRow;
use crate::PgStore;
use crate::errors::store_error;

/// Claims the due deliveries to enabled endpoints whose order has no earlier pending
/// delivery to the same endpoint (one order's events reach an endpoint in order), at most
/// `per_endpoint` per endpoint and none of the endpoints in `skip`, earliest due first, with
/// the endpoint and the event each needs.
///
/// A query type of its own, so the connection prepares it once (diesel never caches
/// `sql_query`; planning it took 2 ms a claim). Each claimed delivery's event is read through
/// its primary key (`OFFSET 0` keeps that subquery per row): joined as a table, it was read
/// whole, since the planner cannot tell how few rows the `UPDATE` returns. "No earlier
/// pending delivery of the order" is asked as "the order's first pending one" (`min`, one
/// index probe on both keys): as `NOT EXISTS`, the generic plan probed by endpoint alone and
/// read every pending delivery of the endpoint for each candidate (50 ms a claim at 5,000).
/// (The statuses are the domain's, written into the text once: literals keep the partial
/// indexes usable by every plan.)
struct ClaimDue<'a> {
    now: DateTime<Utc>,
    lease_ms: i64,
    token: Uuid,
    limit: i64,
    skip: &'a [Uuid],
    per_endpoint: i64,
}

/// The text between [`ClaimDue`]'s parameters.
static CLAIM: LazyLock<[String; 7]> = LazyLock::new(|| {
    let (enabled, pending) = (
        EndpointStatus::Enabled.as_str(),
        DeliveryStatus::Pending.as_str(),
    );
    [
        "WITH claimed AS (UPDATE webhook_deliveries d SET leased_until = ".into(),
        " + ".into(),
        " * interval '1 millisecond', lease = ".into(),
        format!(
            ", attempts = d.attempts + 1 WHERE d.id IN (\
             SELECT c.id FROM webhook_endpoints w CROSS JOIN LATERAL (\
             SELECT c.id, c.next_attempt_at, c.event_sequence FROM webhook_deliveries c \
             WHERE c.endpoint_id = w.id AND c.status = '{pending}' AND c.next_attempt_at <= "
        ),
        " AND (c.leased_until IS NULL OR c.leased_until < ".into(),
        format!(
            ") AND c.event_sequence = (SELECT min(b.event_sequence) FROM webhook_deliveries b \
             WHERE b.endpoint_id = c.endpoint_id AND b.order_id = c.order_id \
             AND b.status = '{pending}') \
             ORDER BY c.next_attempt_at, c.event_sequence LIMIT "
        ),
        format!(" FOR UPDATE OF c SKIP LOCKED) c WHERE w.status = '{enabled}' AND w.id <> ALL("),
    ]
});

/// The end of [`ClaimDue`]'s text, after its global limit: each claimed delivery with its
/// endpoint and its event (read as the feed reads it).
static CLAIM_END: LazyLock<String> = LazyLock::new(|| {
    format!(
        ") RETURNING d.id, d.endpoint_id, d.event_id, d.attempts) \
         SELECT claimed.id, claimed.attempts, w.id, w.url, w.description, w.enabled_events, \
         w.status, w.secret_version, w.previous_secret_until, w.failing_since, \
         w.disabled_reason, w.created_at, w.updated_at, w.version, {columns} \
         FROM claimed JOIN webhook_endpoints w ON w.id = claimed.endpoint_id \
         CROSS JOIN LATERAL (SELECT {row} FROM order_events e \
         WHERE e.id = claimed.event_id OFFSET 0) e {joins}",
        columns = *EVENT_COLUMNS,
        row = EVENT_ROW,
        joins = EVENT_JOINS,
    )
});

impl diesel::query_builder::QueryId for ClaimDue<'_> {
    type QueryId = ClaimDue<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for ClaimDue<'_> {
    type SqlType = (SqlUuid, Int4, SqlOf<EndpointRow>, EventSql);
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for ClaimDue<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        let text = &*CLAIM;
        out.push_sql(&text[0]);
        out.push_bind_param::<Timestamptz, _>(&self.now)?;
        out.push_sql(&text[1]);
        out.push_bind_param::<BigInt, _>(&self.lease_ms)?;
        out.push_sql(&text[2]);
        out.push_bind_param::<SqlUuid, _>(&self.token)?;
        out.push_sql(&text[3]);
        out.push_bind_param::<Timestamptz, _>(&self.now)?;
        out.push_sql(&text[4]);
        out.push_bind_param::<Timestamptz, _>(&self.now)?;
        out.push_sql(&text[5]);
        out.push_bind_param::<BigInt, _>(&self.per_endpoint)?;
        out.push_sql(&text[6]);
        out.push_bind_param::<Array<SqlUuid>, _>(&self.skip)?;
        out.push_sql(") ORDER BY c.next_attempt_at, c.event_sequence LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(&CLAIM_END);
        Ok(())
    }
}

/// A claimed delivery: its id, its attempts counted, its endpoint and its event.
type ClaimRow = (Uuid, i32, EndpointRow, FeedRow);

pub(super) async fn claim_due(
    store: &PgStore,
    now: DateTime<Utc>,
    claim: &Claim,
) -> Result<Vec<DueDelivery>, StoreError> {
    let token = Uuid::new_v4();
    let skip: Vec<Uuid> = claim.skip.iter().map(|id| id.as_uuid()).collect();
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let statement = ClaimDue {
        now,
        lease_ms: claim.lease.num_milliseconds(),
        token,
        limit: count(claim.limit),
        skip: &skip,
        per_endpoint: count(claim.per_endpoint),
    };
    let rows: Vec<ClaimRow> = store
        .with_conn(async |conn| statement.load(conn).await.map_err(store_error))
        .await?;
    rows.into_iter()
        .map(|(id, attempts, endpoint, event)| {
            Ok(DueDelivery {
                id: DeliveryId::from_uuid(id),
                lease: token,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                endpoint: WebhookEndpoint::try_from(endpoint)?,
                event: event_of_feed_row(event)?,
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

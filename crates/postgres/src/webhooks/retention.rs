//! Retention: the oldest settled deliveries removed, and the oldest events retired from the
//! feed, a batch a statement. Each statement finds its batch through a partial index of the
//! rows still to handle (`webhook_deliveries_settled`, `order_events_published`), so it reads
//! only what it changes and holds its row locks for one short statement.

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use orderpay_domain::store::StoreError;
use orderpay_domain::webhook::DeliveryStatus;

use crate::PgStore;
use crate::errors::store_error;

/// Removes up to `$2` settled deliveries created before `$1`, oldest first. (The status is
/// the domain's, written into the text once: the literal lets the partial index serve.)
static PURGE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "DELETE FROM webhook_deliveries WHERE id IN (
            SELECT id FROM webhook_deliveries
             WHERE status <> '{pending}' AND created_at < $1
             ORDER BY created_at LIMIT $2
               FOR UPDATE SKIP LOCKED)",
        pending = DeliveryStatus::Pending.as_str()
    )
});

/// Retires up to `$2` events made before the id `$1` from the feed, oldest first:
/// unpublished, their snapshots dropped; not one a pending delivery still needs. Event ids
/// are time-ordered (UUIDv7), so "made before a moment" is "an id below the first id of that
/// moment", a range the index stops at.
static RETIRE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "UPDATE order_events SET published = false, order_state = NULL, payment_state = NULL
          WHERE id IN (
            SELECT e.id FROM order_events e
             WHERE e.published AND e.id < $1
               AND NOT EXISTS (
                   SELECT 1 FROM webhook_deliveries d
                    WHERE d.event_id = e.id AND d.status = '{pending}')
             ORDER BY e.id LIMIT $2
               FOR UPDATE SKIP LOCKED)",
        pending = DeliveryStatus::Pending.as_str()
    )
});

/// The smallest UUIDv7 of the millisecond `at`: every id made earlier is below it.
fn first_id_at(at: DateTime<Utc>) -> Uuid {
    let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    bytes[6] = 0x70; // version 7
    bytes[8] = 0x80; // RFC 9562 variant
    Uuid::from_bytes(bytes)
}

fn batch_count(batch: usize) -> i64 {
    i64::try_from(batch).unwrap_or(i64::MAX)
}

pub(super) async fn purge_deliveries(
    store: &PgStore,
    before: DateTime<Utc>,
    batch: usize,
) -> Result<usize, StoreError> {
    let batch = batch_count(batch);
    store
        .with_conn(async |conn| {
            diesel::sql_query(PURGE.as_str())
                .bind::<Timestamptz, _>(before)
                .bind::<BigInt, _>(batch)
                .execute(conn)
                .await
                .map_err(store_error)
        })
        .await
}

pub(super) async fn retire_events(
    store: &PgStore,
    before: DateTime<Utc>,
    batch: usize,
) -> Result<usize, StoreError> {
    let (below, batch) = (first_id_at(before), batch_count(batch));
    store
        .with_conn(async |conn| {
            diesel::sql_query(RETIRE.as_str())
                .bind::<SqlUuid, _>(below)
                .bind::<BigInt, _>(batch)
                .execute(conn)
                .await
                .map_err(store_error)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_id_of_a_moment_is_above_every_earlier_id_and_below_later_ones() {
        let at = DateTime::parse_from_rfc3339("2026-12-03T10:00:00.500Z")
            .unwrap()
            .with_timezone(&Utc);
        let ms = |m: i64| {
            let t = at + chrono::TimeDelta::milliseconds(m);
            let secs = u64::try_from(t.timestamp()).unwrap();
            let nanos = t.timestamp_subsec_nanos();
            Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, secs, nanos))
        };
        let first = first_id_at(at);
        assert!(ms(-1) < first, "a millisecond earlier is below");
        assert!(ms(0) >= first, "the same millisecond is not below");
        assert!(ms(1) > first);
        assert_eq!(first.get_version_num(), 7);
    }
}

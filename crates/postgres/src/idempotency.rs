//! `IdempotencyStore` on PostgreSQL: a claim is one statement (insert, or take over an expired
//! or abandoned key, and read what is there), so an idempotent request costs one round trip
//! more than the same request without a key; its answer is written by the statement that does
//! the work where that is one statement (an order), else by `complete`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Bytea, Nullable, SmallInt, Text, Timestamptz};
use diesel_async::RunQueryDsl;

use orderpay_domain::idempotency::{
    CLAIM_LEASE, Claim, Completion, IdempotencyKey, IdempotencyStore, StoredResponse,
};
use orderpay_domain::store::StoreError;

use crate::PgStore;
use crate::errors::store_error;
use crate::schema::idempotency_keys;

/// What a claim found. `fingerprint` is `None` when another claim of the key committed while
/// this one ran (this statement's snapshot predates it): that request is running.
#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = Bool)]
    claimed: bool,
    #[diesel(sql_type = Nullable<Bytea>)]
    fingerprint: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    response_status: Option<i16>,
    #[diesel(sql_type = Nullable<Text>)]
    response_type: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    response_body: Option<String>,
}

const CLAIM: &str = "\
WITH claimed AS (
    INSERT INTO idempotency_keys AS k (api_key_id, key, fingerprint, created_at)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (api_key_id, key) DO UPDATE
        SET fingerprint = EXCLUDED.fingerprint, created_at = EXCLUDED.created_at,
            response_status = NULL, response_type = NULL, response_body = NULL
        WHERE k.created_at < $5
           OR (k.response_status IS NULL AND k.created_at < $6
               AND k.fingerprint = EXCLUDED.fingerprint)
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM claimed) AS claimed, k.fingerprint, k.response_status,
       k.response_type, k.response_body
FROM (SELECT 1) AS one
LEFT JOIN idempotency_keys k ON k.api_key_id = $1 AND k.key = $2";

#[async_trait]
impl IdempotencyStore for PgStore {
    async fn claim(
        &self,
        key: &IdempotencyKey,
        fingerprint: &[u8],
        now: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let found: Claimed = self
            .with_conn(async |conn| {
                diesel::sql_query(CLAIM)
                    .bind::<diesel::sql_types::Uuid, _>(key.api_key().as_uuid())
                    .bind::<Text, _>(key.as_str())
                    .bind::<Bytea, _>(fingerprint)
                    .bind::<Timestamptz, _>(now)
                    .bind::<Timestamptz, _>(expired_before)
                    .bind::<Timestamptz, _>(now - CLAIM_LEASE)
                    .get_result(conn)
                    .await
                    .map_err(store_error)
            })
            .await?;
        Ok(match found {
            Claimed { claimed: true, .. } => Claim::Started,
            Claimed {
                fingerprint: None, ..
            } => Claim::InUse,
            Claimed {
                fingerprint: Some(stored),
                ..
            } if stored != fingerprint => Claim::Reused,
            Claimed {
                response_status: Some(status),
                response_type,
                response_body: Some(body),
                ..
            } => Claim::Replay(StoredResponse {
                status: u16::try_from(status).unwrap_or(500),
                content_type: response_type.unwrap_or_else(|| "application/json".into()),
                body,
            }),
            _ => Claim::InUse,
        })
    }

    async fn complete(&self, completion: &Completion) -> Result<(), StoreError> {
        let key = &completion.key;
        let response = &completion.response;
        self.with_conn(async |conn| {
            diesel::update(
                idempotency_keys::table
                    .filter(idempotency_keys::api_key_id.eq(key.api_key().as_uuid()))
                    .filter(idempotency_keys::key.eq(key.as_str()))
                    .filter(idempotency_keys::response_status.is_null()),
            )
            .set((
                idempotency_keys::response_status
                    .eq(i16::try_from(response.status).unwrap_or(i16::MAX)),
                idempotency_keys::response_type.eq(&response.content_type),
                idempotency_keys::response_body.eq(&response.body),
            ))
            .execute(conn)
            .await
            .map(|_| ())
            .map_err(store_error)
        })
        .await
    }

    async fn release(&self, key: &IdempotencyKey) -> Result<(), StoreError> {
        self.with_conn(async |conn| {
            diesel::delete(
                idempotency_keys::table
                    .filter(idempotency_keys::api_key_id.eq(key.api_key().as_uuid()))
                    .filter(idempotency_keys::key.eq(key.as_str()))
                    .filter(idempotency_keys::response_status.is_null()),
            )
            .execute(conn)
            .await
            .map(|_| ())
            .map_err(store_error)
        })
        .await
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.with_conn(async |conn| {
            diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(before)))
                .execute(conn)
                .await
                .map(|n| u64::try_from(n).unwrap_or(0))
                .map_err(store_error)
        })
        .await
    }
}

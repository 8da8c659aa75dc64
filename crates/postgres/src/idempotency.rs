//! `IdempotencyStore` on PostgreSQL: a claim is one statement (insert, or take over an expired
//! or abandoned key, and read what is there), so an idempotent request costs one round trip
//! more than the same request without a key; its answer is written by the statement that does
//! the work where that is one statement (an order), else by `complete`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::QueryResult;
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

/// What a claim found: claimed, then the key's fingerprint and answer as they were. The
/// fingerprint is `None` when another claim of the key committed while this one ran (this
/// statement's snapshot predates it): that request is running.
type Claimed = (
    bool,
    Option<Vec<u8>>,
    Option<i16>,
    Option<String>,
    Option<String>,
);

/// The claim, one statement: insert the key, or take over an expired or abandoned one, and
/// read what is there. Its commit is asynchronous (`synchronous_commit = off`, for this
/// statement's transaction only): losing a claim in a crash is harmless, because whatever
/// work it guards commits synchronously after it, which makes the claim durable too; so an
/// idempotent request waits for one WAL flush, as the same request without a key does. A
/// query type of its own so that each connection prepares it once.
#[derive(diesel::query_builder::QueryId)]
struct ClaimStatement {
    api_key_id: uuid::Uuid,
    key: String,
    fingerprint: Vec<u8>,
    now: DateTime<Utc>,
    expired_before: DateTime<Utc>,
    abandoned_before: DateTime<Utc>,
}

impl diesel::query_builder::Query for ClaimStatement {
    type SqlType = (
        Bool,
        Nullable<Bytea>,
        Nullable<SmallInt>,
        Nullable<Text>,
        Nullable<Text>,
    );
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for ClaimStatement {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql(
            "WITH async AS (SELECT set_config('synchronous_commit', 'off', true)), \
             claimed AS (INSERT INTO idempotency_keys AS k \
             (api_key_id, key, fingerprint, created_at) VALUES (",
        );
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&self.api_key_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.key)?;
        out.push_sql(", ");
        out.push_bind_param::<Bytea, _>(&self.fingerprint)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&self.now)?;
        out.push_sql(
            ") ON CONFLICT (api_key_id, key) DO UPDATE \
             SET fingerprint = EXCLUDED.fingerprint, created_at = EXCLUDED.created_at, \
             response_status = NULL, response_type = NULL, response_body = NULL \
             WHERE k.created_at < ",
        );
        out.push_bind_param::<Timestamptz, _>(&self.expired_before)?;
        out.push_sql(" OR (k.response_status IS NULL AND k.created_at < ");
        out.push_bind_param::<Timestamptz, _>(&self.abandoned_before)?;
        out.push_sql(
            " AND k.fingerprint = EXCLUDED.fingerprint) RETURNING 1) \
             SELECT EXISTS (SELECT 1 FROM claimed) AS claimed, k.fingerprint, \
             k.response_status, k.response_type, k.response_body \
             FROM async LEFT JOIN idempotency_keys k ON k.api_key_id = ",
        );
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&self.api_key_id)?;
        out.push_sql(" AND k.key = ");
        out.push_bind_param::<Text, _>(&self.key)?;
        Ok(())
    }
}

/// What a key found taken holds for a request with `fingerprint`, from its columns as read
/// (all `NULL` when the claim that took it is not visible yet).
pub(crate) fn taken(
    stored: Option<Vec<u8>>,
    status: Option<i16>,
    content_type: Option<String>,
    body: Option<String>,
    fingerprint: &[u8],
) -> Claim {
    let response = status.zip(body).map(|(status, body)| StoredResponse {
        status: u16::try_from(status).unwrap_or(500),
        content_type: content_type.unwrap_or_else(|| "application/json".into()),
        body,
    });
    Claim::of_taken(stored.as_deref().map(|f| (f, response)), fingerprint)
}

#[async_trait]
impl IdempotencyStore for PgStore {
    async fn claim(
        &self,
        key: &IdempotencyKey,
        fingerprint: &[u8],
        now: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let statement = ClaimStatement {
            api_key_id: key.api_key().as_uuid(),
            key: key.as_str().to_owned(),
            fingerprint: fingerprint.to_vec(),
            now,
            expired_before,
            abandoned_before: now - CLAIM_LEASE,
        };
        let found: Claimed = self
            .with_conn(async |conn| statement.get_result(conn).await.map_err(store_error))
            .await?;
        let (claimed, stored, status, content_type, body) = found;
        Ok(if claimed {
            Claim::Started
        } else {
            taken(stored, status, content_type, body, fingerprint)
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

/// This module's hand-built statement, for [`crate::statements`].
#[cfg(test)]
pub(crate) async fn plan_statements(planned: &mut crate::statements::Planned<'_>) {
    let now = orderpay_domain::contract::at(0);
    let statement = ClaimStatement {
        api_key_id: uuid::Uuid::now_v7(),
        key: "plan".into(),
        fingerprint: vec![1],
        now,
        expired_before: now,
        abandoned_before: now,
    };
    planned.plan("ClaimStatement", &statement).await;
}

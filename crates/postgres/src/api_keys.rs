//! `ApiKeyRepository` on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use std::collections::BTreeSet;

use orderpay_domain::api_key::{ApiKey, ApiKeyId, ApiKeyRepository, KeyHash, Scope};
use orderpay_domain::store::StoreError;

use crate::PgStore;
use crate::errors::{corrupt, store_error};
use crate::schema::api_keys;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
struct ApiKeyRow {
    id: Uuid,
    name: String,
    prefix: String,
    key_hash: Vec<u8>,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    scopes: Option<Vec<String>>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;

    fn try_from(row: ApiKeyRow) -> Result<Self, StoreError> {
        let scopes = row
            .scopes
            .map(|names| {
                names
                    .iter()
                    .map(|name| Scope::parse(name))
                    .collect::<Result<BTreeSet<Scope>, _>>()
            })
            .transpose()
            .map_err(|e| corrupt("API key scopes", e))?;
        Ok(ApiKey {
            scopes,
            id: ApiKeyId::from_uuid(row.id),
            name: row.name,
            prefix: row.prefix,
            hash: KeyHash::from_bytes(&row.key_hash).map_err(|e| corrupt("API key hash", e))?,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        })
    }
}

#[async_trait]
impl ApiKeyRepository for PgStore {
    async fn insert(&self, key: &ApiKey) -> Result<(), StoreError> {
        let row = ApiKeyRow {
            id: key.id.as_uuid(),
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            key_hash: key.hash.as_bytes().to_vec(),
            created_at: key.created_at,
            revoked_at: key.revoked_at,
            scopes: key
                .scopes
                .as_ref()
                .map(|s| s.iter().map(|scope| scope.as_str().to_owned()).collect()),
        };
        self.with_conn(async |conn| {
            diesel::insert_into(api_keys::table)
                .values(row)
                .execute(conn)
                .await
                .map_err(store_error)?;
            Ok(())
        })
        .await
    }

    async fn find_by_prefix(&self, prefix: &str) -> Result<Option<ApiKey>, StoreError> {
        self.with_conn(async |conn| {
            api_keys::table
                .filter(api_keys::prefix.eq(prefix))
                .select(ApiKeyRow::as_select())
                .first(conn)
                .await
                .optional()
                .map_err(store_error)?
                .map(ApiKey::try_from)
                .transpose()
        })
        .await
    }

    async fn list(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.with_conn(async |conn| {
            api_keys::table
                .order((api_keys::created_at.asc(), api_keys::id.asc()))
                .select(ApiKeyRow::as_select())
                .load(conn)
                .await
                .map_err(store_error)?
                .into_iter()
                .map(ApiKey::try_from)
                .collect()
        })
        .await
    }

    async fn revoke(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.with_conn(async |conn| {
            let revoked = diesel::update(
                api_keys::table
                    .find(id.as_uuid())
                    .filter(api_keys::revoked_at.is_null()),
            )
            .set(api_keys::revoked_at.eq(at))
            .execute(conn)
            .await
            .map_err(store_error)?;
            if revoked == 0 {
                // Already revoked (keep the first time), or no such key.
                let exists: i64 = api_keys::table
                    .find(id.as_uuid())
                    .count()
                    .get_result(conn)
                    .await
                    .map_err(store_error)?;
                if exists == 0 {
                    return Err(StoreError::MissingReference);
                }
            }
            Ok(())
        })
        .await
    }
}

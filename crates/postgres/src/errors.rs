//! Translating diesel and pool errors into the domain's `StoreError`.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use orderpay_domain::store::{StoreError, UniqueKey};

pub(crate) fn store_error(e: DieselError) -> StoreError {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            StoreError::Duplicate(match info.constraint_name() {
                Some("customers_phone_key") => UniqueKey::CustomerPhone,
                Some("orders_reference_key") => UniqueKey::OrderReference,
                Some("api_keys_prefix_key") => UniqueKey::ApiKeyPrefix,
                _ => UniqueKey::Other,
            })
        }
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            StoreError::MissingReference
        }
        other => StoreError::Unexpected(anyhow::Error::new(other).context("database query failed")),
    }
}

pub(crate) fn pool_error(e: diesel_async::pooled_connection::deadpool::PoolError) -> StoreError {
    StoreError::Unavailable(anyhow::Error::new(e).context("no database connection available"))
}

/// A row the database holds that the domain refuses: the database was changed behind our back.
pub(crate) fn corrupt(what: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!("stored {what} is invalid: {why}"))
}

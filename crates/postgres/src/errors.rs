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
                Some("processed_events_pkey") => UniqueKey::ProcessedEvent,
                Some("payments_one_open_per_order") => UniqueKey::OpenPayment,
                _ => UniqueKey::Other,
            })
        }
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            StoreError::MissingReference
        }
        // No SQLSTATE: the command never reached the server, or its answer never came back.
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            info,
        ) => StoreError::Unavailable(anyhow::anyhow!(
            "the database connection failed: {}",
            info.message()
        )),
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
            if is_outage(info.message()) =>
        {
            StoreError::Unavailable(anyhow::anyhow!(
                "the database is unavailable: {}",
                info.message()
            ))
        }
        other => StoreError::Unexpected(anyhow::Error::new(other).context("database query failed")),
    }
}

/// The server's own words for the outage-class errors diesel does not classify: SQLSTATE
/// 57P01-57P03 (a backend terminated, the server shutting down or starting up) and 57014 from
/// `statement_timeout`. diesel keeps only the message, not the SQLSTATE; a connection that died
/// is also caught by `PgStore::with_conn`, whatever the message says.
fn is_outage(message: &str) -> bool {
    const OUTAGES: [&str; 6] = [
        "terminating connection due to",
        "the database system is starting up",
        "the database system is shutting down",
        "the database system is in recovery mode",
        "the database system is not yet accepting connections",
        "canceling statement due to statement timeout",
    ];
    OUTAGES.iter().any(|o| message.contains(o))
}

pub(crate) fn pool_error(e: diesel_async::pooled_connection::deadpool::PoolError) -> StoreError {
    StoreError::Unavailable(anyhow::Error::new(e).context("no database connection available"))
}

/// A row the database holds that the domain refuses: the database was changed behind our back.
pub(crate) fn corrupt(what: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!("stored {what} is invalid: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_class_failures_are_unavailable() {
        let closed = DieselError::DatabaseError(
            DatabaseErrorKind::UnableToSendCommand,
            Box::new("connection closed".to_string()),
        );
        assert!(matches!(store_error(closed), StoreError::Unavailable(_)));
        let terminated = DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("terminating connection due to administrator command".to_string()),
        );
        assert!(matches!(
            store_error(terminated),
            StoreError::Unavailable(_)
        ));
        let timeout = DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("canceling statement due to statement timeout".to_string()),
        );
        assert!(matches!(store_error(timeout), StoreError::Unavailable(_)));
        let syntax = DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("syntax error at or near".to_string()),
        );
        assert!(matches!(store_error(syntax), StoreError::Unexpected(_)));
    }
}

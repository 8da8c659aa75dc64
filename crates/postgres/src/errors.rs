//! Translating diesel and pool errors into the domain's `StoreError`, by diesel's error kind
//! (which diesel-async derives from the SQLSTATE) and constraint name.
//!
//! diesel keeps the SQLSTATE only for the kinds it names; for the rest (`Unknown`) it keeps the
//! server's message and drops the code (`diesel-async`'s `PostgresDbErrorWrapper`). The two
//! classes orderpay must tell apart among those, outages and an ended lock wait, are therefore
//! recognised by the server's words, here and nowhere else: [`is_outage`] and
//! [`is_lock_wait_over`], each tested below against the server's text.

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
        // 40001: a row changed since it was read (`orderpay_version_conflict()`, which a
        // statement calls when a row is not at the version it was read at), or PostgreSQL
        // could not serialize the transaction. Either way: read again and retry.
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
            StoreError::Conflict
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

/// Whether `e` ended a wait for a lock at `lock_timeout` (SQLSTATE 55P03, which diesel drops).
pub(crate) fn is_lock_wait_over(e: &DieselError) -> bool {
    matches!(e, DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
        if info.message().starts_with("canceling statement due to lock timeout"))
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

    /// Each class this module tells apart, raised by a real server: by kind where diesel
    /// keeps the SQLSTATE, by the server's words where it does not.
    #[tokio::test]
    async fn a_real_servers_errors_are_classified() {
        use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
        let db = crate::testing::TestDatabase::new().await;
        let mut conn = db.connection().await;
        let mut other = db.connection().await;
        let query = diesel::sql_query;

        let conflict = query("SELECT orderpay_version_conflict()")
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(matches!(store_error(conflict), StoreError::Conflict));

        conn.batch_execute("SET statement_timeout = 50")
            .await
            .unwrap();
        let timeout = query("SELECT pg_sleep(5)")
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(!is_lock_wait_over(&timeout));
        assert!(matches!(store_error(timeout), StoreError::Unavailable(_)));

        query("SELECT pg_advisory_lock(4242)")
            .execute(&mut other)
            .await
            .unwrap();
        conn.batch_execute("SET statement_timeout = 0; SET lock_timeout = 50")
            .await
            .unwrap();
        let lock_wait = query("SELECT pg_advisory_lock(4242)")
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(is_lock_wait_over(&lock_wait), "{lock_wait}");

        let syntax = query("SELEC 1").execute(&mut conn).await.unwrap_err();
        assert!(!is_lock_wait_over(&syntax));
        assert!(matches!(store_error(syntax), StoreError::Unexpected(_)));
        conn.batch_execute("RESET lock_timeout").await.unwrap();
        query("SELECT pg_advisory_unlock(4242)")
            .execute(&mut other)
            .await
            .unwrap();
    }
}

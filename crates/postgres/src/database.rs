//! The database itself: creating it when missing and applying the embedded migrations, safely
//! from any number of replicas starting at once, and (for tests) dropping it.
//!
//! Replicas serialise on PostgreSQL advisory locks: one on the maintenance database around
//! `CREATE DATABASE`, one on the target database around the migrations. "Already exists" is
//! success. The maintenance database is touched only when the target one is missing.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::{Context, anyhow};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tokio_postgres::error::SqlState;

use crate::connect::{ConnectOptions, is_missing_database};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Advisory lock keys (any constant `bigint`; these spell "orderpay" and a step in hex).
const CREATE_LOCK: i64 = 0x6f72_6465_7270_6101;
const MIGRATE_LOCK: i64 = 0x6f72_6465_7270_6102;

/// The maintenance databases tried, in order, to create a missing database from.
const MAINTENANCE_DATABASES: [&str; 2] = ["postgres", "template1"];

/// What [`prepare`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// Whether this process created the database.
    pub created: bool,
    /// The migration versions this process applied (none when another replica did).
    pub applied: Vec<String>,
}

/// Creates the database when missing and applies pending migrations, all within `deadline`.
///
/// # Errors
/// When the server cannot be reached, refuses, or does not finish within `deadline`; the
/// message says which step and which server (never its password).
pub async fn prepare(options: &ConnectOptions, deadline: Duration) -> anyhow::Result<Prepared> {
    tokio::time::timeout(deadline, async {
        let created = create_if_missing(options).await?;
        let applied = migrate(options).await?;
        Ok(Prepared { created, applied })
    })
    .await
    .map_err(|_| {
        anyhow!(
            "preparing the database at {} did not finish within {deadline:?}",
            options.display()
        )
    })?
}

/// Creates the database `options` names when it does not exist yet. Returns whether this call
/// created it; another process creating it first is success too.
pub async fn create_if_missing(options: &ConnectOptions) -> anyhow::Result<bool> {
    match options.connect_raw().await {
        Ok((client, connection)) => {
            drop(client);
            connection.await;
            return Ok(false);
        }
        Err(e) if is_missing_database(&e) => {}
        Err(e) => return Err(e.context(format!("connecting to {}", options.display()))),
    }
    let name = options.database_name().to_string();
    let (client, connection) = connect_to_maintenance(options).await?;
    let driver = tokio::spawn(connection);
    client
        .batch_execute(&format!("SELECT pg_advisory_lock({CREATE_LOCK})"))
        .await
        .context("waiting for the database-creation lock")?;
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .context("looking for the database")?
        .is_some();
    let created = if exists {
        false
    } else {
        match client
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
            .await
        {
            Ok(()) => true,
            // Another process (not holding our lock: an older orderpay, an operator) won.
            Err(e)
                if matches!(
                    e.code(),
                    Some(&SqlState::DUPLICATE_DATABASE | &SqlState::UNIQUE_VIOLATION)
                ) =>
            {
                false
            }
            Err(e) => return Err(anyhow!(e).context(format!("creating database {name}"))),
        }
    };
    // Closing the session releases the lock.
    drop(client);
    let _ = driver.await;
    Ok(created)
}

async fn connect_to_maintenance(
    options: &ConnectOptions,
) -> anyhow::Result<(
    tokio_postgres::Client,
    impl Future<Output = ()> + Send + 'static + use<>,
)> {
    let mut last = None;
    for name in MAINTENANCE_DATABASES {
        let admin = options.with_database(name);
        match admin.connect_raw().await {
            Ok(connected) => return Ok(connected),
            Err(e) => last = Some(e.context(format!("connecting to {}", admin.display()))),
        }
    }
    Err(last
        .unwrap_or_else(|| anyhow!("no maintenance database"))
        .context(format!(
            "database {} does not exist and could not be created",
            options.database_name()
        )))
}

/// Drops the database `options` names, closing any connection still open to it.
pub async fn drop_database(options: &ConnectOptions) -> anyhow::Result<()> {
    let name = options.database_name().to_string();
    let (client, connection) = connect_to_maintenance(options).await?;
    let driver = tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&name)
        ))
        .await
        .with_context(|| format!("dropping database {name}"))?;
    drop(client);
    let _ = driver.await;
    Ok(())
}

/// Applies the migrations embedded in this binary that the database has not seen yet, and
/// returns the versions applied (none on a second start, or when another replica did them).
pub async fn migrate(options: &ConnectOptions) -> anyhow::Result<Vec<String>> {
    let mut conn = options
        .connect(Arc::new(AtomicU64::new(0)))
        .await
        .with_context(|| format!("connecting to {}", options.display()))?;
    // Held by this session until it ends: replicas migrate one after another, and the later
    // ones find nothing pending.
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATE_LOCK})"))
        .execute(&mut conn)
        .await
        .context("waiting for the migration lock")?;
    // diesel's migration harness is synchronous: run it on a blocking thread, where the
    // wrapper can block on the async connection without stalling the runtime.
    tokio::task::spawn_blocking(move || {
        let mut wrapper: AsyncConnectionWrapper<AsyncPgConnection> = conn.into();
        wrapper
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| anyhow!("applying migrations: {e}"))
    })
    .await
    .context("the migration task failed")?
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

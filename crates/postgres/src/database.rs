//! The database itself: creating it when missing, applying the embedded migrations, and
//! (for tests) dropping it.

use anyhow::{Context, anyhow};
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::connect::ConnectOptions;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Creates the database `options` names when it does not exist yet. Returns whether it did.
pub async fn create_if_missing(options: &ConnectOptions) -> anyhow::Result<bool> {
    let name = options.database_name().to_string();
    let admin = options.with_database("postgres");
    let (client, connection) = admin.connect_raw().await.with_context(|| {
        format!(
            "connecting to {} to create database {name}",
            admin.display()
        )
    })?;
    let driver = tokio::spawn(connection);
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
            // Another process created it between our look and our create: that is fine.
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {
                false
            }
            Err(e) => return Err(anyhow!(e).context(format!("creating database {name}"))),
        }
    };
    drop(client);
    let _ = driver.await;
    Ok(created)
}

/// Drops the database `options` names, closing any connection still open to it.
pub async fn drop_database(options: &ConnectOptions) -> anyhow::Result<()> {
    let name = options.database_name().to_string();
    let (client, connection) = options.with_database("postgres").connect_raw().await?;
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
/// returns the versions applied (none on a second start).
pub async fn migrate(options: &ConnectOptions) -> anyhow::Result<Vec<String>> {
    let conn = options
        .connect(Arc::new(AtomicU64::new(0)))
        .await
        .with_context(|| format!("connecting to {}", options.display()))?;
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

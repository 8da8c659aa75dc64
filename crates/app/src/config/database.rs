//! The database's settings: `DATABASE_URL` (and `DATABASE_DIRECT_URL` behind a pooler) with
//! their TLS rules, and the pools.

use std::time::Duration;

use secrecy::SecretString;

use orderpay_postgres::{ConnectOptions, PoolOptions, TlsMode};

use super::DEFAULT_DATABASE_URL;
use super::reader::{Reader, boolean};

pub(super) struct DatabaseSettings {
    pub(super) url: SecretString,
    /// `None` when `DATABASE_URL` is bad (reported).
    pub(super) options: Option<ConnectOptions>,
    /// `DATABASE_DIRECT_URL`: the server itself, for migrations and sessions (leases) when
    /// `DATABASE_URL` is a transaction pooler's.
    pub(super) direct: Option<ConnectOptions>,
    pub(super) pool: PoolOptions,
    pub(super) startup_timeout: Duration,
    pub(super) pool_per_worker: bool,
    pub(super) public_pool_size: usize,
}

pub(super) fn database(r: &mut Reader, production: bool) -> DatabaseSettings {
    let database_url = match r.get("DATABASE_URL") {
        Some(url) => url,
        None if production => {
            r.problems.push(
                "DATABASE_URL: required when APP_ENV=production (the default is a local \
                 superuser, for development only)"
                    .into(),
            );
            DEFAULT_DATABASE_URL.to_string()
        }
        None => DEFAULT_DATABASE_URL.to_string(),
    };
    let ms = |r: &mut Reader, name: &str, default: u64| {
        Duration::from_millis(r.number(name, default, 1))
    };
    let pool = PoolOptions {
        max_size: r.number("DATABASE_POOL_SIZE", 10usize, 1),
        shards: 1,
        acquire_timeout: ms(r, "DATABASE_ACQUIRE_TIMEOUT_MS", 5000),
        connect_timeout: ms(r, "DATABASE_CONNECT_TIMEOUT_MS", 5000),
        statement_timeout: ms(r, "DATABASE_STATEMENT_TIMEOUT_MS", 5000),
        query_timeout: ms(r, "DATABASE_QUERY_TIMEOUT_MS", 8000),
    };
    let startup_timeout = ms(r, "DATABASE_STARTUP_TIMEOUT_MS", 60_000);
    let allow_unverified_tls = r.parse("DATABASE_ALLOW_UNVERIFIED_TLS", false, boolean);
    let pool_per_worker = r.parse("DATABASE_POOL_PER_WORKER", true, boolean);
    let database = url_options(
        r,
        "DATABASE_URL",
        &database_url,
        production,
        allow_unverified_tls,
        pool.connect_timeout,
    );
    let direct = r.get("DATABASE_DIRECT_URL").and_then(|url| {
        url_options(
            r,
            "DATABASE_DIRECT_URL",
            &url,
            production,
            allow_unverified_tls,
            pool.connect_timeout,
        )
    });
    match (&database, &direct) {
        (Some(pooled), None) if pooled.behind_transaction_pooler() => r.problems.push(
            "DATABASE_DIRECT_URL: required with pgbouncer=true in DATABASE_URL: migrations and \
             leases need a session, which a transaction pooler does not keep (Supabase: the \
             direct or session connection string; Neon: the URL without -pooler)"
                .into(),
        ),
        (_, Some(direct)) if direct.behind_transaction_pooler() => r.problems.push(
            "DATABASE_DIRECT_URL: must reach the server itself, not a pooler (no pgbouncer=true)"
                .into(),
        ),
        _ => {}
    }
    let public_pool_size = r.number("DATABASE_PUBLIC_POOL_SIZE", (pool.max_size / 2).max(1), 1);
    DatabaseSettings {
        url: SecretString::from(database_url),
        options: database,
        direct,
        pool,
        startup_timeout,
        pool_per_worker,
        public_pool_size,
    }
}

/// `url` (the setting `name`) parsed, with the production TLS rules checked: `None` when it
/// is bad (reported).
fn url_options(
    r: &mut Reader,
    name: &str,
    url: &str,
    production: bool,
    allow_unverified_tls: bool,
    connect_timeout: Duration,
) -> Option<ConnectOptions> {
    // With the opt-out, a URL that names no sslmode is encrypted all the same (`require`):
    // never the plaintext fallback of libpq's default `prefer`.
    let default_mode = if production && allow_unverified_tls {
        TlsMode::Require
    } else {
        TlsMode::Prefer
    };
    let database = match ConnectOptions::parse_with_default_mode(url, default_mode) {
        Ok(options) => Some(options.with_connect_timeout(connect_timeout)),
        Err(e) => {
            r.problems.push(format!("{name}: {e:#}"));
            None
        }
    };
    if production
        && allow_unverified_tls
        && let Some(options) = &database
        && matches!(options.tls_mode(), TlsMode::Disable | TlsMode::Prefer)
        && !options.is_local_socket()
    {
        r.problems.push(format!(
            "{name}: sslmode={} may talk to the database in plaintext; \
             DATABASE_ALLOW_UNVERIFIED_TLS only relaxes the certificate check, so use \
             sslmode=require (or leave sslmode out) or a verifying mode",
            options.tls_mode().as_str()
        ));
    }
    if production
        && !allow_unverified_tls
        && let Some(options) = &database
        && !options.verifies_certificate()
        && !options.is_local_socket()
    {
        r.problems.push(format!(
            "{name}: sslmode={} does not check the server's certificate; in production \
             use sslmode=verify-full (with sslrootcert=<CA file> for a private CA), or set \
             DATABASE_ALLOW_UNVERIFIED_TLS=true for a database reached over a private \
             network only (a Render internal URL, say)",
            options.tls_mode().as_str()
        ));
    }
    database
}

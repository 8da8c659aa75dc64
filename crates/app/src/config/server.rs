//! The HTTP server's settings: where it listens, its workers, how it drains on SIGTERM, rate
//! limits, and how long idempotency keys and verified API keys are kept.

use std::time::Duration;

use secrecy::SecretString;

use orderpay_http::limits::{Limit, LimitSettings};

use super::reader::Reader;

/// The longest a verified API key may be trusted from memory: one minute.
const MAX_API_KEY_CACHE_TTL_MS: u64 = 60_000;

pub(super) struct ServerSettings {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) http_workers: Option<usize>,
    pub(super) shutdown_drain: Duration,
    pub(super) limits: LimitSettings,
    pub(super) idempotency_ttl: Duration,
    pub(super) api_key_cache_ttl: Duration,
    /// `METRICS_TOKEN`: `/metrics` is served, to this bearer token, only when it is set.
    pub(super) metrics_token: Option<SecretString>,
}

pub(super) fn server(r: &mut Reader) -> ServerSettings {
    let shutdown_drain = Duration::from_millis(r.number("SHUTDOWN_DRAIN_MS", 2000u64, 0));
    let host = r.get("HOST").unwrap_or_else(|| "0.0.0.0".into());
    let port = r.parse("PORT", 8080u16, |raw| {
        raw.parse::<u16>()
            .map_err(|_| "must be a port number, 0 to 65535".to_string())
    });
    let http_workers = r
        .get("HTTP_WORKERS")
        .map(|_| r.number("HTTP_WORKERS", 1usize, 1));
    let per_second = |r: &mut Reader, name: &str, default: u64| {
        let rate = r.number(name, default, 0) as f64;
        Limit {
            per_second: rate,
            burst: 2.0 * rate,
        }
    };
    let limits = LimitSettings {
        per_key: per_second(r, "RATE_LIMIT_PER_KEY", 25_000),
        per_address: per_second(r, "RATE_LIMIT_PER_ADDRESS", 5_000),
        failed_auth: {
            let per_minute = r.number("RATE_LIMIT_FAILED_AUTH_PER_MINUTE", 60u64, 0) as f64;
            Limit {
                per_second: per_minute / 60.0,
                burst: per_minute,
            }
        },
        trusted_proxies: r.number("RATE_LIMIT_TRUSTED_PROXIES", 0usize, 0),
    };
    let idempotency_ttl =
        Duration::from_secs(3600 * r.number("IDEMPOTENCY_KEY_TTL_HOURS", 24u64, 1));
    // The bound on revocation: a revoked key works at most this long on another replica.
    let api_key_cache_ttl = Duration::from_millis(r.bounded(
        "API_KEY_CACHE_TTL_MS",
        5000u64,
        0,
        MAX_API_KEY_CACHE_TTL_MS,
    ));
    let metrics_token = r.get("METRICS_TOKEN").and_then(|token| {
        if token.len() < 16 || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            r.problems.push(
                "METRICS_TOKEN: must be at least 16 characters, without spaces (openssl rand \
                 -hex 24 makes one)"
                    .into(),
            );
            return None;
        }
        Some(SecretString::from(token))
    });
    ServerSettings {
        host,
        port,
        http_workers,
        shutdown_drain,
        limits,
        idempotency_ttl,
        api_key_cache_ttl,
        metrics_token,
    }
}

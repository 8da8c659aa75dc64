//! Webhooks out: the key secrets are derived from, the retry schedule, the timeout, the
//! rotation overlap, when a failing endpoint is disabled, and which URLs are allowed.

use std::time::Duration;

use orderpay_domain::webhook::{RetrySchedule, UrlPolicy};
use orderpay_webhooks::SigningKey;

use super::reader::{Reader, boolean, is_loopback};

/// Used when `WEBHOOK_SIGNING_KEY` is unset outside production: known to anyone reading this
/// file, so development secrets protect nothing.
const DEVELOPMENT_SIGNING_KEY: &str = "orderpay development webhook signing key: not a secret";

pub struct WebhookConfig {
    pub signing_key: SigningKey,
    pub schedule: RetrySchedule,
    pub timeout: Duration,
    /// How long the previous secret keeps signing after a rotation.
    pub secret_overlap: Duration,
    /// How long an endpoint may fail without one success before it is disabled.
    pub disable_after: Duration,
    pub url_policy: UrlPolicy,
    /// How long settled deliveries (and the answers stored with them) are kept.
    pub delivery_retention: Duration,
    /// How long events stay in the feed (and keep their snapshots).
    pub event_retention: Duration,
}

pub(super) fn webhooks(
    r: &mut Reader,
    production: bool,
    public_base_url: Option<&str>,
) -> WebhookConfig {
    let signing_key = match r.get("WEBHOOK_SIGNING_KEY") {
        Some(_) => r.parse("WEBHOOK_SIGNING_KEY", None, |raw| {
            SigningKey::new(raw.as_bytes())
                .map(Some)
                .map_err(|_| "must be at least 32 characters (openssl rand -hex 32)".into())
        }),
        None if production => {
            r.problems.push(
                "WEBHOOK_SIGNING_KEY: required when APP_ENV=production (webhook endpoints' \
                 secrets are derived from it; openssl rand -hex 32)"
                    .into(),
            );
            None
        }
        None => None,
    }
    .unwrap_or_else(|| {
        SigningKey::new(DEVELOPMENT_SIGNING_KEY.as_bytes()).expect("the development key is long")
    });
    let schedule = r.parse(
        "WEBHOOK_RETRY_SCHEDULE",
        RetrySchedule::default(),
        RetrySchedule::parse,
    );
    // Deliveries' answers are listed back to any key that reads webhooks, so a private URL is
    // a request forgery that reads its answer: allowed only when asked for by name, or where
    // the service itself is private (on loopback, as the sandbox is decided).
    let on_loopback = public_base_url.is_none_or(is_loopback);
    let allow_private = r.parse(
        "WEBHOOK_ALLOW_PRIVATE_URLS",
        !production && on_loopback,
        boolean,
    );
    if production && allow_private {
        r.problems.push(
            "WEBHOOK_ALLOW_PRIVATE_URLS: must not be true when APP_ENV=production (merchants' \
             URLs could then reach this network)"
                .into(),
        );
    }
    WebhookConfig {
        signing_key,
        schedule,
        timeout: Duration::from_secs(r.number("WEBHOOK_TIMEOUT_SECONDS", 15u64, 1)),
        secret_overlap: Duration::from_secs(
            3600 * r.number("WEBHOOK_SECRET_OVERLAP_HOURS", 24u64, 0),
        ),
        disable_after: Duration::from_secs(
            3600 * r.number("WEBHOOK_DISABLE_AFTER_HOURS", 120u64, 1),
        ),
        delivery_retention: Duration::from_secs(
            86_400 * r.number("WEBHOOK_DELIVERY_RETENTION_DAYS", 30u64, 1),
        ),
        event_retention: Duration::from_secs(86_400 * r.number("EVENT_RETENTION_DAYS", 90u64, 1)),
        url_policy: if allow_private {
            UrlPolicy::AllowPrivate
        } else {
            UrlPolicy::PublicHttpsOnly
        },
    }
}

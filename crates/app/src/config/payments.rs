//! The payment settings: the public address pay links point at, the provider (Stripe or the
//! sandbox), how long checkout stays open, and reconciliation.

use std::time::Duration;

use super::StripeConfig;
use super::provider;
use super::reader::{Reader, base_url};

pub(super) struct PaymentSettings {
    pub(super) public_base_url: Option<String>,
    pub(super) stripe: Option<StripeConfig>,
    pub(super) checkout_ttl: Duration,
    pub(super) unknown_payment_grace: Duration,
    pub(super) reconcile_interval: Option<Duration>,
}

pub(super) fn payments(r: &mut Reader, production: bool) -> PaymentSettings {
    let public_base_url = r.parse("PUBLIC_BASE_URL", None, |raw| {
        base_url(raw, production).map(Some)
    });
    let stripe = provider::payment_provider(r, production, public_base_url.as_deref());
    let checkout_minutes = r.parse("CHECKOUT_EXPIRY_MINUTES", 60u64, |raw| {
        match raw.parse::<u64>() {
            Ok(m) if (35..=1440).contains(&m) => Ok(m),
            _ => Err(
                "must be a whole number of minutes from 35 to 1440 (Stripe keeps a \
                      session 30 minutes to 24 hours; the 5 minutes over its minimum are \
                      the time a waiting payment can still be opened)"
                    .into(),
            ),
        }
    });
    let checkout_ttl = Duration::from_secs(checkout_minutes * 60);
    let unknown_payment_grace =
        Duration::from_secs(r.number("WEBHOOK_UNKNOWN_PAYMENT_GRACE_SECONDS", 3600u64, 0));
    let reconcile_seconds = r.number("RECONCILE_INTERVAL_SECONDS", 300u64, 0);
    let reconcile_interval =
        (reconcile_seconds > 0).then(|| Duration::from_secs(reconcile_seconds));
    if production && r.get("PUBLIC_BASE_URL").is_none() {
        r.problems.push(
            "PUBLIC_BASE_URL: required when APP_ENV=production (payment links point at it)".into(),
        );
    }
    PaymentSettings {
        public_base_url,
        stripe,
        checkout_ttl,
        unknown_payment_grace,
        reconcile_interval,
    }
}

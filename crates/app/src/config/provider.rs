//! Who takes the money: Stripe when its keys are set; the sandbox only when asked for by name
//! or when nobody but the developer can reach the service; anything else refused, saying why.

use secrecy::SecretString;

use super::StripeConfig;
use super::reader::{Reader, base_url, is_loopback};

/// `PAYMENT_PROVIDER`, when set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProviderChoice {
    Stripe,
    Sandbox,
}

/// Stripe's settings, or `None` for the sandbox; a problem is recorded for every combination
/// that must not start.
pub(super) fn payment_provider(
    r: &mut Reader,
    production: bool,
    public_base_url: Option<&str>,
) -> Option<StripeConfig> {
    let stripe_key = r.get("STRIPE_SECRET_KEY");
    let webhook_secrets: Vec<SecretString> = r
        .get("STRIPE_WEBHOOK_SECRET")
        .map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| SecretString::from(s.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let api_base = r.parse(
        "STRIPE_API_BASE",
        "https://api.stripe.com".to_string(),
        |raw| base_url(raw, production),
    );
    let provider = r.parse("PAYMENT_PROVIDER", None, |raw| {
        match raw.to_ascii_lowercase().as_str() {
            "stripe" => Ok(Some(ProviderChoice::Stripe)),
            "sandbox" => Ok(Some(ProviderChoice::Sandbox)),
            _ => Err("must be stripe or sandbox".into()),
        }
    });
    match (stripe_key, provider) {
        (Some(_), Some(ProviderChoice::Sandbox)) => {
            r.problems.push(
                "PAYMENT_PROVIDER: sandbox, but STRIPE_SECRET_KEY is set; remove one of them"
                    .into(),
            );
            None
        }
        (None, Some(ProviderChoice::Sandbox)) if production => {
            r.problems.push(
                "PAYMENT_PROVIDER: the sandbox takes no money and is refused when \
                 APP_ENV=production"
                    .into(),
            );
            None
        }
        (None, Some(ProviderChoice::Sandbox)) => None,
        (None, Some(ProviderChoice::Stripe)) => {
            r.problems
                .push("STRIPE_SECRET_KEY: required with PAYMENT_PROVIDER=stripe".into());
            None
        }
        // The sandbox by omission only where nobody but the developer can reach it.
        (None, None) if !production && public_base_url.is_none_or(is_loopback) => None,
        (None, None) if !production => {
            r.problems.push(
                "STRIPE_SECRET_KEY: not set, and PUBLIC_BASE_URL is not a loopback address, \
                 so customers could reach the sandbox, which marks orders paid with no \
                 money; set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET, or \
                 PAYMENT_PROVIDER=sandbox to run the sandbox on purpose"
                    .into(),
            );
            None
        }
        (stripe_key, _) => match stripe_key {
            Some(key) => {
                if webhook_secrets.is_empty() {
                    r.problems.push(
                        "STRIPE_WEBHOOK_SECRET: required with STRIPE_SECRET_KEY (the endpoint's \
                     signing secret, whsec_...; several, comma-separated, while rotating)"
                            .into(),
                    );
                }
                Some(StripeConfig {
                    secret_key: SecretString::from(key),
                    webhook_secrets,
                    api_base,
                })
            }
            None => {
                r.problems.push(
                    "STRIPE_SECRET_KEY: required when APP_ENV=production (without it orderpay \
                 would use its sandbox, which takes no money)"
                        .into(),
                );
                None
            }
        },
    }
}

//! Typed configuration from the environment (and `.env`), with one clear message per bad value.

mod database;
mod directory;
mod merchant;
mod payments;
mod provider;
mod reader;
mod server;
mod webhooks;

use std::collections::HashMap;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use self::reader::Reader;
pub use self::webhooks::WebhookConfig;

use orderpay_domain::merchant::Merchant;
use orderpay_domain::phone::PhoneRegion;
use orderpay_http::limits::LimitSettings;
use orderpay_postgres::{ConnectOptions, PoolOptions};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@localhost:5432/orderpay";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

pub struct Config {
    pub environment: Environment,
    pub database_url: SecretString,
    pub database: ConnectOptions,
    /// `DATABASE_DIRECT_URL`: the server itself, for creating and migrating the database and
    /// for sessions (leases), when `DATABASE_URL` is a transaction pooler's.
    pub database_direct: Option<ConnectOptions>,
    pub pool: PoolOptions,
    /// How long creating and migrating the database at start-up may take in all.
    pub startup_timeout: Duration,
    /// How long `/readyz` answers 503 before the server stops accepting, on SIGTERM.
    pub shutdown_drain: Duration,
    pub host: String,
    pub port: u16,
    /// How many HTTP worker threads; `None` lets actix use one per core.
    pub http_workers: Option<usize>,
    /// Whether each HTTP worker has a pool of its own (`DATABASE_POOL_SIZE` shared out), so
    /// that its connections' I/O runs on its own thread; otherwise one pool for all.
    pub pool_per_worker: bool,
    /// `PUBLIC_BASE_URL`; when unset, `http://localhost:<the port bound>` (see
    /// [`Config::base_url_for`]).
    pub public_base_url: Option<String>,
    /// Whom customers pay (`MERCHANT_NAME`, `MERCHANT_LOGO_URL`, `MERCHANT_SUPPORT_CONTACT`).
    pub merchant: Merchant,
    /// Stripe, when its keys are set; otherwise the built-in sandbox (never in production).
    pub stripe: Option<StripeConfig>,
    /// How long a checkout session stays open.
    pub checkout_ttl: Duration,
    /// How long after its creation an event for an unknown payment is asked for again.
    pub unknown_payment_grace: Duration,
    /// How long a client's idempotency key lasts.
    pub idempotency_ttl: Duration,
    /// Rate limits per API key and per client address.
    pub limits: LimitSettings,
    /// Connections at most for the routes that need no key (a pool of their own).
    pub public_pool_size: usize,
    /// How long a verified API key is trusted from memory (the bound on revocation).
    pub api_key_cache_ttl: Duration,
    /// `METRICS_TOKEN`: `/metrics` answers this bearer token; unset, `/metrics` is 404.
    pub metrics_token: Option<SecretString>,
    /// How often `serve` reconciles stuck payments with the provider; `None` is off.
    pub reconcile_interval: Option<Duration>,
    pub customer_directory_url: Option<String>,
    pub customer_directory_timeout: Duration,
    pub default_phone_region: Option<PhoneRegion>,
    pub log_format: LogFormat,
    /// Webhooks out.
    pub webhooks: WebhookConfig,
    /// `RUN_WORKERS`: whether `serve` runs the background workers too (`false`: an API-only
    /// replica, with `orderpay work` running them elsewhere).
    pub run_workers: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("environment", &self.environment)
            .field("database", &self.database.display())
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

pub struct StripeConfig {
    pub secret_key: SecretString,
    pub webhook_secrets: Vec<SecretString>,
    /// `https://api.stripe.com` unless tests point it at a fake.
    pub api_base: String,
}

impl Config {
    /// The configuration from the process environment.
    pub fn from_env() -> Result<Self, Vec<String>> {
        Self::from_vars(&|name| std::env::var(name).ok())
    }

    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, Vec<String>> {
        Self::from_vars(&|name| vars.get(name).cloned())
    }

    pub fn from_vars(var: &dyn Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let mut r = Reader {
            var,
            problems: Vec::new(),
        };
        let environment = r.parse("APP_ENV", Environment::Development, |raw| {
            match raw.to_ascii_lowercase().as_str() {
                "development" | "dev" => Ok(Environment::Development),
                "production" | "prod" => Ok(Environment::Production),
                _ => Err("must be development or production".into()),
            }
        });
        let production = environment == Environment::Production;
        let db = database::database(&mut r, production);
        let server = server::server(&mut r);
        let payments = payments::payments(&mut r, production);
        let merchant = merchant::merchant(&mut r, production);
        let directory = directory::directory(&mut r);
        let log_format = r.parse("LOG_FORMAT", LogFormat::Text, |raw| {
            match raw.to_ascii_lowercase().as_str() {
                "text" | "pretty" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                _ => Err("must be text or json".into()),
            }
        });
        let webhooks = webhooks::webhooks(&mut r, production, payments.public_base_url.as_deref());
        let run_workers = r.parse("RUN_WORKERS", true, reader::boolean);
        match (r.problems.is_empty(), db.options) {
            (true, Some(database)) => Ok(Self {
                environment,
                database_url: db.url,
                database,
                database_direct: db.direct,
                pool: db.pool,
                startup_timeout: db.startup_timeout,
                shutdown_drain: server.shutdown_drain,
                host: server.host,
                port: server.port,
                http_workers: server.http_workers,
                pool_per_worker: db.pool_per_worker,
                public_base_url: payments.public_base_url,
                merchant,
                stripe: payments.stripe,
                checkout_ttl: payments.checkout_ttl,
                unknown_payment_grace: payments.unknown_payment_grace,
                idempotency_ttl: server.idempotency_ttl,
                limits: server.limits,
                public_pool_size: db.public_pool_size,
                reconcile_interval: payments.reconcile_interval,
                api_key_cache_ttl: server.api_key_cache_ttl,
                metrics_token: server.metrics_token,
                customer_directory_url: directory.url,
                customer_directory_timeout: directory.timeout,
                default_phone_region: directory.default_phone_region,
                log_format,
                webhooks,
                run_workers,
            }),
            _ => Err(r.problems),
        }
    }

    /// The public address for a service listening on `port`: `PUBLIC_BASE_URL`, or this
    /// machine on that port (port 0 is only known once bound).
    pub fn base_url_for(&self, port: u16) -> String {
        self.public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://localhost:{port}"))
    }

    /// Where a session goes (creating and migrating the database, leases): the direct URL
    /// when there is one, else `DATABASE_URL`.
    pub fn session_database(&self) -> &ConnectOptions {
        self.database_direct.as_ref().unwrap_or(&self.database)
    }

    /// The database URL, secret included: only for building connections.
    pub fn expose_database_url(&self) -> &str {
        self.database_url.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderpay_domain::webhook::{RetrySchedule, UrlPolicy};

    /// A signing key for webhooks out (required in production) unless the test gives one.
    const SIGNING_KEY: (&str, &str) = ("WEBHOOK_SIGNING_KEY", "0123456789abcdef0123456789abcdef");

    fn config(pairs: &[(&str, &str)]) -> Result<Config, Vec<String>> {
        let mut vars: HashMap<String, String> = HashMap::from([
            (SIGNING_KEY.0.to_string(), SIGNING_KEY.1.to_string()),
            ("MERCHANT_NAME".to_string(), "Tea House".to_string()),
        ]);
        vars.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Config::from_map(&vars)
    }

    #[test]
    fn private_webhook_urls_only_where_asked_for_or_the_service_is_on_loopback() {
        let public = ("PUBLIC_BASE_URL", "https://pay.example.com");
        // Live keys, a public address, APP_ENV left at development: deliveries answer back
        // through the deliveries list, so private URLs would be a request forgery.
        let live = config(&[STRIPE[0], STRIPE[1], public]).unwrap();
        assert_eq!(live.webhooks.url_policy, UrlPolicy::PublicHttpsOnly);
        let asked = config(&[
            STRIPE[0],
            STRIPE[1],
            public,
            ("WEBHOOK_ALLOW_PRIVATE_URLS", "true"),
        ])
        .unwrap();
        assert_eq!(asked.webhooks.url_policy, UrlPolicy::AllowPrivate);
        for base in [
            None,
            Some("http://localhost:8080"),
            Some("http://127.0.0.1:9000"),
        ] {
            let vars: Vec<(&str, &str)> =
                base.map(|b| ("PUBLIC_BASE_URL", b)).into_iter().collect();
            let local = config(&vars).unwrap();
            assert_eq!(
                local.webhooks.url_policy,
                UrlPolicy::AllowPrivate,
                "{base:?}"
            );
        }
        let refused = config(&[("WEBHOOK_ALLOW_PRIVATE_URLS", "false")]).unwrap();
        assert_eq!(refused.webhooks.url_policy, UrlPolicy::PublicHttpsOnly);
    }

    /// The Render blueprint starts: every variable production requires is set in it,
    /// generated by Render, or one a person must fill in the dashboard (`sync: false`).
    #[test]
    fn the_render_blueprint_sets_or_generates_what_production_requires() {
        let blueprint = include_str!("../../../../render.yaml");
        let filled_in_the_dashboard = HashMap::from([
            ("PUBLIC_BASE_URL", "https://orderpay.onrender.com"),
            ("MERCHANT_NAME", "Tea House"),
            ("STRIPE_SECRET_KEY", "sk_live_123"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_123"),
        ]);
        let mut vars = HashMap::new();
        let mut key: Option<String> = None;
        for line in blueprint.lines().map(str::trim) {
            if let Some(name) = line.strip_prefix("- key: ") {
                key = Some(name.to_owned());
                continue;
            }
            let Some(name) = key.clone() else { continue };
            let value = match line.split_once(':').map(|(k, v)| (k.trim(), v.trim())) {
                Some(("value", v)) => v.trim_matches('"').to_owned(),
                // Render's generated value: 256 random bits, base64.
                Some(("generateValue", "true")) => {
                    "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8M=".to_owned()
                }
                Some(("fromDatabase", "")) => {
                    "postgres://orderpay:secret@dpg-abc/orderpay".to_owned()
                }
                Some(("sync", "false")) => filled_in_the_dashboard
                    .get(name.as_str())
                    .unwrap_or_else(|| panic!("{name}: a placeholder for this test"))
                    .to_string(),
                _ => continue,
            };
            vars.insert(name, value);
            key = None;
        }
        assert_eq!(vars["APP_ENV"], "production");
        let config = Config::from_map(&vars);
        assert!(
            config.is_ok(),
            "render.yaml does not start: {:?}",
            config.err()
        );
    }

    #[test]
    fn the_api_key_cache_is_bounded_to_a_minute() {
        let c = config(&[("API_KEY_CACHE_TTL_MS", "60000")]).unwrap();
        assert_eq!(c.api_key_cache_ttl, Duration::from_secs(60));
        let problems = config(&[("API_KEY_CACHE_TTL_MS", "60001")]).unwrap_err();
        assert_eq!(
            problems,
            ["API_KEY_CACHE_TTL_MS=\"60001\": must be a whole number from 0 to 60000"]
        );
    }

    #[test]
    fn production_requires_a_webhook_signing_key_and_public_webhook_urls() {
        let mut vars: HashMap<String, String> = PRODUCTION
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let problems = Config::from_map(&vars).unwrap_err();
        assert!(
            problems[0].starts_with("WEBHOOK_SIGNING_KEY"),
            "{problems:?}"
        );
        vars.insert("WEBHOOK_SIGNING_KEY".into(), "short-and-secret".into());
        let problems = Config::from_map(&vars).unwrap_err();
        assert!(!problems[0].contains("short-and-secret"), "never echoed");
        vars.insert(SIGNING_KEY.0.into(), SIGNING_KEY.1.into());
        let c = Config::from_map(&vars).unwrap();
        assert_eq!(c.webhooks.url_policy, UrlPolicy::PublicHttpsOnly);
        vars.insert("WEBHOOK_ALLOW_PRIVATE_URLS".into(), "true".into());
        assert!(Config::from_map(&vars).is_err());
        let dev = config(&[]).unwrap();
        assert_eq!(dev.webhooks.url_policy, UrlPolicy::AllowPrivate);
        let schedule = config(&[("WEBHOOK_RETRY_SCHEDULE", "1s,2h")]).unwrap();
        assert_eq!(
            schedule.webhooks.schedule,
            RetrySchedule::parse("1s,2h").unwrap()
        );
        assert!(config(&[("WEBHOOK_RETRY_SCHEDULE", "soon")]).is_err());
    }

    #[test]
    fn a_transaction_pooler_needs_a_direct_url_for_sessions() {
        let pooled = "postgres://app@pooler.example.com:6543/orderpay?pgbouncer=true";
        let problems = config(&[("DATABASE_URL", pooled)]).err().unwrap();
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("DATABASE_DIRECT_URL: required")),
            "{problems:?}"
        );
        let direct = "postgres://app@db.example.com:5432/orderpay";
        let c = config(&[("DATABASE_URL", pooled), ("DATABASE_DIRECT_URL", direct)]).unwrap();
        assert!(c.database.behind_transaction_pooler());
        assert_eq!(
            c.session_database().display(),
            "postgres://app@db.example.com:5432/orderpay?sslmode=prefer"
        );
        // Without a pooler, sessions use DATABASE_URL itself.
        let plain = config(&[("DATABASE_URL", direct)]).unwrap();
        assert_eq!(plain.session_database().display(), plain.database.display());
        let both_pooled = config(&[("DATABASE_URL", pooled), ("DATABASE_DIRECT_URL", pooled)]);
        assert!(
            both_pooled
                .err()
                .unwrap()
                .iter()
                .any(|p| p.contains("not a pooler")),
        );
        let bad = config(&[("DATABASE_URL", "postgres://h/orderpay?pgbouncer=yes")]);
        assert!(
            bad.err()
                .unwrap()
                .iter()
                .any(|p| p.contains("pgbouncer must be true or false"))
        );
    }

    #[test]
    fn no_configuration_at_all_runs_against_local_postgres() {
        let c = config(&[]).unwrap();
        assert_eq!(c.port, 8080);
        assert_eq!(c.expose_database_url(), DEFAULT_DATABASE_URL);
        assert_eq!(c.database.database_name(), "orderpay");
        assert_eq!(c.environment, Environment::Development);
        assert_eq!(c.log_format, LogFormat::Text);
        assert!(c.customer_directory_url.is_none());
    }

    #[test]
    fn every_bad_value_is_reported_by_name() {
        let problems = config(&[
            ("PORT", "eighty"),
            ("DATABASE_URL", "mysql://nope"),
            ("DEFAULT_PHONE_REGION", "Atlantis"),
            ("LOG_FORMAT", "xml"),
            ("DATABASE_POOL_SIZE", "0"),
            ("CUSTOMER_DIRECTORY_URL", "directory.local"),
        ])
        .unwrap_err();
        for name in [
            "PORT",
            "DATABASE_URL",
            "DEFAULT_PHONE_REGION",
            "LOG_FORMAT",
            "DATABASE_POOL_SIZE",
            "CUSTOMER_DIRECTORY_URL",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(name)),
                "{name} not reported in {problems:?}"
            );
        }
    }

    #[test]
    fn production_requires_a_public_base_url() {
        let db = (
            "DATABASE_URL",
            "postgres://u@db/orderpay?sslmode=verify-full",
        );
        let problems = config(&[("APP_ENV", "production"), db, STRIPE[0], STRIPE[1]]).unwrap_err();
        assert!(problems[0].starts_with("PUBLIC_BASE_URL"));
        let c = config(&[
            ("APP_ENV", "production"),
            ("MERCHANT_NAME", "Tea House"),
            ("PUBLIC_BASE_URL", "https://pay.example.com/"),
            db,
            STRIPE[0],
            STRIPE[1],
        ])
        .unwrap();
        assert_eq!(c.base_url_for(8080), "https://pay.example.com");
        assert_eq!(
            config(&[]).unwrap().base_url_for(4321),
            "http://localhost:4321"
        );
    }

    const STRIPE: [(&str, &str); 2] = [
        ("STRIPE_SECRET_KEY", "sk_test_123"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_a, whsec_b"),
    ];

    #[test]
    fn production_requires_stripe_keys_and_development_falls_back_to_the_sandbox() {
        let vars = [
            ("APP_ENV", "production"),
            ("PUBLIC_BASE_URL", "https://pay.example.com"),
            (
                "DATABASE_URL",
                "postgres://u@db/orderpay?sslmode=verify-full",
            ),
        ];
        let problems = config(&vars).unwrap_err();
        assert!(
            problems.iter().any(|p| p.starts_with("STRIPE_SECRET_KEY")),
            "{problems:?}"
        );
        let no_secret = config(&[vars[0], vars[1], vars[2], STRIPE[0]]).unwrap_err();
        assert!(
            no_secret
                .iter()
                .any(|p| p.starts_with("STRIPE_WEBHOOK_SECRET")),
            "{no_secret:?}"
        );
        let c = config(&[vars[0], vars[1], vars[2], STRIPE[0], STRIPE[1]]).unwrap();
        let stripe = c.stripe.unwrap();
        assert_eq!(
            stripe.webhook_secrets.len(),
            2,
            "rotation: both secrets kept"
        );
        assert_eq!(stripe.api_base, "https://api.stripe.com");
        assert!(
            config(&[]).unwrap().stripe.is_none(),
            "development: the sandbox"
        );
    }

    #[test]
    fn production_requires_a_database_url_that_verifies_the_certificate() {
        let base = [
            ("APP_ENV", "production"),
            ("PUBLIC_BASE_URL", "https://pay.example.com"),
            STRIPE[0],
            STRIPE[1],
        ];
        let missing = config(&base).unwrap_err();
        assert!(
            missing
                .iter()
                .any(|p| p.starts_with("DATABASE_URL: required")),
            "{missing:?}"
        );

        for mode in ["disable", "prefer", "require"] {
            let url = format!("postgres://u:pw@db.example.com/orderpay?sslmode={mode}");
            let vars = [
                base[0],
                base[1],
                base[2],
                base[3],
                ("DATABASE_URL", url.as_str()),
            ];
            let problems = config(&vars).unwrap_err();
            assert!(problems[0].contains("verify-full"), "{mode}: {problems:?}");
            assert!(!problems[0].contains("pw"), "the password is never echoed");
            let opted_out = [
                vars[0],
                vars[1],
                vars[2],
                vars[3],
                vars[4],
                ("DATABASE_ALLOW_UNVERIFIED_TLS", "true"),
            ];
            // The opt-out relaxes the certificate check, never encryption itself.
            match (mode, config(&opted_out)) {
                ("require", Ok(_)) => {}
                ("disable" | "prefer", Err(problems)) => {
                    assert!(problems[0].contains("plaintext"), "{mode}: {problems:?}");
                }
                (_, other) => panic!("{mode} with the opt-out: {:?}", other.err()),
            }
        }
        // With the opt-out and no sslmode at all (a Render internal URL), TLS is required.
        let internal = config(&[
            base[0],
            base[1],
            base[2],
            base[3],
            ("DATABASE_URL", "postgres://u@dpg-internal/orderpay"),
            ("DATABASE_ALLOW_UNVERIFIED_TLS", "true"),
        ])
        .unwrap();
        assert_eq!(
            internal.database.tls_mode(),
            orderpay_postgres::TlsMode::Require
        );
        let verified = [
            base[0],
            base[1],
            base[2],
            base[3],
            (
                "DATABASE_URL",
                "postgres://u@db.example.com/orderpay?sslmode=verify-full",
            ),
        ];
        assert!(config(&verified).is_ok());
    }

    #[test]
    fn database_deadlines_are_configurable() {
        let c = config(&[
            ("DATABASE_STATEMENT_TIMEOUT_MS", "1500"),
            ("DATABASE_QUERY_TIMEOUT_MS", "2500"),
            ("DATABASE_STARTUP_TIMEOUT_MS", "9000"),
        ])
        .unwrap();
        assert_eq!(c.pool.statement_timeout, Duration::from_millis(1500));
        assert_eq!(c.pool.query_timeout, Duration::from_millis(2500));
        assert_eq!(c.startup_timeout, Duration::from_secs(9));
    }

    #[test]
    fn the_database_password_is_not_in_debug_output() {
        let c = config(&[("DATABASE_URL", "postgres://u:hunter2@db/orderpay")]).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    const PRODUCTION: [(&str, &str); 6] = [
        ("APP_ENV", "production"),
        ("MERCHANT_NAME", "Tea House"),
        ("PUBLIC_BASE_URL", "https://pay.example.com"),
        (
            "DATABASE_URL",
            "postgres://u@db.example.com/orderpay?sslmode=verify-full",
        ),
        STRIPE[0],
        STRIPE[1],
    ];

    fn problem_about<'a>(problems: &'a [String], name: &str) -> &'a str {
        problems
            .iter()
            .find(|p| p.starts_with(name))
            .unwrap_or_else(|| panic!("nothing about {name} in {problems:?}"))
    }

    #[test]
    fn the_sandbox_is_asked_for_by_name_or_implied_only_on_loopback() {
        // No configuration at all, or a loopback address: the sandbox, as the quick start needs.
        for base in [
            None,
            Some("http://localhost:8080"),
            Some("http://127.0.0.1:9"),
            Some("http://[::1]:80/"),
        ] {
            let vars: Vec<(&str, &str)> =
                base.map(|b| ("PUBLIC_BASE_URL", b)).into_iter().collect();
            assert!(config(&vars).unwrap().stripe.is_none(), "{base:?}");
        }
        // Reachable by others and no keys: refused, saying why.
        for base in [
            "http://shop.example.com",
            "https://pay.example.com",
            "http://localhost.evil.com",
            "http://10.0.0.5:8080",
        ] {
            let problems = config(&[("PUBLIC_BASE_URL", base)]).unwrap_err();
            let problem = problem_about(&problems, "STRIPE_SECRET_KEY");
            assert!(problem.contains("PAYMENT_PROVIDER=sandbox"), "{problem}");
        }
        // Asked for by name: served anywhere but production.
        let named = config(&[
            ("PUBLIC_BASE_URL", "https://demo.example.com"),
            ("PAYMENT_PROVIDER", "sandbox"),
        ])
        .unwrap();
        assert!(named.stripe.is_none());
        let mut production = PRODUCTION[..3].to_vec();
        production.push(("PAYMENT_PROVIDER", "sandbox"));
        let problems = config(&production).unwrap_err();
        problem_about(&problems, "PAYMENT_PROVIDER");
        // Contradictions are refused.
        let both = config(&[("PAYMENT_PROVIDER", "sandbox"), STRIPE[0], STRIPE[1]]).unwrap_err();
        problem_about(&both, "PAYMENT_PROVIDER");
        let stripe_without_key = config(&[("PAYMENT_PROVIDER", "stripe")]).unwrap_err();
        problem_about(&stripe_without_key, "STRIPE_SECRET_KEY");
        assert!(
            config(&[("PAYMENT_PROVIDER", "stripe"), STRIPE[0], STRIPE[1]])
                .unwrap()
                .stripe
                .is_some()
        );
    }

    #[test]
    fn the_merchant_is_required_in_production_and_checked() {
        let without = |name: &str| {
            let vars: HashMap<String, String> = PRODUCTION
                .iter()
                .chain([&SIGNING_KEY])
                .filter(|(k, _)| *k != name)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Config::from_map(&vars)
        };
        let problems = without("MERCHANT_NAME").unwrap_err();
        assert!(problem_about(&problems, "MERCHANT_NAME").contains("required"));
        let merchant = without("").unwrap().merchant;
        assert_eq!(merchant.name(), "Tea House");
        let dev = Config::from_map(&HashMap::new()).unwrap().merchant;
        assert_eq!(dev.name(), Merchant::DEVELOPMENT_NAME);
        let full = config(&[
            ("MERCHANT_LOGO_URL", "https://cdn.example.com/tea.png"),
            ("MERCHANT_SUPPORT_CONTACT", "+44 20 7946 0958"),
        ])
        .unwrap()
        .merchant;
        assert_eq!(full.logo_url(), Some("https://cdn.example.com/tea.png"));
        assert_eq!(full.support_contact(), Some("+44 20 7946 0958"));
        for (name, value) in [
            ("MERCHANT_LOGO_URL", "logo.png"),
            ("MERCHANT_NAME", &*"x".repeat(81)),
            ("MERCHANT_SUPPORT_CONTACT", "\u{7}"),
        ] {
            let problems = config(&[(name, value)]).unwrap_err();
            problem_about(&problems, name);
        }
        let mut vars = PRODUCTION.to_vec();
        vars.push(("MERCHANT_LOGO_URL", "http://cdn.example.com/tea.png"));
        problem_about(&config(&vars).unwrap_err(), "MERCHANT_LOGO_URL");
    }

    #[test]
    fn production_urls_must_be_https() {
        assert!(config(&PRODUCTION).is_ok());
        for (name, url) in [
            ("PUBLIC_BASE_URL", "http://pay.example.com"),
            ("STRIPE_API_BASE", "http://api.stripe.example"),
        ] {
            let mut vars = PRODUCTION.to_vec();
            vars.retain(|(k, _)| *k != name);
            vars.push((name, url));
            let problems = config(&vars).unwrap_err();
            assert!(
                problem_about(&problems, name).contains("https"),
                "{problems:?}"
            );
            // Development keeps plain http for local fakes.
            assert!(
                config(&[(name, url), ("PAYMENT_PROVIDER", "sandbox")]).is_ok()
                    || name == "STRIPE_API_BASE"
            );
        }
    }

    #[test]
    fn a_bad_setting_never_echoes_a_secret() {
        let problems = config(&[
            (
                "CUSTOMER_DIRECTORY_URL",
                "ftp://dir.example.com/?token=tok_s3cr3t",
            ),
            ("STRIPE_API_BASE", "stripe.example/sk_live_s3cr3t"),
            ("PUBLIC_BASE_URL", "pay.example.com/?k=s3cr3t"),
            ("PORT", "eighty"),
        ])
        .unwrap_err();
        for name in [
            "CUSTOMER_DIRECTORY_URL",
            "STRIPE_API_BASE",
            "PUBLIC_BASE_URL",
        ] {
            problem_about(&problems, name);
        }
        let all = problems.join("\n");
        assert!(!all.contains("s3cr3t"), "{all}");
        assert!(
            all.contains("\"eighty\""),
            "harmless values are still shown: {all}"
        );
    }

    /// The compose file's PostgreSQL trusts every connection: it must not be published on
    /// the machine's public interfaces.
    #[test]
    fn compose_publishes_postgres_on_loopback_only() {
        let compose = include_str!("../../../../docker-compose.yml");
        let published: Vec<&str> = compose
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("- \"") && l.contains(":5432"))
            .collect();
        assert!(
            !published.is_empty(),
            "no PostgreSQL port in docker-compose.yml"
        );
        for line in published {
            assert!(line.starts_with("- \"127.0.0.1:"), "{line}");
        }
    }
}

//! Wiring: adapters built from configuration, handed to the domain services, served over HTTP.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use actix_web::dev::{Server, ServerHandle};
use anyhow::Context;

use orderpay_directory::HttpCustomerDirectory;
use orderpay_domain::api_key::ApiKeyService;
use orderpay_domain::customer::{CustomerDirectory, CustomerService};
use orderpay_domain::order::{OrderService, RandomReferences};
use orderpay_domain::payment::{
    CustomerLinks, EventFeed, PaymentGateway, PaymentProvider, PaymentServices, PaymentSettings,
    Reconciled,
};
use orderpay_domain::webhook::WebhookService;
use orderpay_domain::{Clock, SystemClock};
use orderpay_http::limits::Limits;
use orderpay_http::{AppState, PublicServices, Readiness, RouteLinks, WorkerStatus};
use orderpay_memory::SandboxGateway;
use orderpay_postgres::{PgStore, PoolOptions, database};
use orderpay_stripe::{StripeGateway, StripeWebhooks};
use secrecy::ExposeSecret;

use crate::config::Config;
use crate::workers::Workers;

/// Creates the database when missing and applies pending migrations; returns how many ran.
/// Safe with any number of replicas starting at once; bounded by `DATABASE_STARTUP_TIMEOUT_MS`.
pub async fn prepare_database(config: &Config) -> anyhow::Result<usize> {
    let prepared = database::prepare(config.session_database(), config.startup_timeout).await?;
    if prepared.created {
        tracing::info!(
            database = config.database.database_name(),
            "created the database"
        );
    }
    for version in &prepared.applied {
        tracing::info!(%version, "applied migration");
    }
    Ok(prepared.applied.len())
}

pub fn store(config: &Config) -> anyhow::Result<PgStore> {
    store_with(config, config.pool)
}

/// A store on `DATABASE_URL` with `pool`, its sessions (leases) on `DATABASE_DIRECT_URL`
/// when there is one.
fn store_with(config: &Config, pool: PoolOptions) -> anyhow::Result<PgStore> {
    let store = PgStore::new(&config.database, pool)?;
    match &config.database_direct {
        Some(direct) => store.with_sessions_on(direct, pool),
        None => Ok(store),
    }
}

pub fn api_keys(store: &PgStore) -> ApiKeyService {
    ApiKeyService::new(Arc::new(store.clone()), Arc::new(SystemClock))
}

/// The API keys as the running service checks them: verified keys trusted from memory for
/// `API_KEY_CACHE_TTL_MS`.
fn served_api_keys(config: &Config, store: &PgStore) -> anyhow::Result<ApiKeyService> {
    let ttl =
        chrono::TimeDelta::from_std(config.api_key_cache_ttl).context("API_KEY_CACHE_TTL_MS")?;
    Ok(api_keys(store).with_cache_ttl(ttl))
}

/// The services over a PostgreSQL store, for a service reachable at `base_url`.
pub fn state(config: &Config, store: &PgStore, base_url: &str) -> anyhow::Result<AppState> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let directory = match &config.customer_directory_url {
        Some(url) => Some(Arc::new(HttpCustomerDirectory::new(
            url,
            config.customer_directory_timeout,
        )?) as Arc<dyn CustomerDirectory>),
        None => None,
    };
    let customers = CustomerService::new(Arc::new(store.clone()), directory, clock.clone());
    let links: Arc<dyn CustomerLinks> = Arc::new(RouteLinks::new(base_url));
    let (gateway, webhooks) = provider(config, links.clone())?;
    let sandbox = gateway.provider() == PaymentProvider::Sandbox;
    let settings = PaymentSettings {
        links: links.clone(),
        checkout_ttl: chrono::TimeDelta::from_std(config.checkout_ttl)
            .context("CHECKOUT_EXPIRY_MINUTES")?,
        unknown_payment_grace: chrono::TimeDelta::from_std(config.unknown_payment_grace)
            .context("WEBHOOK_UNKNOWN_PAYMENT_GRACE_SECONDS")?,
        merchant: config.merchant.clone(),
    };
    // The order and payment services over one store: the keyed API's, and the public routes'.
    let services = |store: &PgStore| {
        let orders = OrderService::new(
            Arc::new(store.clone()),
            Arc::new(RandomReferences),
            gateway.clone(),
            clock.clone(),
        );
        let payments = PaymentServices::new(
            Arc::new(store.clone()),
            Arc::new(store.clone()),
            gateway.clone(),
            Arc::new(store.clone()),
            clock.clone(),
            settings.clone(),
        );
        (orders, payments)
    };
    let (orders, payments) = services(store);
    // The routes that need no key run on a pool of their own: a flood of them waits there.
    let public_store = store_with(
        config,
        PoolOptions {
            max_size: config.public_pool_size,
            shards: 1,
            ..config.pool
        },
    )?
    // Stripe's events and the sandbox's pages write history too: they wake the same sender.
    .sharing_outbox_signal(store);
    let (public_orders, public_payments) = services(&public_store);
    let probe = public_store.clone();
    let readiness: Readiness = Arc::new(move || {
        let probe = probe.clone();
        Box::pin(async move { probe.ping().await.map_err(|e| format!("{e:#}")) })
    });
    let outbound = WebhookService::new(
        Arc::new(store.clone()),
        Arc::new(config.webhooks.signing_key.clone()),
        clock.clone(),
        config.webhooks.url_policy,
        chrono::TimeDelta::from_std(config.webhooks.secret_overlap)
            .context("WEBHOOK_SECRET_OVERLAP_HOURS")?,
    );
    Ok(AppState {
        outbound,
        customers,
        orders,
        payments,
        sandbox,
        webhooks,
        api_keys: served_api_keys(config, store)?,
        idempotency: Arc::new(store.clone()),
        idempotency_ttl: chrono::TimeDelta::from_std(config.idempotency_ttl)
            .context("IDEMPOTENCY_KEY_TTL_HOURS")?,
        default_region: config.default_phone_region,
        readiness,
        public: PublicServices {
            payments: public_payments,
            orders: public_orders,
        },
        limits: Limits::new(config.limits),
        workers: WorkerStatus::default(),
        form_key: orderpay_http::FormKey::new(config.webhooks.signing_key.derive("pay form")),
        shutting_down: Arc::new(AtomicBool::new(false)),
        metrics: config.metrics_token.as_ref().map(|token| {
            crate::metrics::endpoint(
                token.expose_secret(),
                vec![("api", store.clone()), ("public", public_store.clone())],
            )
        }),
    })
}

/// A payment provider and, when it sends signed events, its event feed.
type Provider = (Arc<dyn PaymentGateway>, Option<Arc<dyn EventFeed>>);

/// The payment provider and its event feed: Stripe when configured, else the sandbox (whose
/// events come from its own pages).
fn provider(config: &Config, links: Arc<dyn CustomerLinks>) -> anyhow::Result<Provider> {
    let Some(stripe) = &config.stripe else {
        tracing::warn!(
            "no STRIPE_SECRET_KEY: payments go through the SANDBOX, which takes no money"
        );
        return Ok((Arc::new(SandboxGateway::new(links)), None));
    };
    let gateway = StripeGateway::new(
        stripe.secret_key.expose_secret(),
        &stripe.api_base,
        STRIPE_TIMEOUT,
    )?;
    let secrets: Vec<&str> = stripe
        .webhook_secrets
        .iter()
        .map(|s| s.expose_secret())
        .collect();
    tracing::info!(
        api_version = orderpay_stripe::stripe_api_version(),
        "payments through Stripe; set the webhook endpoint to this API version"
    );
    Ok((
        Arc::new(crate::metrics::CountedGateway(Arc::new(gateway))),
        Some(Arc::new(StripeWebhooks::new(&secrets))),
    ))
}

/// How long one call to Stripe may take.
const STRIPE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Runs one reconciliation now (`orderpay reconcile`).
pub async fn reconcile_once(config: &Config) -> anyhow::Result<Reconciled> {
    let store = store(config)?;
    let state = state(config, &store, &config.base_url_for(config.port))?;
    Ok(state.payments.events.reconcile().await?)
}

/// What a process runs: `orderpay serve` the API and the workers (`RUN_WORKERS=false`: the
/// API alone), `orderpay work` the workers alone, with `/healthz` and `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Api,
    Workers,
    Both,
}

/// The service, bound and ready to run.
pub struct Application {
    port: u16,
    server: Server,
    shutting_down: Arc<AtomicBool>,
    store: PgStore,
    workers: Option<Workers>,
}

impl Application {
    /// Prepares the database, wires everything and binds `HOST:PORT` (port 0 picks a free one):
    /// the API, and the workers unless `RUN_WORKERS=false`.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let role = if config.run_workers {
            Role::Both
        } else {
            Role::Api
        };
        Self::build_as(config, role).await
    }

    /// As [`build`](Self::build), for `role`.
    pub async fn build_as(config: &Config, role: Role) -> anyhow::Result<Self> {
        prepare_database(config).await?;
        let workers = config
            .http_workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let pool = PoolOptions {
            shards: if config.pool_per_worker { workers } else { 1 },
            ..config.pool
        };
        let store = store_with(config, pool)?;
        let address = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&address).with_context(|| format!("binding {address}"))?;
        let port = listener.local_addr()?.port();
        let state = state(config, &store, &config.base_url_for(port))?;
        let background = match role {
            Role::Api => None,
            Role::Workers | Role::Both => Some(crate::jobs::start_workers(
                config,
                &store,
                &store_with(config, crate::jobs::sender_pool(config))?,
                &state,
                state.workers.clone(),
            )?),
        };
        let shutting_down = state.shutting_down.clone();
        let server = match role {
            Role::Workers => orderpay_http::health_server(listener, state)?,
            Role::Api | Role::Both => orderpay_http::server(
                listener,
                state,
                workers,
                orderpay_postgres::bind_thread_to_pool,
            )?,
        };
        tracing::info!(
            ?role,
            "orderpay listening on http://{}:{port}, store: PostgreSQL at {}",
            config.host,
            config.database.display()
        );
        Ok(Self {
            port,
            server,
            shutting_down,
            store,
            workers: background,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The store the server uses (a handle on the same pools and query counter).
    pub fn store(&self) -> PgStore {
        self.store.clone()
    }

    /// The flag that turns `/readyz` to 503 ahead of a shutdown.
    pub fn shutting_down(&self) -> Arc<AtomicBool> {
        self.shutting_down.clone()
    }

    /// Stops the server: `handle().stop(true)` finishes requests in flight first.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped, then stops the workers and waits for them (the
    /// deliveries in flight finish).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        if let Some(workers) = self.workers {
            workers.stop().await;
        }
        served
    }
}

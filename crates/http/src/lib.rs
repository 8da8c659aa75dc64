//! orderpay's HTTP API on actix-web. Handlers parse the request, call one service method and
//! map the result; every error becomes RFC 9457 problem details in [`problem`].

mod body;
mod customers;
mod endpoints;
mod events;
mod idempotency;
pub mod limits;
mod links;
pub mod metrics;
mod middleware;
pub mod openapi;
mod orders;
mod pages;
mod pay;
mod payments;
pub mod problem;
mod qr;
mod query;
pub mod requests;
pub mod routes;
mod sandbox;
pub mod schemas;
mod test_helpers;
pub mod texts;
mod views;
mod webhooks;

use std::future::Future;
use std::net::TcpListener;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};

use orderpay_domain::api_key::ApiKeyService;
use orderpay_domain::customer::CustomerService;
use orderpay_domain::idempotency::IdempotencyStore;
use orderpay_domain::order::OrderService;
use orderpay_domain::payment::{EventFeed, PaymentServices};
use orderpay_domain::phone::PhoneRegion;
use orderpay_domain::webhook::WebhookService;

use crate::problem::{Code, Problem};

pub use body::MAX_BODY_BYTES;
pub use links::RouteLinks;
pub use metrics::MetricsEndpoint;
pub use middleware::request_context;
pub use pay::FormKey;
pub use routes::{Access, Operation};
pub use views::EventJson;

/// Whether the service can do its work now (the database answers). `Err` says why not.
pub type Readiness =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// Which background workers are down now (their supervisor is restarting them), for
/// `/readyz`: shared by the workers' supervisor and the server.
#[derive(Debug, Clone, Default)]
pub struct WorkerStatus(Arc<std::sync::Mutex<std::collections::BTreeMap<&'static str, bool>>>);

impl WorkerStatus {
    fn set(&self, name: &'static str, up: bool) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name, up);
    }

    pub fn running(&self, name: &'static str) {
        self.set(name, true);
    }

    pub fn down(&self, name: &'static str) {
        self.set(name, false);
    }

    /// The workers that are down now, by name.
    pub fn down_now(&self) -> Vec<&'static str> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, up)| !**up)
            .map(|(name, _)| *name)
            .collect()
    }
}

/// The services behind the routes that need no API key (the pay link, the sandbox's pages,
/// Stripe's webhook), over a database pool of their own: a flood of them waits for that pool
/// and never takes the connections keyed calls use.
pub struct PublicServices {
    pub payments: PaymentServices,
    pub orders: OrderService,
}

/// Everything handlers need, built once by the app and shared by every worker.
pub struct AppState {
    pub customers: CustomerService,
    pub orders: OrderService,
    pub payments: PaymentServices,
    pub api_keys: ApiKeyService,
    /// Clients' idempotency keys and their answers.
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// How long an idempotency key lasts (`IDEMPOTENCY_KEY_TTL_HOURS`).
    pub idempotency_ttl: chrono::TimeDelta,
    /// Whether the sandbox provider's checkout pages are served (no Stripe key configured).
    pub sandbox: bool,
    /// Stripe's signed webhook events, when Stripe is configured.
    pub webhooks: Option<Arc<dyn EventFeed>>,
    /// Webhooks out: merchants' endpoints, the event feed, deliveries.
    pub outbound: WebhookService,
    /// The region national phone numbers are read in; `None` accepts international form only.
    pub default_region: Option<PhoneRegion>,
    pub readiness: Readiness,
    /// The services of the routes that need no key, on their own pool.
    pub public: PublicServices,
    /// `/metrics`, when `METRICS_TOKEN` is set; requests are only counted then.
    pub metrics: Option<MetricsEndpoint>,
    /// Rate limits per API key and per client address.
    pub limits: limits::Limits,
    /// The key of the pay page's form proof.
    pub form_key: pay::FormKey,
    /// The background workers' health, as `/readyz` reports it.
    pub workers: WorkerStatus,
    /// Set when the service is about to stop: `/readyz` answers 503 from then on, so load
    /// balancers stop sending new requests while those in flight finish.
    pub shutting_down: Arc<AtomicBool>,
}

/// The routes, for `App::configure`: the route table's, each behind its guard (see
/// [`routes`]), and Swagger UI with the document it shows.
pub fn routes(cfg: &mut web::ServiceConfig) {
    routes::register(cfg);
    cfg.route("/openapi.json", web::get().to(openapi::serve));
    cfg.service(
        utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}")
            .config(utoipa_swagger_ui::Config::from("/openapi.json")),
    );
}

/// The application every worker serves (and tests call): the routes over `state`, behind the
/// request context (request ids, protective headers, problems for actix's own errors).
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .wrap(from_fn(middleware::request_context))
        .configure(routes)
}

/// The HTTP server on `listener`, not yet running: await it (or spawn it) to serve. Signals
/// are left to the caller, which stops it through `Server::handle`. `on_worker_start` runs on
/// each worker's thread as it starts, with the worker's number (0, 1, …).
pub fn server(
    listener: TcpListener,
    state: AppState,
    workers: usize,
    on_worker_start: fn(usize),
) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let started = Arc::new(AtomicUsize::new(0));
    let server = HttpServer::new(move || {
        on_worker_start(started.fetch_add(1, Ordering::Relaxed));
        app(state.clone())
    })
    .workers(workers.max(1))
    .disable_signals()
    .shutdown_timeout(10)
    .listen(listener)?
    .run();
    Ok(server)
}

/// A server of `/healthz` and `/readyz` only, for a process that runs the workers and no API
/// (`orderpay work`).
pub fn health_server(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(middleware::request_context))
            .configure(|cfg| {
                routes::register_where(cfg, |path| matches!(path, "/healthz" | "/readyz"))
            })
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(10)
    .listen(listener)?
    .run();
    Ok(server)
}

/// `/docs` is the page at `/docs/` (its assets are relative to it).
async fn docs_index() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header(("location", "/docs/"))
        .finish()
}

/// 200 while the process runs (a liveness probe).
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "The process runs", body = serde_json::Value)))]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// 200 while the database answers; 503 otherwise, and while the service drains on SIGTERM.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "The database answers", body = serde_json::Value),
        (status = 429, description = "Over the rate limit (`rate_limited`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 503, description = "The database does not answer, or the service is shutting down", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    if state.shutting_down.load(Ordering::Relaxed) {
        return Err(Problem::new(
            Code::ServiceUnavailable,
            "the service is shutting down",
        ));
    }
    let down = state.workers.down_now();
    if !down.is_empty() {
        let names: Vec<String> = down.iter().map(|name| format!("`{name}`")).collect();
        tracing::warn!(workers = ?down, "not ready: workers down");
        return Err(Problem::new(
            Code::ServiceUnavailable,
            format!(
                "a background worker is down and being restarted: {} (the log has the cause)",
                names.join(", ")
            ),
        ));
    }
    match (state.readiness)().await {
        Ok(()) => Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"}))),
        Err(why) => {
            tracing::warn!(%why, "not ready");
            Err(Problem::new(
                Code::ServiceUnavailable,
                "the database does not answer",
            ))
        }
    }
}

//! `GET /metrics`: Prometheus text for operators, behind `Authorization: Bearer
//! $METRICS_TOKEN`, and not served at all (404) without a token. What it shows is recorded
//! through the `metrics` facade: the HTTP layer's requests here, by route pattern (never the
//! path, which carries pay tokens and ids), and the rest by the app that renders the page.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::Method;
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::problem::{Code, Problem};

/// Renders the page: samples what is read on demand (pools, the outbox), then the text.
pub type Render = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = String> + Send>> + Send + Sync>;

/// `/metrics`, when `METRICS_TOKEN` is set.
pub struct MetricsEndpoint {
    /// SHA-256 of the token: compared digest to digest, so the comparison's time says nothing
    /// about the token.
    token_digest: [u8; 32],
    render: Render,
}

impl MetricsEndpoint {
    pub fn new(token: &str, render: Render) -> Self {
        Self {
            token_digest: Sha256::digest(token.as_bytes()).into(),
            render,
        }
    }

    fn admits(&self, req: &HttpRequest) -> bool {
        let given = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let digest: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        digest
            .iter()
            .zip(self.token_digest.iter())
            .fold(0u8, |differ, (a, b)| differ | (a ^ b))
            == 0
    }
}

/// Buckets of `orderpay_http_request_duration_seconds`.
pub const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Counts a request answered, by method, route pattern and status, and times it.
pub(crate) fn record_request(method: &Method, route: String, status: u16, took: Duration) {
    // Methods a client invents would make a label value each.
    let method = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    metrics::counter!("orderpay_http_requests_total",
        "method" => method, "route" => route.clone(), "status" => status.to_string())
    .increment(1);
    metrics::histogram!("orderpay_http_request_duration_seconds",
        "method" => method, "route" => route)
    .record(took.as_secs_f64());
}

/// Counts a Stripe webhook received, by what became of it: `applied`, `unchanged`,
/// `duplicate`, `ignored`, `refused` (signature or body), `retry` (asked again later).
pub(crate) fn record_webhook(result: &'static str) {
    metrics::counter!("orderpay_webhooks_received_total", "result" => result).increment(1);
}

/// `GET /metrics`.
pub async fn metrics(state: Data<AppState>, req: HttpRequest) -> Result<HttpResponse, Problem> {
    let Some(endpoint) = &state.metrics else {
        return Err(Problem::not_found("route"));
    };
    if !endpoint.admits(&req) {
        return Err(Problem::new(
            Code::Unauthorized,
            "GET /metrics needs Authorization: Bearer <METRICS_TOKEN>",
        ));
    }
    let text = (endpoint.render)().await;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}

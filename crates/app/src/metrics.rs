//! Prometheus metrics (`GET /metrics`, behind `METRICS_TOKEN`): the process's recorder (the
//! `metrics` crate's facade, exported by `metrics-exporter-prometheus`), what is sampled
//! each time the page is read (the database pools, the outbox), and the payment provider's
//! calls, counted by a decorator of its gateway so the adapter stays free of it.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use orderpay_domain::money::Currency;
use orderpay_domain::payment::{
    ChargeLimits, CheckoutRequest, CheckoutSession, GatewayError, PaymentGateway, PaymentProvider,
    Reconciled, RefundRequest, RefundResult, SessionState,
};
use orderpay_http::MetricsEndpoint;
use orderpay_postgres::PgStore;

/// The process's recorder, installed on first use: there is one per process, shared by every
/// service it runs (tests run several).
fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("orderpay_http_request_duration_seconds".into()),
                    &orderpay_http::metrics::DURATION_BUCKETS,
                )
                .expect("buckets are given")
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder)
                .expect("orderpay installs the only metrics recorder");
            handle
        })
        .clone()
}

/// `/metrics` for `token`, sampling `pools` (named) and the outbox of the first as it renders.
pub fn endpoint(token: &str, pools: Vec<(&'static str, PgStore)>) -> MetricsEndpoint {
    let handle = handle();
    let pools = Arc::new(pools);
    MetricsEndpoint::new(
        token,
        Arc::new(move || {
            let (handle, pools) = (handle.clone(), pools.clone());
            Box::pin(async move {
                sample(&pools).await;
                handle.run_upkeep();
                handle.render()
            })
        }),
    )
}

async fn sample(pools: &[(&'static str, PgStore)]) {
    for (pool, store) in pools {
        let status = store.pool_status();
        metrics::gauge!("orderpay_db_pool_connections", "pool" => *pool).set(status.open as f64);
        metrics::gauge!("orderpay_db_pool_in_use", "pool" => *pool).set(status.in_use as f64);
        metrics::gauge!("orderpay_db_pool_waiting", "pool" => *pool).set(status.waiting as f64);
    }
    let Some((_, store)) = pools.first() else {
        return;
    };
    match store.outbox_backlog().await {
        Ok(backlog) => {
            metrics::gauge!("orderpay_outbox_pending_deliveries").set(backlog.pending as f64);
            metrics::gauge!("orderpay_outbox_oldest_pending_age_seconds")
                .set(backlog.oldest_age_seconds);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: the outbox could not be read"),
    }
}

/// Counts one reconciliation run: `ran` (with the payments it examined, changed and could
/// not settle), `skipped` (another process held the lease) or `failed`.
pub fn record_reconciliation(outcome: &anyhow::Result<Reconciled>) {
    let (label, done) = match outcome {
        Ok(done) if done.ran => ("ran", Some(done)),
        Ok(_) => ("skipped", None),
        Err(_) => ("failed", None),
    };
    metrics::counter!("orderpay_reconciliation_runs_total", "outcome" => label).increment(1);
    if let Some(done) = done {
        for (result, n) in [
            ("examined", done.examined),
            ("changed", done.changed),
            ("failed", done.failed),
        ] {
            metrics::counter!("orderpay_reconciliation_payments_total", "result" => result)
                .increment(n as u64);
        }
    }
}

/// A payment gateway whose calls are counted, by operation and outcome (`ok`, `rejected`,
/// `unavailable`), as `orderpay_stripe_calls_total`.
pub struct CountedGateway(pub Arc<dyn PaymentGateway>);

fn counted<T>(operation: &'static str, result: Result<T, GatewayError>) -> Result<T, GatewayError> {
    let outcome = match &result {
        Ok(_) => "ok",
        Err(GatewayError::Rejected(_)) => "rejected",
        Err(GatewayError::Unavailable(_)) => "unavailable",
    };
    metrics::counter!("orderpay_stripe_calls_total",
        "operation" => operation, "outcome" => outcome)
    .increment(1);
    result
}

#[async_trait]
impl PaymentGateway for CountedGateway {
    fn provider(&self) -> PaymentProvider {
        self.0.provider()
    }

    fn limits(&self, currency: Currency) -> ChargeLimits {
        self.0.limits(currency)
    }

    async fn open_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, GatewayError> {
        counted("open_checkout", self.0.open_checkout(request).await)
    }

    async fn expire_checkout(&self, session_id: &str) -> Result<(), GatewayError> {
        counted("expire_checkout", self.0.expire_checkout(session_id).await)
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundResult, GatewayError> {
        counted("refund", self.0.refund(request).await)
    }

    async fn checkout_state(&self, session_id: &str) -> Result<SessionState, GatewayError> {
        counted("checkout_state", self.0.checkout_state(session_id).await)
    }
}

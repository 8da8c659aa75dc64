//! The background work this service runs, started as supervised workers (see
//! [`crate::workers`]): the webhook sender, reconciliation, retention and the purge of expired
//! idempotency keys.

use std::sync::Arc;

use anyhow::Context;

use orderpay_domain::SystemClock;
use orderpay_domain::idempotency::IdempotencyStore;
use orderpay_domain::payment::ProviderEventService;
use orderpay_domain::webhook::{Dispatcher, RetryRules, WebhookService};
use orderpay_http::{AppState, WorkerStatus};
use orderpay_postgres::{PgStore, PoolOptions};
use orderpay_webhooks::HttpSender;

use crate::config::Config;
use crate::workers::Workers;

/// Reconciles stuck payments with the provider every `every`. Replicas may all run it: one
/// at a time does the work (an advisory lock).
async fn reconcile(events: ProviderEventService) {
    let outcome = events.reconcile().await.map_err(anyhow::Error::from);
    crate::metrics::record_reconciliation(&outcome);
    match outcome {
        Ok(done) if done.changed > 0 || done.failed > 0 => tracing::info!(
            examined = done.examined,
            changed = done.changed,
            failed = done.failed,
            "reconciled payments with the provider"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "reconciliation failed"),
    }
}

/// Retention: settled deliveries older than `deliveries`, and events older than `events` out
/// of the feed. Replicas may all run it: each batch skips the rows another is handling.
async fn purge_expired(
    outbound: WebhookService,
    deliveries: chrono::TimeDelta,
    events: chrono::TimeDelta,
) {
    let now = chrono::Utc::now();
    match outbound.purge_expired(now - deliveries, now - events).await {
        Ok((0, 0)) => {}
        Ok((deliveries, events)) => tracing::info!(
            deliveries,
            events,
            "removed old webhook deliveries and retired old events from the feed"
        ),
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "retention failed"),
    }
}

/// Removes expired idempotency keys. Replicas may all do it: a delete of what is expired is
/// the same from any.
async fn purge_idempotency_keys(store: PgStore, ttl: chrono::TimeDelta) {
    match IdempotencyStore::purge(&store, chrono::Utc::now() - ttl).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "removed expired idempotency keys"),
        Err(e) => tracing::warn!(error = %e, "removing expired idempotency keys failed"),
    }
}

/// The sender of webhooks out, over `store`.
fn webhook_dispatcher(config: &Config, store: &PgStore) -> anyhow::Result<Dispatcher> {
    let settings = &config.webhooks;
    let sender = HttpSender::new(
        settings.signing_key.clone(),
        settings.url_policy,
        settings.timeout,
    )
    .map_err(|e| anyhow::anyhow!("building the webhook sender: {e}"))?;
    Ok(Dispatcher::new(
        Arc::new(store.clone()),
        Arc::new(sender),
        Arc::new(orderpay_http::EventJson),
        Arc::new(SystemClock),
        RetryRules {
            schedule: settings.schedule.clone(),
            disable_after: chrono::TimeDelta::from_std(settings.disable_after)
                .context("WEBHOOK_DISABLE_AFTER_HOURS")?,
        },
        chrono::TimeDelta::from_std(settings.timeout).context("WEBHOOK_TIMEOUT_SECONDS")?,
    ))
}

/// How the webhook sender paces itself: it looks every second when nothing woke it (retries
/// falling due, deliveries another replica committed; each process's writes wake its own
/// sender), and, woken again and again with nothing to send (orders written, no endpoint
/// wanting them), ten times a second at most.
const WEBHOOK_PACE: orderpay_webhooks::worker::Pace = orderpay_webhooks::worker::Pace {
    poll: std::time::Duration::from_secs(1),
    claim_gap: std::time::Duration::from_millis(5),
};

/// Connections of the webhook sender's own pool (claims and outcomes; the sends themselves
/// hold none).
const WEBHOOK_POOL_SIZE: usize = 8;

/// The pool options of the webhook sender's store.
pub(crate) fn sender_pool(config: &Config) -> PoolOptions {
    PoolOptions {
        max_size: WEBHOOK_POOL_SIZE,
        shards: 1,
        ..config.pool
    }
}

/// Starts the background workers, each watched (see [`Workers`]): the webhook sender,
/// reconciliation (when `RECONCILE_INTERVAL_SECONDS` is not 0) and the idempotency keys'
/// purge.
///
/// The sender works on `sender_store`, a small pool of its own ([`sender_pool`]), so it never
/// takes the API's connections.
pub(crate) fn start_workers(
    config: &Config,
    store: &PgStore,
    sender_store: &PgStore,
    state: &AppState,
    status: WorkerStatus,
) -> anyhow::Result<Workers> {
    let mut workers = Workers::new(status);
    let dispatcher = Arc::new(webhook_dispatcher(config, sender_store)?);
    let wake = store.outbox_signal();
    workers.start("webhook_sender", move |stop| {
        orderpay_webhooks::worker::run_until_stopped(
            dispatcher.clone(),
            wake.clone(),
            WEBHOOK_PACE,
            stop,
        )
    });
    if let Some(every) = config.reconcile_interval {
        let events = state.payments.events.clone();
        // The first run after one interval: let the service settle first.
        workers.start(
            "reconciliation",
            crate::workers::every(every, every, move || reconcile(events.clone())),
        );
    }
    let outbound = state.outbound.clone();
    let (deliveries, events) = (
        chrono::TimeDelta::from_std(config.webhooks.delivery_retention)
            .context("WEBHOOK_DELIVERY_RETENTION_DAYS")?,
        chrono::TimeDelta::from_std(config.webhooks.event_retention)
            .context("EVENT_RETENTION_DAYS")?,
    );
    workers.start(
        "retention",
        crate::workers::every(
            std::time::Duration::from_secs(60),
            std::time::Duration::from_secs(3600),
            move || purge_expired(outbound.clone(), deliveries, events),
        ),
    );
    let (purged, ttl) = (store.clone(), state.idempotency_ttl);
    workers.start(
        "idempotency_purge",
        crate::workers::every(
            std::time::Duration::ZERO,
            std::time::Duration::from_secs(3600),
            move || purge_idempotency_keys(purged.clone(), ttl),
        ),
    );
    Ok(workers)
}

//! The sender's worker: deliveries leave continuously, each recorded as it completes, with at
//! most a fair share of the sender's places per endpoint, so a hanging or slow endpoint holds
//! back none of the others.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::{Id, JoinError, JoinSet};

use orderpay_domain::webhook::{Dispatcher, WebhookEndpointId};

/// How the worker paces itself.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// How often it looks for due deliveries when nothing woke it (retries falling due,
    /// deliveries another replica committed).
    pub poll: Duration,
    /// The least and the most time between two looks that found nothing though woken (orders
    /// written, no endpoint wanting them): doubling from one to the other.
    pub idle_gap: Duration,
    pub idle_gap_max: Duration,
}

/// Sends webhooks until `stop` turns true: woken by `wake` (this process wrote something that
/// may have made deliveries) and every `pace.poll`. On stop it claims nothing more and lets
/// the deliveries in flight finish (each is bounded by the send's timeout). Returns `Err`
/// only when it cannot go on.
pub async fn run_until_stopped(
    dispatcher: Arc<Dispatcher>,
    wake: Arc<Notify>,
    pace: Pace,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    // Each delivery is a task of its own, so it goes on while this loop claims or waits.
    let mut in_flight: JoinSet<Result<(), orderpay_domain::store::StoreError>> = JoinSet::new();
    let mut endpoint_of: HashMap<Id, WebhookEndpointId> = HashMap::new();
    let mut per_endpoint: HashMap<WebhookEndpointId, usize> = HashMap::new();
    let mut idle_gap = pace.idle_gap;
    while !*stop.borrow() {
        let free = dispatcher.in_flight.saturating_sub(in_flight.len());
        let busy: Vec<WebhookEndpointId> = per_endpoint
            .iter()
            .filter(|(_, n)| **n >= dispatcher.per_endpoint)
            .map(|(id, _)| *id)
            .collect();
        let claimed = match dispatcher.claim(free, &busy).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "claiming webhook deliveries failed");
                Vec::new()
            }
        };
        let found = !claimed.is_empty();
        for due in claimed {
            let endpoint = due.endpoint.id;
            *per_endpoint.entry(endpoint).or_default() += 1;
            let dispatcher = dispatcher.clone();
            let task = in_flight.spawn(async move { dispatcher.deliver(due).await });
            endpoint_of.insert(task.id(), endpoint);
        }
        if found {
            idle_gap = pace.idle_gap;
            // More may be due (the next event of an order just delivered, say).
            if in_flight.len() < dispatcher.in_flight {
                continue;
            }
        }
        tokio::select! {
            Some(done) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                finished(done, &mut endpoint_of, &mut per_endpoint);
                continue;
            }
            () = wake.notified() => {}
            () = tokio::time::sleep(pace.poll) => {}
            changed = stop.changed() => {
                // The flag's owner is gone: nobody can ask to stop any more, so stop now.
                if changed.is_err() {
                    break;
                }
            }
        }
        if !found && in_flight.is_empty() {
            // Woken but found nothing, again and again, with nothing in flight: look less
            // often, up to the most; a look that finds work resets it. (With deliveries in
            // flight, their completions pace the looks instead.)
            tokio::time::sleep(idle_gap).await;
            idle_gap = (idle_gap * 2).min(pace.idle_gap_max);
        }
    }
    while let Some(done) = in_flight.join_next_with_id().await {
        finished(done, &mut endpoint_of, &mut per_endpoint);
    }
    Ok(())
}

/// A delivery's task ended: its endpoint's place is free again. A record that failed, or a
/// task that panicked, is logged; the delivery's claim lapses and it is sent again.
fn finished(
    done: Result<(Id, Result<(), orderpay_domain::store::StoreError>), JoinError>,
    endpoint_of: &mut HashMap<Id, WebhookEndpointId>,
    per_endpoint: &mut HashMap<WebhookEndpointId, usize>,
) {
    let id = match &done {
        Ok((id, _)) => *id,
        Err(e) => e.id(),
    };
    match done {
        Ok((_, Ok(()))) => {}
        Ok((_, Err(e))) => tracing::warn!(error = %e, "recording a webhook delivery failed"),
        Err(e) => tracing::error!(error = %e, "a webhook delivery's task failed"),
    }
    let Some(endpoint) = endpoint_of.remove(&id) else {
        return;
    };
    if let Some(n) = per_endpoint.get_mut(&endpoint) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            per_endpoint.remove(&endpoint);
        }
    }
}

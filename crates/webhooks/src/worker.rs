//! The sender's worker: deliveries leave continuously, with at most a fair share of the
//! sender's places per endpoint, so a hanging or slow endpoint holds back none of the others;
//! outcomes are recorded as they complete, those that completed together in one statement.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};
use tokio::task::{Id, JoinError, JoinSet};

use orderpay_domain::webhook::{Dispatcher, RecordedAttempt, WebhookEndpointId};

/// How the worker paces itself.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// How often it looks for due deliveries when nothing woke it (retries falling due,
    /// deliveries another replica committed). A wake-up is looked at at once: only writes
    /// that made deliveries wake the sender, so no back-off is needed against idle ones (a
    /// doubling gap here, up to 100 ms, kept deliveries waiting while orders came at a steady
    /// pace: commit-to-receipt p99 80 ms at 200 orders/s, bench/README.md).
    pub poll: Duration,
    /// While deliveries are in flight, the least time between two looks asked for by
    /// wake-ups (each order written, each group recorded): in a burst, one claim then serves
    /// the deliveries of many writes. (A share of completions asks for a look at once.)
    pub claim_gap: Duration,
}

/// The most outcomes recorded in one statement.
const RECORD_GROUP: usize = 64;

/// Sends webhooks until `stop` turns true: woken by `wake` (this process wrote something that
/// made deliveries), by outcomes recorded (an order's next event may be due), by a share of
/// completions (room for another claim) and every `pace.poll`; while deliveries are in
/// flight, wake-ups are gathered into one look per `pace.claim_gap`. On stop it claims
/// nothing more, lets the deliveries in flight finish (each is bounded by the send's
/// timeout) and records them. Returns `Err` only when it cannot go on.
pub async fn run_until_stopped(
    dispatcher: Arc<Dispatcher>,
    wake: Arc<Notify>,
    pace: Pace,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let recorded = Arc::new(Notify::new());
    let (completed, outcomes) = mpsc::unbounded_channel();
    let recorder = tokio::spawn(record(dispatcher.clone(), outcomes, recorded.clone()));
    let mut sending = Sending::default();
    // Completions since the last claim: a share of them asks for a look at once.
    let mut completions = 0;
    // A wake-up asked for a look; while deliveries are in flight it waits out `claim_gap`.
    let mut wanted = true;
    let mut last_claim = tokio::time::Instant::now();
    while !*stop.borrow() {
        let look = sending.tasks.is_empty()
            || completions >= dispatcher.share()
            || (wanted && last_claim.elapsed() >= pace.claim_gap);
        let mut found = false;
        if look {
            let free = dispatcher.in_flight.saturating_sub(sending.tasks.len());
            let claimed = match dispatcher.claim(free, &sending.per_endpoint).await {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming webhook deliveries failed");
                    Vec::new()
                }
            };
            (completions, wanted, last_claim) = (0, false, tokio::time::Instant::now());
            found = !claimed.is_empty();
            for due in claimed {
                let dispatcher = dispatcher.clone();
                let endpoint = due.endpoint.id;
                let task = sending
                    .tasks
                    .spawn(async move { dispatcher.send(due).await });
                sending.started(task.id(), endpoint);
            }
        }
        if found {
            // More may be due (more endpoints, or a burst larger than a share): look again.
            wanted = true;
        }
        let busy = !sending.tasks.is_empty();
        tokio::select! {
            Some(done) = sending.tasks.join_next_with_id(), if busy => {
                sending.finished(done, &completed);
                completions += 1;
                continue;
            }
            () = tokio::time::sleep_until(last_claim + pace.claim_gap), if busy && wanted => {
                continue;
            }
            () = wake.notified() => {}
            () = recorded.notified() => {}
            () = tokio::time::sleep(pace.poll) => {}
            changed = stop.changed() => {
                // The flag's owner is gone: nobody can ask to stop any more, so stop now.
                if changed.is_err() {
                    break;
                }
            }
        }
        wanted = true;
    }
    while let Some(done) = sending.tasks.join_next_with_id().await {
        sending.finished(done, &completed);
    }
    drop(completed);
    recorder
        .await
        .map_err(|e| format!("the webhook recorder failed: {e}"))
}

/// The deliveries in flight: one task each, and how many go to each endpoint.
#[derive(Default)]
struct Sending {
    tasks: JoinSet<RecordedAttempt>,
    endpoint_of: HashMap<Id, WebhookEndpointId>,
    per_endpoint: HashMap<WebhookEndpointId, usize>,
}

impl Sending {
    fn started(&mut self, task: Id, endpoint: WebhookEndpointId) {
        self.endpoint_of.insert(task, endpoint);
        *self.per_endpoint.entry(endpoint).or_default() += 1;
    }

    /// A delivery's task ended: its endpoint's place is free again, and its outcome goes to
    /// the recorder. A task that panicked is logged; its delivery's claim lapses and it is
    /// sent again.
    fn finished(
        &mut self,
        done: Result<(Id, RecordedAttempt), JoinError>,
        recorder: &mpsc::UnboundedSender<RecordedAttempt>,
    ) {
        let id = match done {
            Ok((id, attempt)) => {
                // The recorder ends only after this loop: it is there to take it.
                let _ = recorder.send(attempt);
                id
            }
            Err(e) => {
                tracing::error!(error = %e, "a webhook delivery's task failed");
                e.id()
            }
        };
        let Some(endpoint) = self.endpoint_of.remove(&id) else {
            return;
        };
        if let Some(n) = self.per_endpoint.get_mut(&endpoint) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_endpoint.remove(&endpoint);
            }
        }
    }
}

/// Records outcomes as they come: whatever completed while the last statement ran, up to
/// [`RECORD_GROUP`], in the next one (never waiting for a slow delivery). Ends when every
/// sender of `outcomes` is gone and all are recorded. A group that cannot be recorded is
/// logged; its deliveries' claims lapse and they are sent again.
async fn record(
    dispatcher: Arc<Dispatcher>,
    mut outcomes: mpsc::UnboundedReceiver<RecordedAttempt>,
    recorded: Arc<Notify>,
) {
    let mut group = Vec::with_capacity(RECORD_GROUP);
    while outcomes.recv_many(&mut group, RECORD_GROUP).await > 0 {
        if let Err(e) = dispatcher.record(&group).await {
            tracing::warn!(error = %e, "recording webhook deliveries failed");
        }
        group.clear();
        recorded.notify_one();
    }
}

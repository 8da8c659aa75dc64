//! Sending due deliveries: claim what is due (a fair share per endpoint), sign and send each
//! (never inside a transaction), and record each outcome under its claim as it completes.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::TimeDelta;

use super::delivery::{EndpointHealth, RetryRules};
use super::endpoint::WebhookEndpointId;
use super::ports::{
    Claim, DueDelivery, EventRenderer, OutgoingWebhook, RecordedAttempt, WebhookRepository,
    WebhookSender,
};
use crate::Clock;
use crate::store::StoreError;

pub struct Dispatcher {
    repo: Arc<dyn WebhookRepository>,
    sender: Arc<dyn WebhookSender>,
    renderer: Arc<dyn EventRenderer>,
    clock: Arc<dyn Clock>,
    rules: RetryRules,
    /// How long a claim holds: twice the send's timeout, so a sender that is merely slow is
    /// never overtaken, and one that died hands its claims on soon.
    lease: TimeDelta,
    /// Deliveries in flight at once, in all.
    pub in_flight: usize,
    /// Deliveries in flight at once to any one endpoint: a hanging or slow endpoint holds at
    /// most this many of the sender's places, and the others keep theirs.
    pub per_endpoint: usize,
}

impl Dispatcher {
    pub fn new(
        repo: Arc<dyn WebhookRepository>,
        sender: Arc<dyn WebhookSender>,
        renderer: Arc<dyn EventRenderer>,
        clock: Arc<dyn Clock>,
        rules: RetryRules,
        timeout: TimeDelta,
    ) -> Self {
        Self {
            repo,
            sender,
            renderer,
            clock,
            rules,
            lease: timeout * 2,
            in_flight: 128,
            per_endpoint: 32,
        }
    }

    /// How many deliveries of one endpoint a claim takes at most: a quarter of its places, so
    /// one claim serves several completions and an endpoint's in-flight count never passes
    /// [`per_endpoint`](Self::per_endpoint).
    pub fn share(&self) -> usize {
        (self.per_endpoint / 4).max(1)
    }

    /// Claims what is due now, for `free` places, given how many deliveries of each endpoint
    /// are in flight: at most a [`share`](Self::share) of any endpoint, none of an endpoint
    /// that has no room for a share, earliest due first.
    pub async fn claim(
        &self,
        free: usize,
        in_flight: &HashMap<WebhookEndpointId, usize>,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        if free == 0 {
            return Ok(Vec::new());
        }
        let share = self.share();
        let claim = Claim {
            limit: free,
            per_endpoint: share,
            skip: in_flight
                .iter()
                .filter(|(_, n)| **n + share > self.per_endpoint)
                .map(|(id, _)| *id)
                .collect(),
            lease: self.lease,
        };
        self.repo.claim_due(self.clock.now(), &claim).await
    }

    /// Sends one claimed delivery and judges the outcome (never inside a transaction); the
    /// caller records it with [`record`](Self::record), alone or with others that completed
    /// meanwhile.
    pub async fn send(&self, due: DueDelivery) -> RecordedAttempt {
        let attempt = self.attempt(due).await;
        if let EndpointHealth::Disable(reason) = &attempt.verdict.endpoint {
            tracing::warn!(endpoint = %attempt.endpoint, reason, "webhook endpoint disabled");
        }
        attempt
    }

    /// Records completed attempts, each under its claim, in one statement, with one health per
    /// endpoint. Should that statement fail, each is recorded on its own, so no attempt's
    /// outcome can keep another's from being kept; the error returned is the last of those.
    pub async fn record(&self, attempts: &[RecordedAttempt]) -> Result<(), StoreError> {
        match self
            .repo
            .record_attempts(attempts, &healths(attempts))
            .await
        {
            Ok(()) => Ok(()),
            Err(_) if attempts.len() > 1 => {
                let mut result = Ok(());
                for attempt in attempts {
                    let one = std::slice::from_ref(attempt);
                    if let Err(e) = self.repo.record_attempts(one, &healths(one)).await {
                        result = Err(e);
                    }
                }
                result
            }
            Err(e) => Err(e),
        }
    }

    /// Signs and sends one delivery, and judges the outcome.
    async fn attempt(&self, due: DueDelivery) -> RecordedAttempt {
        let now = self.clock.now();
        let webhook = OutgoingWebhook {
            url: due.endpoint.url.as_str().to_owned(),
            endpoint: due.endpoint.id,
            secret_versions: due.endpoint.signing_versions(now),
            message_id: self.renderer.id(&due.event),
            timestamp: now,
            body: self.renderer.render(&due.event),
        };
        let attempt = self.sender.send(&webhook).await;
        let verdict = self.rules.judge(
            &attempt,
            due.attempts,
            due.endpoint.failing_since,
            self.clock.now(),
            rand::random::<f64>(),
        );
        if !attempt.succeeded() {
            tracing::info!(
                endpoint = %due.endpoint.id,
                event = %webhook.message_id,
                status = ?attempt.status,
                error = ?attempt.error,
                attempts = due.attempts,
                "webhook delivery failed"
            );
        }
        RecordedAttempt {
            delivery: due.id,
            endpoint: due.endpoint.id,
            lease: due.lease,
            attempted_at: now,
            attempt,
            verdict,
        }
    }
}

/// One health per endpoint of `attempts`, in the order the endpoints first appear.
fn healths(attempts: &[RecordedAttempt]) -> Vec<(WebhookEndpointId, EndpointHealth)> {
    let mut endpoints: Vec<WebhookEndpointId> = Vec::new();
    for attempt in attempts {
        if !endpoints.contains(&attempt.endpoint) {
            endpoints.push(attempt.endpoint);
        }
    }
    endpoints
        .into_iter()
        .filter_map(|endpoint| {
            let of_it = attempts
                .iter()
                .filter(|a| a.endpoint == endpoint)
                .map(|a| a.verdict.endpoint.clone());
            EndpointHealth::combine(of_it).map(|health| (endpoint, health))
        })
        .collect()
}

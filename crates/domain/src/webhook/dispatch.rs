//! Sending due deliveries: claim what is due (a fair share per endpoint), sign and send each
//! (never inside a transaction), and record each outcome under its claim as it completes.

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

    /// Claims what is due now, for `free` places, skipping the endpoints in `busy` (their
    /// share is in flight): at most [`per_endpoint`](Self::per_endpoint) of any endpoint,
    /// earliest due first.
    pub async fn claim(
        &self,
        free: usize,
        busy: &[WebhookEndpointId],
    ) -> Result<Vec<DueDelivery>, StoreError> {
        if free == 0 {
            return Ok(Vec::new());
        }
        let claim = Claim {
            limit: free,
            per_endpoint: self.per_endpoint,
            skip: busy.to_vec(),
            lease: self.lease,
        };
        self.repo.claim_due(self.clock.now(), &claim).await
    }

    /// Sends one claimed delivery and records its outcome on its own, as soon as it is known:
    /// no other delivery waits for it, and no other delivery's outcome can fail its record.
    pub async fn deliver(&self, due: DueDelivery) -> Result<(), StoreError> {
        let endpoint = due.endpoint.id;
        let attempt = self.attempt(due).await;
        let health = attempt.verdict.endpoint.clone();
        if let EndpointHealth::Disable(reason) = &health {
            tracing::warn!(%endpoint, reason, "webhook endpoint disabled");
        }
        self.repo
            .record_attempts(&[attempt], &[(endpoint, health)])
            .await
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
            lease: due.lease,
            attempted_at: now,
            attempt,
            verdict,
        }
    }
}

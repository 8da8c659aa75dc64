//! Sending due deliveries: claim a batch, sign and send each (never inside a transaction),
//! and record each outcome under its claim.

use std::sync::Arc;

use chrono::TimeDelta;
use futures_util::StreamExt;

use super::delivery::{EndpointHealth, RetryRules};
use super::ports::{DueDelivery, EventRenderer, OutgoingWebhook, WebhookRepository, WebhookSender};
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
    /// Deliveries claimed at once, and sent at once.
    batch: usize,
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
            batch: 64,
        }
    }

    /// Sends what is due now: one batch. Returns how many were claimed, so a caller loops
    /// while batches come back full.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let due = self
            .repo
            .claim_due(self.clock.now(), self.batch, self.lease)
            .await?;
        let claimed = due.len();
        let results: Vec<Result<(), StoreError>> = futures_util::stream::iter(due)
            .map(|delivery| self.deliver(delivery))
            .buffer_unordered(self.batch)
            .collect()
            .await;
        results.into_iter().collect::<Result<(), _>>()?;
        Ok(claimed)
    }

    async fn deliver(&self, due: DueDelivery) -> Result<(), StoreError> {
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
        if let EndpointHealth::Disable(reason) = &verdict.endpoint {
            tracing::warn!(endpoint = %due.endpoint.id, reason, "webhook endpoint disabled");
        }
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
        self.repo
            .record_attempt(&due, now, &attempt, &verdict)
            .await
    }
}

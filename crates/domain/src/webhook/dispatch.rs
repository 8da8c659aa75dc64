//! Sending due deliveries: claim a batch, sign and send each (never inside a transaction),
//! and record each outcome under its claim.

use std::sync::Arc;

use chrono::TimeDelta;
use futures_util::StreamExt;

use super::delivery::{EndpointHealth, RetryRules};
use super::endpoint::WebhookEndpointId;
use super::ports::{
    DueDelivery, EventRenderer, OutgoingWebhook, RecordedAttempt, WebhookRepository, WebhookSender,
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

    /// Sends what is due now: one batch, its outcomes recorded in one statement. Returns how
    /// many were claimed, so a caller loops while batches come back full.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let due = self
            .repo
            .claim_due(self.clock.now(), self.batch, self.lease)
            .await?;
        let claimed = due.len();
        if claimed == 0 {
            return Ok(0);
        }
        let outcomes: Vec<(RecordedAttempt, WebhookEndpointId)> = futures_util::stream::iter(due)
            .map(|delivery| self.deliver(delivery))
            .buffer_unordered(self.batch)
            .collect()
            .await;
        let mut healths: Vec<(WebhookEndpointId, Vec<EndpointHealth>)> = Vec::new();
        for (outcome, endpoint) in &outcomes {
            let health = outcome.verdict.endpoint.clone();
            match healths.iter_mut().find(|(id, _)| id == endpoint) {
                Some((_, all)) => all.push(health),
                None => healths.push((*endpoint, vec![health])),
            }
        }
        let endpoints: Vec<(WebhookEndpointId, EndpointHealth)> = healths
            .into_iter()
            .filter_map(|(id, all)| EndpointHealth::combine(all).map(|h| (id, h)))
            .collect();
        for (endpoint, health) in &endpoints {
            if let EndpointHealth::Disable(reason) = health {
                tracing::warn!(%endpoint, reason, "webhook endpoint disabled");
            }
        }
        let attempts: Vec<RecordedAttempt> = outcomes.into_iter().map(|(o, _)| o).collect();
        self.repo.record_attempts(&attempts, &endpoints).await?;
        Ok(claimed)
    }

    /// Signs and sends one delivery, and judges the outcome.
    async fn deliver(&self, due: DueDelivery) -> (RecordedAttempt, WebhookEndpointId) {
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
        let recorded = RecordedAttempt {
            delivery: due.id,
            lease: due.lease,
            attempted_at: now,
            attempt,
            verdict,
        };
        (recorded, due.endpoint.id)
    }
}

//! What webhooks out need from the world: a store (endpoints, the event outbox, deliveries),
//! a sender (signs and POSTs), the secrets (derived, never stored) and how an event looks.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::delivery::{Attempt, Delivery, DeliveryId, EndpointHealth, Verdict};
use super::endpoint::{WebhookEndpoint, WebhookEndpointId};
use crate::order::{Order, OrderEventId, OrderEventType};
use crate::pagination::{Page, PageRequest};
use crate::payment::Payment;
use crate::store::StoreError;

/// An event: a change to an order, with the order (and its latest payment) as that change
/// left it. Its id is the id of the history entry it reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: OrderEventId,
    pub kind: OrderEventType,
    pub created_at: DateTime<Utc>,
    pub order: Order,
    pub payment: Option<Payment>,
}

/// A delivery a sender claimed: no other sender sends it until the claim lapses.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    pub id: DeliveryId,
    /// The claim's token: the attempt's outcome is recorded only under it.
    pub lease: Uuid,
    /// Attempts made, this one included.
    pub attempts: u32,
    pub endpoint: WebhookEndpoint,
    pub event: Event,
}

#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait WebhookRepository: Send + Sync {
    async fn insert_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError>;
    async fn endpoint(&self, id: WebhookEndpointId) -> Result<Option<WebhookEndpoint>, StoreError>;
    /// Newest first.
    async fn endpoints(&self, page: PageRequest) -> Result<Page<WebhookEndpoint>, StoreError>;
    /// Writes every field if the stored endpoint is still at `endpoint.version`, and moves
    /// its version on by one; `false` when there is no such endpoint.
    ///
    /// # Errors
    /// `Conflict` when it was written meanwhile (read it again and redo the change).
    async fn update_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<bool, StoreError>;
    /// Removes it with its deliveries; `false` when there is no such endpoint.
    async fn delete_endpoint(&self, id: WebhookEndpointId) -> Result<bool, StoreError>;

    async fn event(&self, id: OrderEventId) -> Result<Option<Event>, StoreError>;
    /// Newest first, of one type or all.
    async fn events(
        &self,
        kind: Option<OrderEventType>,
        page: PageRequest,
    ) -> Result<Page<Event>, StoreError>;

    /// An endpoint's deliveries, newest first.
    async fn deliveries(
        &self,
        endpoint: WebhookEndpointId,
        page: PageRequest,
    ) -> Result<Page<Delivery>, StoreError>;
    /// Makes the delivery due now (again); `None` when the endpoint has no such delivery.
    async fn retry_delivery(
        &self,
        endpoint: WebhookEndpointId,
        delivery: DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<Option<Delivery>, StoreError>;

    /// Removes up to `batch` of the oldest deliveries created before `before` that are no
    /// longer pending, with the answers stored with them; how many.
    async fn purge_deliveries(
        &self,
        before: DateTime<Utc>,
        batch: usize,
    ) -> Result<usize, StoreError>;
    /// Takes up to `batch` of the oldest events created before `before` out of the feed, and
    /// drops their snapshots (the order's history keeps the row: the books need it); how many.
    async fn retire_events(&self, before: DateTime<Utc>, batch: usize)
    -> Result<usize, StoreError>;

    /// Claims up to `claim.limit` deliveries due at `now` to enabled endpoints, for
    /// `claim.lease`: the earliest pending event of each order and endpoint only, so that one
    /// order's events reach an endpoint in the order they happened; at most
    /// `claim.per_endpoint` of any one endpoint, none of the endpoints in `claim.skip` (those
    /// whose share is in flight already), earliest due first.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        claim: &Claim,
    ) -> Result<Vec<DueDelivery>, StoreError>;
    /// Records attempts, each under its claim with what it makes of its delivery, and what
    /// they make of their endpoints (one health per endpoint). The sender records each
    /// delivery's attempt alone, as it completes.
    async fn record_attempts(
        &self,
        attempts: &[RecordedAttempt],
        endpoints: &[(WebhookEndpointId, EndpointHealth)],
    ) -> Result<(), StoreError>;
}

/// What a sender asks of [`WebhookRepository::claim_due`].
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub limit: usize,
    pub per_endpoint: usize,
    pub skip: Vec<WebhookEndpointId>,
    pub lease: TimeDelta,
}

/// One attempt's outcome, to record under its claim.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedAttempt {
    pub delivery: DeliveryId,
    /// The endpoint it went to.
    pub endpoint: WebhookEndpointId,
    pub lease: Uuid,
    pub attempted_at: DateTime<Utc>,
    pub attempt: Attempt,
    pub verdict: Verdict,
}

/// One signed POST to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingWebhook {
    pub url: String,
    pub endpoint: WebhookEndpointId,
    /// Sign with each of these secret versions (the current first).
    pub secret_versions: Vec<i32>,
    /// `webhook-id`: the event's id, the same on every attempt.
    pub message_id: String,
    pub timestamp: DateTime<Utc>,
    pub body: String,
}

#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// Sends it once; never fails, the failure being the attempt's outcome.
    async fn send(&self, webhook: &OutgoingWebhook) -> Attempt;
}

/// Endpoints' signing secrets (`whsec_...`), derived from the service's key, never stored.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
pub trait Secrets: Send + Sync {
    fn secret(&self, endpoint: WebhookEndpointId, version: i32) -> String;
}

/// How an event is shown: its id (`evt_...`) and its JSON, as the API shows it.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
pub trait EventRenderer: Send + Sync {
    fn id(&self, event: &Event) -> String;
    fn render(&self, event: &Event) -> String;
}

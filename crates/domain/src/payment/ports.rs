use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{ChargeLimits, CheckoutSession, Payment, PaymentId, PaymentProvider};
use crate::money::{Amount, Currency};
use crate::order::{Order, OrderEvent, OrderId};
use crate::store::StoreError;

/// What a checkout session is opened for: exactly this order's items, for this payment.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub order: Order,
    /// Whom the payment is for, as the checkout page may say.
    pub merchant: crate::merchant::Merchant,
    pub payment: Payment,
    /// Where the customer lands after paying, and after giving up.
    pub success_url: String,
    pub cancel_url: String,
    pub expires_at: DateTime<Utc>,
    /// The same key for every attempt to open this payment's session, so a retry (or twenty
    /// customers' taps at once) opens one session at the provider.
    pub idempotency_key: String,
}

/// A checkout session as the provider knows it now (for reconciliation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    Open,
    /// Finished: paid now (`paid`), or with a delayed method still on its way.
    Complete {
        paid: bool,
        amount: i64,
        currency: String,
        provider_payment_id: Option<String>,
    },
    Expired,
}

/// Why a refund is made, in the terms providers accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundReason {
    Duplicate,
    Fraudulent,
    RequestedByCustomer,
}

impl RefundReason {
    pub const ALL: [RefundReason; 3] =
        [Self::Duplicate, Self::Fraudulent, Self::RequestedByCustomer];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Duplicate => "duplicate",
            Self::Fraudulent => "fraudulent",
            Self::RequestedByCustomer => "requested_by_customer",
        }
    }

    pub fn parse(input: &str) -> Result<Self, String> {
        match input {
            "duplicate" => Ok(Self::Duplicate),
            "fraudulent" => Ok(Self::Fraudulent),
            "requested_by_customer" => Ok(Self::RequestedByCustomer),
            _ => Err("must be duplicate, fraudulent or requested_by_customer".into()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub provider_payment_id: String,
    pub amount: Amount,
    pub currency: Currency,
    pub reason: Option<RefundReason>,
    /// The same for a retry of the same refund, so the provider makes it once.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundResult {
    /// The provider's id for this refund.
    pub id: String,
    /// What this refund returns.
    pub amount: Amount,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The provider could not be reached or failed; worth a retry.
    #[error("the payment provider is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// The provider refused the request (a bad amount, an unknown session); its message.
    #[error("the payment provider refused: {0}")]
    Rejected(String),
}

/// A payment provider: Stripe, or the built-in sandbox.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait PaymentGateway: Send + Sync + 'static {
    fn provider(&self) -> PaymentProvider;

    /// What this provider can charge in `currency` (in ISO minor units): asked when an order
    /// is created (amounts it cannot express) and when its pay link is (currencies it does
    /// not take, totals under its minimum), so a customer never meets a dead checkout.
    fn limits(&self, currency: Currency) -> ChargeLimits;

    /// Opens a checkout session for `request`, idempotently by its key.
    ///
    /// # Errors
    /// `Unavailable` when the provider cannot be reached; `Rejected` when it refuses.
    async fn open_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, GatewayError>;

    /// Closes an open session so it can no longer take money.
    ///
    /// # Errors
    /// As `open_checkout`.
    async fn expire_checkout(&self, session_id: &str) -> Result<(), GatewayError>;

    /// Refunds `request.amount` of a payment, idempotently by its key.
    ///
    /// # Errors
    /// As `open_checkout`.
    async fn refund(&self, request: &RefundRequest) -> Result<RefundResult, GatewayError>;

    /// The session's state at the provider now.
    ///
    /// # Errors
    /// As `open_checkout`.
    async fn checkout_state(&self, session_id: &str) -> Result<SessionState, GatewayError>;
}

/// A lease on a named job held by one process at a time (reconciliation), across replicas.
/// Released when dropped.
pub trait Lease: Send {}

#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait Leases: Send + Sync + 'static {
    /// The lease on `job` when no other process holds it, else `None`. No transaction is held
    /// while it is.
    async fn try_acquire(&self, job: &str) -> Result<Option<Box<dyn Lease>>, StoreError>;

    /// The lease on `job`, waiting up to `wait` while another process holds it; `None` when
    /// it is still held then. No transaction is held while waiting or holding.
    async fn acquire(
        &self,
        job: &str,
        wait: std::time::Duration,
    ) -> Result<Option<Box<dyn Lease>>, StoreError>;
}

/// Why a delivery to the webhook endpoint was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventFeedError {
    /// The signature is missing, malformed, stale, or made with another secret: the request
    /// did not come from the provider (or was changed on the way).
    #[error("the signature does not verify: {0}")]
    BadSignature(String),
    /// Signed, but not an event this adapter can read.
    #[error("the event cannot be read: {0}")]
    Malformed(String),
}

/// A provider's signed event deliveries (Stripe's webhooks), checked and translated.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
pub trait EventFeed: Send + Sync + 'static {
    /// Checks `signature` (the header as sent; empty when there was none) over the raw
    /// `payload` as of `now`, then translates the event.
    /// `Ok(None)` for events orderpay does not act on (other types, sessions that carry no
    /// orderpay metadata).
    ///
    /// # Errors
    /// `BadSignature` or `Malformed`; nothing may be stored then.
    fn receive(
        &self,
        payload: &[u8],
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<super::ProviderEvent>, EventFeedError>;
}

/// One provider event's effect, written atomically: the event id recorded (so it is applied
/// once), the payment and the order written if nobody changed them since they were read
/// (their `version`), and the history entries.
#[derive(Debug, Clone, Default)]
pub struct EventCommit {
    /// `None` for changes orderpay makes itself (a lapsed session closed on a pay-link open).
    pub event_id: Option<String>,
    pub payment: Option<Payment>,
    pub order: Option<Order>,
    pub events: Vec<OrderEvent>,
}

/// Which payment a provider event names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentKey {
    /// orderpay's own id, carried in the event's metadata.
    Id(PaymentId),
    /// The provider's id for the money (a Stripe PaymentIntent); the most recent payment
    /// with it.
    Provider(String),
}

/// What applying a provider event reads: the payment it names, that payment's order, and
/// whether the event id was applied before.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSubject {
    pub payment: Payment,
    pub order: Order,
    pub applied_before: bool,
}

/// Where payments, processed provider events and order histories are kept.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait PaymentRepository: Send + Sync + 'static {
    /// Stores `payment` unless its order already has an open one (pending, open or
    /// processing). Atomic: of any number of concurrent calls for one order, one stores its
    /// payment. Returns the open payment and whether this call stored it.
    ///
    /// # Errors
    /// `MissingReference` when the order does not exist.
    async fn open_or_get(&self, payment: &Payment) -> Result<(Payment, bool), StoreError>;

    /// Stores `opened` (a pending payment with its session: `Payment::open_session`) and
    /// writes `event`, in one transaction, if the stored payment is still at `opened`'s
    /// version; otherwise (another caller recorded first, or an event moved it on) writes
    /// nothing. Returns the payment as stored. The store decides no status.
    ///
    /// # Errors
    /// `MissingReference` when there is no such payment.
    async fn record_session(
        &self,
        opened: &Payment,
        event: &OrderEvent,
    ) -> Result<Payment, StoreError>;

    async fn find(&self, id: PaymentId) -> Result<Option<Payment>, StoreError>;

    async fn find_by_session(&self, session_id: &str) -> Result<Option<Payment>, StoreError>;

    /// What applying event `event_id` needs, read together (one round trip on PostgreSQL):
    /// `None` when no payment matches `key`.
    async fn event_subject(
        &self,
        event_id: &str,
        key: &PaymentKey,
    ) -> Result<Option<EventSubject>, StoreError>;

    /// The order's most recent payment, if any.
    async fn latest_for_order(&self, order: OrderId) -> Result<Option<Payment>, StoreError>;

    /// Payments that should have moved on by `now` and did not (an event lost or late): open
    /// past their session's expiry, pending (no session) or processing since before
    /// `stale_before`. At most `limit`, chosen among those looked at least recently (never
    /// before first, then oldest first), recorded as looked at `now`, and returned oldest
    /// first: so each stuck payment is taken within `ceil(stuck / limit)` calls, however many
    /// stay stuck (a bank debit can stay processing for days). Atomic.
    async fn stuck(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Payment>, StoreError>;

    /// Writes `commit` in one transaction.
    ///
    /// # Errors
    /// `Duplicate(ProcessedEvent)` when the event id was applied before (nothing is written);
    /// `Conflict` when the payment or the order changed since read (nothing is written).
    async fn commit(&self, commit: &EventCommit) -> Result<(), StoreError>;

    /// Writes `event` unless the order already has one of its type. Returns whether it did.
    async fn record_once(&self, event: &OrderEvent) -> Result<bool, StoreError>;
}

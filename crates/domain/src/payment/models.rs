use chrono::{DateTime, Utc};

use crate::money::{Amount, Currency};
use crate::order::{Order, OrderId};

entity_id!(PaymentId);

/// Who takes the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentProvider {
    Stripe,
    /// orderpay's own offline stand-in, for development without a Stripe account.
    Sandbox,
}

impl PaymentProvider {
    pub const ALL: [PaymentProvider; 2] = [Self::Stripe, Self::Sandbox];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stripe => "stripe",
            Self::Sandbox => "sandbox",
        }
    }

    pub fn parse(stored: &str) -> Result<Self, String> {
        match stored {
            "stripe" => Ok(Self::Stripe),
            "sandbox" => Ok(Self::Sandbox),
            _ => Err(format!("`{stored}` is not a payment provider")),
        }
    }
}

/// Where one attempt to pay stands.
///
/// `pending` (the row is written, no session yet) → `open` (a checkout session is open) →
/// `processing` (completed with a delayed method, money not yet in) → `succeeded`; or
/// `failed` / `expired`, after which a new attempt can be made. At most one payment per order
/// is pending, open or processing at a time: the store enforces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    Pending,
    Open,
    Processing,
    Succeeded,
    Failed,
    Expired,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 6] = [
        Self::Pending,
        Self::Open,
        Self::Processing,
        Self::Succeeded,
        Self::Failed,
        Self::Expired,
    ];

    /// Whether this attempt still blocks a new one for its order.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Open | Self::Processing)
    }

    /// Whether an attempt in this status that nothing has touched for a while may be stuck
    /// (its provider's answer lost): open ones waiting for no session deadline.
    pub fn is_stuck_when_stale(self) -> bool {
        self.is_open() && self != Self::Open
    }

    /// The stored names of the statuses `which` holds for: for an adapter's query, so the
    /// sets live here.
    pub fn names(which: impl Fn(Self) -> bool) -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|s| which(*s))
            .map(Self::as_str)
            .collect()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Open => "open",
            Self::Processing => "processing",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    pub fn parse(stored: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == stored)
            .ok_or_else(|| format!("`{stored}` is not a payment status"))
    }
}

/// A checkout session as the provider opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: String,
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// A session this close to its end is not one to send a customer to.
const LAST_MINUTE: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// The shortest a provider keeps a checkout session open (Stripe's lower bound).
pub const MIN_SESSION_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::minutes(30);
/// Time allowed between deciding a session's deadline and the provider receiving it.
const CALL_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

/// One attempt to pay one order, for exactly the order's amount and currency. Its fields are
/// read through methods and change only through the domain's transitions (`open_session`,
/// `expire`, and the event rules in `rules.rs`); a store rebuilds a stored one with
/// [`Payment::restore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub(crate) id: PaymentId,
    pub(crate) order_id: OrderId,
    pub(crate) provider: PaymentProvider,
    pub(crate) status: PaymentStatus,
    pub(crate) amount: Amount,
    pub(crate) currency: Currency,
    /// The provider's checkout session, once opened.
    pub(crate) session: Option<CheckoutSession>,
    /// The provider's id for the money movement (Stripe's PaymentIntent), once known.
    pub(crate) provider_payment_id: Option<String>,
    /// What the provider says was paid.
    pub(crate) amount_received: Amount,
    pub(crate) amount_refunded: Amount,
    /// Bumped by the store on every write: a compare-and-set token.
    pub(crate) version: i32,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

/// Everything a payment holds, as stored: what an adapter reads back into
/// [`Payment::restore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentParts {
    pub id: PaymentId,
    pub order_id: OrderId,
    pub provider: PaymentProvider,
    pub status: PaymentStatus,
    pub amount: Amount,
    pub currency: Currency,
    /// The provider's checkout session, once opened.
    pub session: Option<CheckoutSession>,
    /// The provider's id for the money movement (Stripe's PaymentIntent), once known.
    pub provider_payment_id: Option<String>,
    /// What the provider says was paid.
    pub amount_received: Amount,
    pub amount_refunded: Amount,
    /// Bumped by the store on every write: a compare-and-set token.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Payment {
    /// A payment as a store kept it. For adapters reading their rows: a status is decided by
    /// the domain's transitions, never by building a payment in it.
    pub fn restore(parts: PaymentParts) -> Self {
        Self {
            id: parts.id,
            order_id: parts.order_id,
            provider: parts.provider,
            status: parts.status,
            amount: parts.amount,
            currency: parts.currency,
            session: parts.session,
            provider_payment_id: parts.provider_payment_id,
            amount_received: parts.amount_received,
            amount_refunded: parts.amount_refunded,
            version: parts.version,
            created_at: parts.created_at,
            updated_at: parts.updated_at,
        }
    }

    /// The same payment as the store holds it after writing it once more: its version bumped.
    #[must_use]
    pub fn next_version(&self) -> Self {
        Self {
            version: self.version + 1,
            ..self.clone()
        }
    }

    pub fn id(&self) -> PaymentId {
        self.id
    }
    pub fn order_id(&self) -> OrderId {
        self.order_id
    }
    pub fn provider(&self) -> PaymentProvider {
        self.provider
    }
    pub fn status(&self) -> PaymentStatus {
        self.status
    }
    pub fn amount(&self) -> Amount {
        self.amount
    }
    pub fn currency(&self) -> Currency {
        self.currency
    }
    /// The provider's checkout session, once opened.
    pub fn session(&self) -> Option<&CheckoutSession> {
        self.session.as_ref()
    }
    /// The provider's id for the money movement (Stripe's PaymentIntent), once known.
    pub fn provider_payment_id(&self) -> Option<&str> {
        self.provider_payment_id.as_deref()
    }
    /// What the provider says was paid.
    pub fn amount_received(&self) -> Amount {
        self.amount_received
    }
    pub fn amount_refunded(&self) -> Amount {
        self.amount_refunded
    }
    /// Bumped by the store on every write: a compare-and-set token.
    pub fn version(&self) -> i32 {
        self.version
    }
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// This payment closed at `now` without a provider event (its session lapsed, or none
    /// was ever recorded). `None` unless it is pending or open: a processing payment's money
    /// is on its way, and a closed one stays as it ended.
    pub fn expire(&self, now: DateTime<Utc>) -> Option<Self> {
        matches!(self.status, PaymentStatus::Pending | PaymentStatus::Open).then(|| Self {
            status: PaymentStatus::Expired,
            updated_at: now,
            ..self.clone()
        })
    }

    /// A new attempt for `order`, not yet known to the provider.
    pub fn start(order: &Order, provider: PaymentProvider, now: DateTime<Utc>) -> Self {
        Self {
            id: PaymentId::generate(),
            order_id: order.id(),
            provider,
            status: PaymentStatus::Pending,
            amount: order.total(),
            currency: order.currency(),
            session: None,
            provider_payment_id: None,
            amount_received: Amount::ZERO,
            amount_refunded: Amount::ZERO,
            version: 0,
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether its session can still take the customer's money at `now` (a minute's margin,
    /// so a customer is not sent to a page about to close).
    pub fn has_live_session(&self, now: DateTime<Utc>) -> bool {
        self.status == PaymentStatus::Open
            && self
                .session
                .as_ref()
                .is_some_and(|s| s.expires_at > now + LAST_MINUTE)
    }

    /// When a session opened for this payment closes: `ttl` after the payment's own start,
    /// so every attempt to open it sends the provider the same request (a provider refuses an
    /// idempotency key reused with other parameters).
    pub fn session_deadline(&self, ttl: chrono::TimeDelta) -> DateTime<Utc> {
        self.created_at + ttl
    }

    /// Whether a session can still be opened for this pending payment at `now`: its deadline
    /// must leave the provider's shortest session (Stripe: 30 minutes) and a margin for the
    /// call. A payment too old for that is closed and another started.
    pub fn can_open_session(&self, now: DateTime<Utc>, ttl: chrono::TimeDelta) -> bool {
        self.status == PaymentStatus::Pending
            && self.session_deadline(ttl) >= now + MIN_SESSION_LIFETIME + CALL_MARGIN
    }

    /// Whether its open session is in its last minute, or past it: too late to send a
    /// customer to.
    pub fn session_ending(&self, now: DateTime<Utc>) -> bool {
        self.status == PaymentStatus::Open
            && self
                .session
                .as_ref()
                .is_some_and(|s| s.expires_at <= now + LAST_MINUTE)
    }

    /// This pending payment with the provider's `session`, opened at `now`: open. `None`
    /// when it is not pending (a session is recorded once). Stored with
    /// `PaymentRepository::record_session`, at this payment's version.
    pub fn open_session(&self, session: CheckoutSession, now: DateTime<Utc>) -> Option<Self> {
        (self.status == PaymentStatus::Pending).then(|| Self {
            status: PaymentStatus::Open,
            session: Some(session),
            updated_at: now,
            ..self.clone()
        })
    }

    /// Whether the provider may have an answer for it that never arrived: its session
    /// lapsed before `now` with no event, or it waits without a session deadline and nothing
    /// has touched it since `stale_before`. (`PaymentRepository::stuck`'s rule; the SQL of
    /// the PostgreSQL adapter says the same with the status sets of `PaymentStatus`.)
    pub fn may_be_stuck(&self, now: DateTime<Utc>, stale_before: DateTime<Utc>) -> bool {
        match self.status {
            PaymentStatus::Open => self.session.as_ref().is_some_and(|s| s.expires_at < now),
            status => status.is_stuck_when_stale() && self.updated_at < stale_before,
        }
    }

    /// Whether its session's time is up, though no event said so yet.
    pub fn session_lapsed(&self, now: DateTime<Utc>) -> bool {
        self.status == PaymentStatus::Open
            && self.session.as_ref().is_some_and(|s| s.expires_at <= now)
    }
}

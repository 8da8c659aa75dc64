//! What happened to an order, in order: written in the same transaction as the change each
//! one records, and served as the order's history.

use chrono::{DateTime, Utc};

use super::OrderId;
use crate::money::Amount;
use crate::payment::PaymentId;

entity_id!(OrderEventId);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderEventType {
    Created,
    PaymentLinkCreated,
    SessionOpened,
    Paid,
    PaymentFailed,
    PaymentExpired,
    Cancelled,
    PartiallyRefunded,
    Refunded,
    Flagged,
    /// A person cleared a flag (`reason` names it).
    FlagCleared,
}

impl OrderEventType {
    pub const ALL: [OrderEventType; 11] = [
        Self::Created,
        Self::PaymentLinkCreated,
        Self::SessionOpened,
        Self::Paid,
        Self::PaymentFailed,
        Self::PaymentExpired,
        Self::Cancelled,
        Self::PartiallyRefunded,
        Self::Refunded,
        Self::Flagged,
        Self::FlagCleared,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "order.created",
            Self::PaymentLinkCreated => "order.payment_link_created",
            Self::SessionOpened => "payment.session_opened",
            Self::Paid => "order.paid",
            Self::PaymentFailed => "payment.failed",
            Self::PaymentExpired => "payment.expired",
            Self::Cancelled => "order.cancelled",
            Self::PartiallyRefunded => "order.partially_refunded",
            Self::Refunded => "order.refunded",
            Self::Flagged => "order.flagged",
            Self::FlagCleared => "order.flag_cleared",
        }
    }

    pub fn parse(stored: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == stored)
            .ok_or_else(|| format!("`{stored}` is not an order event type"))
    }
}

/// One entry of an order's history, with what it needs: the payment it concerns, an amount
/// (paid, or refunded so far), a reason (why the order was flagged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEvent {
    pub id: OrderEventId,
    pub order_id: OrderId,
    pub kind: OrderEventType,
    pub payment_id: Option<PaymentId>,
    pub amount: Option<Amount>,
    pub reason: Option<String>,
    /// Who made the change, where a person decided it (`api_key:<id>`); `None` for what
    /// orderpay or the payment provider did.
    pub actor: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl OrderEvent {
    pub fn new(order_id: OrderId, kind: OrderEventType, at: DateTime<Utc>) -> Self {
        Self {
            id: OrderEventId::generate(),
            order_id,
            kind,
            payment_id: None,
            amount: None,
            reason: None,
            actor: None,
            created_at: at,
        }
    }

    pub fn for_payment(mut self, payment: PaymentId) -> Self {
        self.payment_id = Some(payment);
        self
    }

    pub fn with_amount(mut self, amount: Amount) -> Self {
        self.amount = Some(amount);
        self
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// Why an order needs a person's attention. Flags are added, never silently cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrderFlag {
    /// A payment's amount or currency did not match the order: recorded, not applied.
    AmountMismatch,
    /// Money arrived for an order that was cancelled (or already paid): refund it.
    NeedsRefund,
    /// The customer disputed the charge with their bank.
    Disputed,
}

impl OrderFlag {
    pub const ALL: [OrderFlag; 3] = [Self::AmountMismatch, Self::NeedsRefund, Self::Disputed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AmountMismatch => "amount_mismatch",
            Self::NeedsRefund => "needs_refund",
            Self::Disputed => "disputed",
        }
    }

    pub fn parse(stored: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == stored)
            .ok_or_else(|| format!("`{stored}` is not an order flag"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in OrderEventType::ALL {
            assert_eq!(OrderEventType::parse(t.as_str()), Ok(t));
        }
        for f in OrderFlag::ALL {
            assert_eq!(OrderFlag::parse(f.as_str()), Ok(f));
        }
        assert!(OrderEventType::parse("order.exploded").is_err());
    }
}

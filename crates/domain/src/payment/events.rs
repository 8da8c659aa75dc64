//! A payment provider's events, translated out of the provider's wire format by its adapter.

use chrono::{DateTime, Utc};

use super::PaymentId;
use crate::order::OrderId;

/// The orderpay ids a checkout session carries in its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRef {
    pub session_id: String,
    pub payment_id: PaymentId,
    pub order_id: OrderId,
}

/// What happened, as far as orderpay's rules care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentEventKind {
    /// The customer finished checkout: paid now (`paid`), or with a delayed method whose
    /// outcome comes later.
    SessionCompleted {
        session: SessionRef,
        paid: bool,
        amount: i64,
        currency: String,
        provider_payment_id: Option<String>,
    },
    AsyncPaymentSucceeded {
        session: SessionRef,
        amount: i64,
        currency: String,
        provider_payment_id: Option<String>,
    },
    AsyncPaymentFailed {
        session: SessionRef,
    },
    /// The session closed unpaid (or, in the sandbox, the customer declined).
    SessionExpired {
        session: SessionRef,
    },
    /// `refunded_total` of the payment has now been refunded, in all.
    Refunded {
        provider_payment_id: String,
        refunded_total: i64,
    },
    DisputeCreated {
        provider_payment_id: String,
        reason: String,
    },
}

/// One event, with the provider's unique id (applied once, however often it is delivered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    pub id: String,
    pub kind: PaymentEventKind,
    pub created: DateTime<Utc>,
}

impl PaymentEventKind {
    /// The orderpay payment this event names by id, if it names one that way.
    pub fn payment_id(&self) -> Option<PaymentId> {
        match self {
            Self::SessionCompleted { session, .. }
            | Self::AsyncPaymentSucceeded { session, .. }
            | Self::AsyncPaymentFailed { session }
            | Self::SessionExpired { session } => Some(session.payment_id),
            Self::Refunded { .. } | Self::DisputeCreated { .. } => None,
        }
    }

    /// The provider's payment id, for events that name the payment only that way.
    pub fn provider_payment_id(&self) -> Option<&str> {
        match self {
            Self::Refunded {
                provider_payment_id,
                ..
            }
            | Self::DisputeCreated {
                provider_payment_id,
                ..
            } => Some(provider_payment_id),
            _ => None,
        }
    }
}

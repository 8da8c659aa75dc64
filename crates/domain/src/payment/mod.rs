//! Payments: attempts to pay an order through a provider (Stripe, or the built-in sandbox),
//! the pay link a customer receives, and the rules for applying a provider's events exactly
//! once. An order becomes `paid` only in the transaction that records its payment.

mod events;
mod limits;
mod links;
mod models;
mod ports;
mod rules;
mod service;

pub use events::{PaymentEventKind, ProviderEvent, SessionRef};
pub use limits::{ChargeLimits, ChargeRefusal};
pub use links::CustomerLinks;
#[cfg(any(test, feature = "testing"))]
pub use links::TestLinks;
pub use models::{
    CheckoutSession, Payment, PaymentId, PaymentParts, PaymentProvider, PaymentStatus,
};
pub use ports::{
    CheckoutRequest, EventCommit, EventFeed, EventFeedError, EventSubject, GatewayError, Lease,
    Leases, PaymentGateway, PaymentKey, PaymentRepository, RefundReason, RefundRequest,
    RefundResult, SessionState,
};
#[cfg(any(test, feature = "testing"))]
pub use ports::{MockEventFeed, MockLeases, MockPaymentGateway, MockPaymentRepository};
pub use rules::{Decision, decide};
pub use service::{
    Applied, ApplyError, CancelError, CheckoutOutcome, CheckoutService, ClearFlagsError,
    LinkPreview, LinkState, OrderMoneyService, PayLink, PayLinkError, PaymentServices,
    PaymentSettings, ProviderEventService, Reconciled, RefundError, RefundInput, SandboxOutcome,
    TestPaymentError,
};

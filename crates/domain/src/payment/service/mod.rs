//! Payments' services, one per concept over the same ports: checkout (the pay link, opening
//! it, the sandbox's buttons), provider events (applying them, reconciliation), and an
//! order's money operations (cancel, refund, clearing flags). An order's history and its
//! display with its payment belong to the order service.

mod cancel;
mod checkout;
mod events;
mod flags;
mod reconcile;
mod refund;
mod sandbox;

pub use cancel::CancelError;
pub use checkout::{
    CheckoutOutcome, CheckoutService, LinkPreview, LinkState, PayLink, PayLinkError,
};
pub use events::{Applied, ApplyError, ProviderEventService};
pub use flags::ClearFlagsError;
pub use reconcile::Reconciled;
pub use refund::{RefundError, RefundInput};
pub use sandbox::{SandboxOutcome, TestPaymentError};

use std::sync::Arc;

use chrono::TimeDelta;

use super::{CustomerLinks, GatewayError, Leases, PaymentGateway, PaymentRepository};
use crate::clock::Clock;
use crate::merchant::Merchant;
use crate::order::OrderRepository;

/// How many times a write that lost a race is decided again before giving up.
const CONFLICT_RETRIES: usize = 8;

#[derive(Debug, Clone)]
pub struct PaymentSettings {
    /// The addresses of the pay link and the pages a customer lands on.
    pub links: Arc<dyn CustomerLinks>,
    /// How long a checkout session stays open (Stripe: 30 minutes to 24 hours), counted from
    /// its payment's start.
    pub checkout_ttl: TimeDelta,
    /// How long after an event's creation a missing payment may still be a race (the event
    /// outran the write that made it): the provider is asked to deliver it again until then,
    /// and the event is ignored, with a warning, after.
    pub unknown_payment_grace: TimeDelta,
    /// Whom the customer pays: shown on the pages, sent to the provider's checkout.
    pub merchant: Merchant,
}

/// Cancelling, refunding and clearing the flags of an order: what moves or stops its money.
#[derive(Clone)]
pub struct OrderMoneyService {
    orders: Arc<dyn OrderRepository>,
    payments: Arc<dyn PaymentRepository>,
    gateway: Arc<dyn PaymentGateway>,
    /// One refund of a payment at a time, across replicas.
    leases: Arc<dyn Leases>,
    clock: Arc<dyn Clock>,
    /// A refund is applied through the path of the provider's refund event.
    events: ProviderEventService,
}

/// The three payment services, built over the same ports.
#[derive(Clone)]
pub struct PaymentServices {
    pub checkout: CheckoutService,
    pub events: ProviderEventService,
    pub money: OrderMoneyService,
}

impl PaymentServices {
    pub fn new(
        orders: Arc<dyn OrderRepository>,
        payments: Arc<dyn PaymentRepository>,
        gateway: Arc<dyn PaymentGateway>,
        leases: Arc<dyn Leases>,
        clock: Arc<dyn Clock>,
        settings: PaymentSettings,
    ) -> Self {
        let events = ProviderEventService {
            payments: payments.clone(),
            gateway: gateway.clone(),
            leases: leases.clone(),
            clock: clock.clone(),
            checkout_ttl: settings.checkout_ttl,
            unknown_payment_grace: settings.unknown_payment_grace,
        };
        Self {
            checkout: CheckoutService {
                orders: orders.clone(),
                payments: payments.clone(),
                gateway: gateway.clone(),
                clock: clock.clone(),
                links: settings.links,
                merchant: settings.merchant,
                checkout_ttl: settings.checkout_ttl,
                events: events.clone(),
            },
            money: OrderMoneyService {
                orders,
                payments,
                gateway,
                leases,
                clock,
                events: events.clone(),
            },
            events,
        }
    }
}

/// Closes the checkout session `session_id` at the provider, so it can take no more money.
/// One the provider refuses to close is closed already (expired, or completed: its event
/// tells the rest).
///
/// # Errors
/// The cause, when the provider could not be reached.
async fn close_at_provider(
    gateway: &dyn PaymentGateway,
    session_id: &str,
) -> Result<(), anyhow::Error> {
    match gateway.expire_checkout(session_id).await {
        Ok(()) => Ok(()),
        Err(GatewayError::Rejected(why)) => {
            tracing::info!(%why, "the provider did not expire the session");
            Ok(())
        }
        Err(GatewayError::Unavailable(cause)) => Err(cause),
    }
}

#[cfg(test)]
mod tests;

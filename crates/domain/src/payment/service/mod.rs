//! The payment service and how it applies a provider's events, over the ports. Pay links and
//! checkout, cancel, flags, refunds, reconciliation and the sandbox's buttons live in the
//! files beside this one.

mod cancel;
mod checkout;
mod flags;
mod reconcile;
mod refund;
mod sandbox;

pub use cancel::CancelError;
pub use checkout::{CheckoutOutcome, PayLink, PayLinkError};
pub use flags::ClearFlagsError;
pub use reconcile::Reconciled;
pub use refund::{RefundError, RefundInput};
pub use sandbox::SandboxOutcome;

use std::sync::Arc;

use anyhow::anyhow;
use chrono::TimeDelta;

use super::{
    CustomerLinks, EventCommit, EventSubject, GatewayError, Leases, Payment, PaymentGateway,
    PaymentKey, PaymentRepository, PaymentStatus, ProviderEvent, decide,
};
use crate::clock::Clock;
use crate::order::{Order, OrderEvent, OrderEventType, OrderId, OrderRepository};
use crate::store::{StoreError, UniqueKey};

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
}

/// What applying a provider event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Changed,
    /// Stale or repeated in substance: recorded, nothing changed.
    Unchanged,
    /// This event id was applied before.
    Duplicate,
    /// The event concerns no payment orderpay made (another integration on the account).
    Ignored,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The event names an orderpay payment the store does not know: answer so that the
    /// provider delivers it again, never drop it.
    #[error("the event names payment {0}, which is not known here")]
    UnknownPayment(String),
    /// The store cannot be reached now: worth a retry (503).
    #[error("the store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

#[derive(Clone)]
pub struct PaymentService {
    orders: Arc<dyn OrderRepository>,
    payments: Arc<dyn PaymentRepository>,
    gateway: Arc<dyn PaymentGateway>,
    /// One process at a time per job, across replicas: reconciliation, a payment's refunds.
    leases: Arc<dyn Leases>,
    clock: Arc<dyn Clock>,
    settings: PaymentSettings,
}

crate::store::from_store_error!(ApplyError);

impl PaymentService {
    pub fn new(
        orders: Arc<dyn OrderRepository>,
        payments: Arc<dyn PaymentRepository>,
        gateway: Arc<dyn PaymentGateway>,
        leases: Arc<dyn Leases>,
        clock: Arc<dyn Clock>,
        settings: PaymentSettings,
    ) -> Self {
        Self {
            orders,
            payments,
            gateway,
            leases,
            clock,
            settings,
        }
    }

    /// The addresses of the pay link and the pages around checkout.
    pub fn links(&self) -> &dyn CustomerLinks {
        self.settings.links.as_ref()
    }

    /// Applies a provider event exactly once: its id is recorded in the same atomic write as
    /// its effect, a repeat is `Duplicate`, a stale one `Unchanged`. A write that lost a race
    /// with another delivery or event is decided again on fresh rows. Two store calls: one
    /// read (payment, order, seen before?), one compare-and-set write; a repeat costs the read.
    ///
    /// # Errors
    /// `UnknownPayment` when the event names an orderpay payment the store does not know.
    #[tracing::instrument(skip_all, fields(event_id = %event.id))]
    pub async fn apply(&self, event: &ProviderEvent) -> Result<Applied, ApplyError> {
        let key = match (event.kind.payment_id(), event.kind.provider_payment_id()) {
            (Some(id), _) => PaymentKey::Id(id),
            (None, Some(provider_id)) => PaymentKey::Provider(provider_id.to_owned()),
            (None, None) => return Ok(Applied::Ignored),
        };
        for _ in 0..CONFLICT_RETRIES {
            let Some(subject) = self.payments.event_subject(&event.id, &key).await? else {
                return match key {
                    // Young enough to be a race with the write that made the payment: ask
                    // for it again. Older, it is another deployment's on the same account.
                    PaymentKey::Id(id)
                        if self.clock.now() - event.created
                            > self.settings.unknown_payment_grace =>
                    {
                        tracing::warn!(
                            event_id = %event.id,
                            payment_id = %id,
                            "event for a payment not known here, past the grace period: ignored \
                             (another deployment on the same provider account?)"
                        );
                        Ok(Applied::Ignored)
                    }
                    PaymentKey::Id(id) => Err(ApplyError::UnknownPayment(id.to_string())),
                    PaymentKey::Provider(_) => {
                        tracing::warn!("event for a payment orderpay did not make: ignored");
                        Ok(Applied::Ignored)
                    }
                };
            };
            // Seen before: answered without a write. (The commit's event id is still what
            // makes an event apply once: a repeat racing its first delivery past this check
            // is refused there.)
            if subject.applied_before {
                return Ok(Applied::Duplicate);
            }
            let EventSubject { payment, order, .. } = subject;
            let decision = decide(&order, &payment, &event.kind, self.clock.now());
            let changed = !decision.is_noop();
            let commit = EventCommit {
                event_id: Some(event.id.clone()),
                payment: decision.payment,
                order: decision.order,
                events: decision.events,
            };
            match self.payments.commit(&commit).await {
                Ok(()) if changed => {
                    tracing::info!(payment_id = %payment.id, order_id = %order.id, "payment event applied");
                    return Ok(Applied::Changed);
                }
                Ok(()) => return Ok(Applied::Unchanged),
                Err(StoreError::Duplicate(UniqueKey::ProcessedEvent)) => {
                    return Ok(Applied::Duplicate);
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApplyError::Unexpected(anyhow!(
            "event {} kept losing races with other writers",
            event.id
        )))
    }

    /// Closes the checkout session `session_id` at the provider, so it can take no more money.
    /// One the provider refuses to close is closed already (expired, or completed: its event
    /// tells the rest).
    ///
    /// # Errors
    /// The cause, when the provider could not be reached.
    async fn close_at_provider(&self, session_id: &str) -> Result<(), anyhow::Error> {
        match self.gateway.expire_checkout(session_id).await {
            Ok(()) => Ok(()),
            Err(GatewayError::Rejected(why)) => {
                tracing::info!(%why, "the provider did not expire the session");
                Ok(())
            }
            Err(GatewayError::Unavailable(cause)) => Err(cause),
        }
    }

    /// Closes `payment` without a provider event (its session lapsed, or none was ever
    /// recorded), with its history row. Returns whether it did; a payment that changed
    /// meanwhile is left to whoever changed it.
    async fn expire_locally(&self, payment: &Payment) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let mut expired = payment.clone();
        expired.status = PaymentStatus::Expired;
        expired.updated_at = now;
        let commit = EventCommit {
            event_id: None,
            events: vec![
                OrderEvent::new(payment.order_id, OrderEventType::PaymentExpired, now)
                    .for_payment(payment.id),
            ],
            payment: Some(expired),
            order: None,
        };
        match self.payments.commit(&commit).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The order's history, oldest first.
    pub async fn history(&self, id: OrderId) -> Result<Vec<OrderEvent>, PayLinkError> {
        self.orders
            .find_by_id(id)
            .await?
            .ok_or(PayLinkError::NotFound)?;
        Ok(self.payments.history(id).await?)
    }

    /// The order and its most recent payment, for showing the order with its payment state.
    pub async fn order_with_payment(
        &self,
        id: OrderId,
    ) -> Result<Option<(Order, Option<Payment>)>, StoreError> {
        self.payments.order_with_latest_payment(id).await
    }

    /// The payment a checkout session belongs to, and its order (the sandbox's page).
    pub async fn session(&self, session_id: &str) -> Result<Option<(Payment, Order)>, StoreError> {
        let Some(payment) = self.payments.find_by_session(session_id).await? else {
            return Ok(None);
        };
        let order = self.orders.find_by_id(payment.order_id).await?;
        Ok(order.map(|order| (payment, order)))
    }
}

#[cfg(test)]
mod tests;

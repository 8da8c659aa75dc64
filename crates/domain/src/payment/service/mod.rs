//! Pay links, checkout and provider events: the payment flows, over the ports. Cancel,
//! refunds, reconciliation and the sandbox's buttons live in the files beside this one.

mod cancel;
mod flags;
mod reconcile;
mod refund;
mod sandbox;

pub use cancel::CancelError;
pub use flags::ClearFlagsError;
pub use reconcile::Reconciled;
pub use refund::{RefundError, RefundInput};
pub use sandbox::SandboxOutcome;

use std::sync::Arc;

use anyhow::anyhow;
use chrono::TimeDelta;

use super::{
    ChargeRefusal, CheckoutRequest, EventCommit, EventSubject, GatewayError, Leases, Payment,
    PaymentGateway, PaymentKey, PaymentRepository, PaymentStatus, ProviderEvent, decide,
};
use crate::clock::Clock;
use crate::order::{
    Order, OrderEvent, OrderEventType, OrderFlag, OrderId, OrderRepository, OrderStatus, PayToken,
};
use crate::store::{StoreError, UniqueKey};

/// How many times a write that lost a race is decided again before giving up.
const CONFLICT_RETRIES: usize = 8;

#[derive(Debug, Clone)]
pub struct PaymentSettings {
    /// The service's public address: pay links and the pages a customer lands on.
    pub public_base_url: String,
    /// How long a checkout session stays open (Stripe: 30 minutes to 24 hours), counted from
    /// its payment's start.
    pub checkout_ttl: TimeDelta,
    /// How long after an event's creation a missing payment may still be a race (the event
    /// outran the write that made it): the provider is asked to deliver it again until then,
    /// and the event is ignored, with a warning, after.
    pub unknown_payment_grace: TimeDelta,
}

/// An order's pay link and the payment it will open.
#[derive(Debug, Clone)]
pub struct PayLink {
    pub url: String,
    pub payment: Payment,
}

#[derive(Debug, thiserror::Error)]
pub enum PayLinkError {
    #[error("no such order")]
    NotFound,
    #[error("the order is already paid")]
    AlreadyPaid,
    #[error("the order is cancelled")]
    Cancelled,
    /// A person must look at the order first (a payment did not match it, say): no new
    /// checkout opens until its flags are cleared.
    #[error("the order is flagged and needs attention")]
    Flagged(Vec<OrderFlag>),
    /// The provider cannot charge this order (its currency, or a total under its minimum).
    #[error(transparent)]
    NotChargeable(ChargeRefusal),
    #[error("the payment provider is unavailable")]
    ProviderUnavailable(#[source] anyhow::Error),
    /// The store cannot be reached now: worth a retry (503).
    #[error("the store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

/// Where opening a pay link leads the customer.
#[derive(Debug, Clone)]
pub enum CheckoutOutcome {
    /// To the provider's open checkout session.
    Redirect(String),
    /// A page saying so: there is nothing to pay.
    Paid(Order),
    Cancelled(Order),
    /// Paid with a delayed method; the money is on its way.
    Processing(Order),
    /// Flagged: the seller must look at it before it can be paid.
    NeedsAttention(Order),
    /// The provider cannot charge it (currency, minimum): the seller must change the order.
    NotChargeable(Order, ChargeRefusal),
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

crate::store::from_store_error!(PayLinkError, ApplyError);

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

    /// The service's public address, as configured.
    pub fn public_base_url(&self) -> &str {
        &self.settings.public_base_url
    }

    pub fn pay_url(&self, token: &PayToken) -> String {
        format!("{}/pay/{}", self.settings.public_base_url, token.as_str())
    }

    /// The order's pay link, the same every time while the order awaits payment, and the
    /// open payment behind it (made now if there is none).
    ///
    /// # Errors
    /// `AlreadyPaid` / `Cancelled` when there is nothing to pay; `NotFound`.
    #[tracing::instrument(skip_all, fields(order_id = %id))]
    pub async fn pay_link(&self, id: OrderId) -> Result<PayLink, PayLinkError> {
        let order = self
            .orders
            .find_by_id(id)
            .await?
            .ok_or(PayLinkError::NotFound)?;
        payable(&order)?;
        self.chargeable(&order)
            .map_err(PayLinkError::NotChargeable)?;
        let payment = self.open_payment(&order).await?;
        let now = self.clock.now();
        self.payments
            .record_once(&OrderEvent::new(
                order.id,
                OrderEventType::PaymentLinkCreated,
                now,
            ))
            .await?;
        Ok(PayLink {
            url: self.pay_url(order.pay_token()),
            payment,
        })
    }

    /// What opening the pay link `token` leads to: the open checkout session (opened now,
    /// at the provider, when there is none or the last one lapsed), or a page saying there is
    /// nothing to pay. No transaction is held across the call to the provider: the payment row
    /// is written first, then the provider called, then the session recorded.
    ///
    /// # Errors
    /// `NotFound` for an unknown token; `ProviderUnavailable` when the provider fails.
    #[tracing::instrument(skip_all)]
    pub async fn checkout(&self, token: &PayToken) -> Result<CheckoutOutcome, PayLinkError> {
        let order = self
            .orders
            .find_by_pay_token(token)
            .await?
            .ok_or(PayLinkError::NotFound)?;
        match payable(&order) {
            Ok(()) => {}
            Err(PayLinkError::Cancelled) => return Ok(CheckoutOutcome::Cancelled(order)),
            Err(PayLinkError::Flagged(_)) => return Ok(CheckoutOutcome::NeedsAttention(order)),
            Err(_) => return Ok(CheckoutOutcome::Paid(order)),
        }
        if let Err(refusal) = self.chargeable(&order) {
            return Ok(CheckoutOutcome::NotChargeable(order, refusal));
        }
        let payment = self.open_payment(&order).await?;
        let now = self.clock.now();
        match payment.status {
            PaymentStatus::Processing => return Ok(CheckoutOutcome::Processing(order)),
            _ if payment.has_live_session(now) => {
                let url = payment.session.as_ref().map(|s| s.url.clone());
                return url.map(CheckoutOutcome::Redirect).ok_or_else(|| {
                    PayLinkError::Unexpected(anyhow!("an open payment has no session"))
                });
            }
            _ => {}
        }
        let request = CheckoutRequest {
            success_url: format!("{}/done", self.pay_url(order.pay_token())),
            cancel_url: self.pay_url(order.pay_token()),
            // The same bytes under the same key, however often and late this is retried.
            expires_at: payment.session_deadline(self.settings.checkout_ttl),
            idempotency_key: format!("orderpay-checkout-{}", payment.id),
            order,
            payment,
        };
        let session = self
            .gateway
            .open_checkout(&request)
            .await
            .map_err(|e| match e {
                GatewayError::Unavailable(cause) => PayLinkError::ProviderUnavailable(cause),
                GatewayError::Rejected(why) => {
                    PayLinkError::Unexpected(anyhow!("the provider refused a checkout: {why}"))
                }
            })?;
        let opened = OrderEvent::new(request.order.id, OrderEventType::SessionOpened, now)
            .for_payment(request.payment.id);
        let stored = self
            .payments
            .record_session(request.payment.id, &session, &opened)
            .await?;
        // Whoever recorded first, the stored session is the one to send the customer to.
        let url = stored.session.map_or(session.url, |s| s.url);
        Ok(CheckoutOutcome::Redirect(url))
    }

    /// Whether the provider can charge `order` at all.
    fn chargeable(&self, order: &Order) -> Result<(), ChargeRefusal> {
        self.gateway
            .limits(order.currency())
            .chargeable(order.total(), order.currency())
    }

    /// The order's open payment: the one there is, or a new one. One that can no longer lead
    /// a customer to a checkout is closed first, so a new attempt can be made: a session in
    /// its last minute (closed at the provider too, since it could still take money) or past
    /// it, and a pending payment too old to open a session whose deadline is its own.
    async fn open_payment(&self, order: &Order) -> Result<Payment, PayLinkError> {
        for _ in 0..CONFLICT_RETRIES {
            let now = self.clock.now();
            let fresh = Payment::start(order, self.gateway.provider(), now);
            let (payment, _) = self.payments.open_or_get(&fresh).await?;
            let stale_pending = payment.status == PaymentStatus::Pending
                && !payment.can_open_session(now, self.settings.checkout_ttl);
            if !payment.session_ending(now) && !stale_pending {
                return Ok(payment);
            }
            if let Some(session) = &payment.session
                && !payment.session_lapsed(now)
            {
                match self.gateway.expire_checkout(&session.id).await {
                    // Closed now, or already (expired, or completed: its event tells the rest).
                    Ok(()) | Err(GatewayError::Rejected(_)) => {}
                    Err(GatewayError::Unavailable(cause)) => {
                        return Err(PayLinkError::ProviderUnavailable(cause));
                    }
                }
            }
            // Closed now, or by someone else meanwhile: either way, look again.
            self.expire_locally(&payment).await?;
        }
        Err(PayLinkError::Unexpected(anyhow!(
            "order {} keeps changing while opening a payment",
            order.id
        )))
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

fn payable(order: &Order) -> Result<(), PayLinkError> {
    match order.status() {
        OrderStatus::PendingPayment if !order.flags().is_empty() => Err(PayLinkError::Flagged(
            order.flags().iter().copied().collect(),
        )),
        OrderStatus::PendingPayment => Ok(()),
        OrderStatus::Cancelled => Err(PayLinkError::Cancelled),
        OrderStatus::Paid | OrderStatus::PartiallyRefunded | OrderStatus::Refunded => {
            Err(PayLinkError::AlreadyPaid)
        }
    }
}

#[cfg(test)]
mod tests;

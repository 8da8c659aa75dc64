//! Pay links and checkout: the order's stable link, and what opening it leads to (the open
//! session at the provider, a new one, or a page saying there is nothing to pay).

use anyhow::anyhow;

use std::sync::Arc;

use chrono::TimeDelta;

use super::{CONFLICT_RETRIES, ProviderEventService, close_at_provider};
use crate::clock::Clock;
use crate::merchant::Merchant;
use crate::order::OrderRepository;
use crate::order::{Order, OrderEvent, OrderEventType, OrderFlag, OrderId, OrderStatus, PayToken};
use crate::payment::{ChargeRefusal, CheckoutRequest, GatewayError, Payment, PaymentStatus};
use crate::payment::{CustomerLinks, PaymentGateway, PaymentRepository};
use crate::store::StoreError;

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

crate::store::from_store_error!(PayLinkError);

/// What a pay link's page says, read without changing anything (a link-preview crawler
/// reads it as a person does).
#[derive(Debug, Clone)]
pub struct LinkPreview {
    pub order: Order,
    pub state: LinkState,
}

/// Where an order stands, as its pay link shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Awaiting payment: the page offers checkout.
    Payable,
    Paid,
    Cancelled,
    /// Paid with a delayed method; the money is on its way.
    Processing,
    /// Flagged: the seller must look at it before it can be paid.
    NeedsAttention,
    /// The provider cannot charge it (currency, minimum).
    NotChargeable(ChargeRefusal),
}

/// The pay link, what opening it does, and the sandbox's checkout.
#[derive(Clone)]
pub struct CheckoutService {
    pub(super) orders: Arc<dyn OrderRepository>,
    pub(super) payments: Arc<dyn PaymentRepository>,
    pub(super) gateway: Arc<dyn PaymentGateway>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) links: Arc<dyn CustomerLinks>,
    pub(super) merchant: Merchant,
    pub(super) checkout_ttl: TimeDelta,
    /// The sandbox's buttons are applied as the provider's events; a lapsed payment closed.
    pub(super) events: ProviderEventService,
}

impl CheckoutService {
    /// The addresses of the pay link and the pages around checkout.
    pub fn links(&self) -> &dyn CustomerLinks {
        self.links.as_ref()
    }

    /// Whom the customer pays.
    pub fn merchant(&self) -> &Merchant {
        &self.merchant
    }

    /// What the pay link `token` shows, read only: no payment is made, no provider called,
    /// no history written. Opening checkout is [`Self::checkout`], a customer's act.
    ///
    /// # Errors
    /// `NotFound` for an unknown token; the store's errors.
    #[tracing::instrument(skip_all)]
    pub async fn preview(&self, token: &PayToken) -> Result<LinkPreview, PayLinkError> {
        let order = self
            .orders
            .find_by_pay_token(token)
            .await?
            .ok_or(PayLinkError::NotFound)?;
        let state = match payable(&order) {
            Err(PayLinkError::Cancelled) => LinkState::Cancelled,
            Err(PayLinkError::Flagged(_)) => LinkState::NeedsAttention,
            Err(_) => LinkState::Paid,
            Ok(()) => match self.chargeable(&order) {
                Err(refusal) => LinkState::NotChargeable(refusal),
                Ok(()) => match self.payments.latest_for_order(order.id()).await? {
                    Some(p) if p.status == PaymentStatus::Processing => LinkState::Processing,
                    _ => LinkState::Payable,
                },
            },
        };
        Ok(LinkPreview { order, state })
    }

    /// The pay link of order `id`, read only (no payment opened, nothing recorded): for a QR
    /// code of it. Refused, as [`Self::pay_link`] refuses, when there is nothing to pay.
    ///
    /// # Errors
    /// `NotFound`, `AlreadyPaid`, `Cancelled`, `Flagged`, `NotChargeable`.
    pub async fn pay_link_url(&self, id: OrderId) -> Result<String, PayLinkError> {
        let order = self.order_to_pay(id).await?;
        Ok(self.links().pay(order.pay_token()))
    }

    /// Order `id`, when it can be paid online now.
    async fn order_to_pay(&self, id: OrderId) -> Result<Order, PayLinkError> {
        let order = self
            .orders
            .find_by_id(id)
            .await?
            .ok_or(PayLinkError::NotFound)?;
        payable(&order)?;
        self.chargeable(&order)
            .map_err(PayLinkError::NotChargeable)?;
        Ok(order)
    }

    /// The payment a checkout session belongs to, and its order (the sandbox's page).
    pub async fn session(&self, session_id: &str) -> Result<Option<(Payment, Order)>, StoreError> {
        let Some(payment) = self.payments.find_by_session(session_id).await? else {
            return Ok(None);
        };
        let order = self.orders.find_by_id(payment.order_id).await?;
        Ok(order.map(|order| (payment, order)))
    }

    /// The order's pay link, the same every time while the order awaits payment, and the
    /// open payment behind it (made now if there is none).
    ///
    /// # Errors
    /// `AlreadyPaid` / `Cancelled` when there is nothing to pay; `NotFound`.
    #[tracing::instrument(skip_all, fields(order_id = %id))]
    pub async fn pay_link(&self, id: OrderId) -> Result<PayLink, PayLinkError> {
        let order = self.order_to_pay(id).await?;
        let payment = self.open_payment(&order).await?;
        let now = self.clock.now();
        self.payments
            .record_once(&OrderEvent::new(
                order.id(),
                OrderEventType::PaymentLinkCreated,
                now,
            ))
            .await?;
        Ok(PayLink {
            url: self.links().pay(order.pay_token()),
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
            success_url: self.links().paid(order.pay_token()),
            cancel_url: self.links().returned(order.pay_token()),
            merchant: self.merchant.clone(),
            // The same bytes under the same key, however often and late this is retried.
            expires_at: payment.session_deadline(self.checkout_ttl),
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
        let opened = OrderEvent::new(request.order.id(), OrderEventType::SessionOpened, now)
            .for_payment(request.payment.id);
        let url = session.url.clone();
        let Some(with_session) = request.payment.open_session(session, now) else {
            return Err(PayLinkError::Unexpected(anyhow!(
                "a session was opened for a payment that is not pending"
            )));
        };
        let stored = self.payments.record_session(&with_session, &opened).await?;
        // Whoever recorded first, the stored session is the one to send the customer to.
        let url = stored.session.map_or(url, |s| s.url);
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
                && !payment.can_open_session(now, self.checkout_ttl);
            if !payment.session_ending(now) && !stale_pending {
                return Ok(payment);
            }
            if let Some(session) = &payment.session
                && !payment.session_lapsed(now)
            {
                close_at_provider(self.gateway.as_ref(), &session.id)
                    .await
                    .map_err(PayLinkError::ProviderUnavailable)?;
            }
            // Closed now, or by someone else meanwhile: either way, look again.
            self.events.expire_locally(&payment).await?;
        }
        Err(PayLinkError::Unexpected(anyhow!(
            "order {} keeps changing while opening a payment",
            order.id()
        )))
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

//! Pay links, checkout and provider events: the payment flows, over the ports.

use std::sync::Arc;

use anyhow::anyhow;
use chrono::TimeDelta;

use super::{
    CheckoutRequest, EventCommit, GatewayError, Leases, Payment, PaymentEventKind, PaymentGateway,
    PaymentRepository, PaymentStatus, ProviderEvent, RefundReason, RefundRequest, SessionRef,
    SessionState, decide,
};
use crate::clock::Clock;
use crate::money::Amount;
use crate::order::{
    Order, OrderError, OrderEvent, OrderEventType, OrderId, OrderRepository, OrderService,
    OrderStatus, PayToken,
};
use crate::store::{StoreError, UniqueKey};

/// How many times a write that lost a race is decided again before giving up.
const CONFLICT_RETRIES: usize = 8;

#[derive(Debug, Clone)]
pub struct PaymentSettings {
    /// The service's public address: pay links and the pages a customer lands on.
    pub public_base_url: String,
    /// How long a checkout session stays open (Stripe: 30 minutes to 24 hours).
    pub checkout_ttl: TimeDelta,
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
    #[error("the payment provider is unavailable")]
    ProviderUnavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

impl From<StoreError> for PayLinkError {
    fn from(e: StoreError) -> Self {
        Self::Unexpected(e.into())
    }
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
}

/// What a reconciliation run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// False when another process held the lease.
    pub ran: bool,
    pub examined: usize,
    pub changed: usize,
    /// Payments the provider could not tell about now; tried again next run.
    pub failed: usize,
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
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

impl From<StoreError> for ApplyError {
    fn from(e: StoreError) -> Self {
        Self::Unexpected(e.into())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("no such order")]
    NotFound,
    #[error("the order is paid")]
    AlreadyPaid(OrderStatus),
    #[error("the order is already cancelled")]
    AlreadyCancelled,
    /// The open checkout session could not be closed at the provider, so the order stays
    /// payable rather than risk money arriving for a cancelled order.
    #[error("the payment provider is unavailable")]
    ProviderUnavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

impl From<OrderError> for CancelError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::NotFound => Self::NotFound,
            OrderError::IllegalTransition(t) if t.from == OrderStatus::Cancelled => {
                Self::AlreadyCancelled
            }
            OrderError::IllegalTransition(t) => Self::AlreadyPaid(t.from),
            other => Self::Unexpected(other.into()),
        }
    }
}

impl From<StoreError> for CancelError {
    fn from(e: StoreError) -> Self {
        Self::Unexpected(e.into())
    }
}

/// A refund as asked for: all that is left (`amount: None`) or part of it.
#[derive(Debug, Clone, Default)]
pub struct RefundInput {
    pub amount: Option<Amount>,
    pub reason: Option<RefundReason>,
}

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("no such order")]
    NotFound,
    /// Nothing was paid (or it is all refunded already).
    #[error("the order has no payment to refund")]
    NotPaid(OrderStatus),
    #[error("the amount is more than the {remaining} left to refund")]
    ExceedsRemaining { remaining: Amount },
    #[error("the payment provider is unavailable")]
    ProviderUnavailable(#[source] anyhow::Error),
    #[error("the payment provider refused the refund: {0}")]
    ProviderRejected(String),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

impl From<StoreError> for RefundError {
    fn from(e: StoreError) -> Self {
        Self::Unexpected(e.into())
    }
}

#[derive(Clone)]
pub struct PaymentService {
    orders: Arc<dyn OrderRepository>,
    order_service: OrderService,
    payments: Arc<dyn PaymentRepository>,
    gateway: Arc<dyn PaymentGateway>,
    clock: Arc<dyn Clock>,
    settings: PaymentSettings,
}

impl PaymentService {
    pub fn new(
        orders: Arc<dyn OrderRepository>,
        order_service: OrderService,
        payments: Arc<dyn PaymentRepository>,
        gateway: Arc<dyn PaymentGateway>,
        clock: Arc<dyn Clock>,
        settings: PaymentSettings,
    ) -> Self {
        Self {
            orders,
            order_service,
            payments,
            gateway,
            clock,
            settings,
        }
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
        match order.status() {
            OrderStatus::PendingPayment => {}
            OrderStatus::Cancelled => return Ok(CheckoutOutcome::Cancelled(order)),
            _ => return Ok(CheckoutOutcome::Paid(order)),
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
            expires_at: now + self.settings.checkout_ttl,
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

    /// The order's open payment: the one there is, or a new one. A session whose time is up
    /// (its expiry event not yet arrived) is closed first, so a new attempt can be made.
    async fn open_payment(&self, order: &Order) -> Result<Payment, PayLinkError> {
        for _ in 0..CONFLICT_RETRIES {
            let now = self.clock.now();
            let fresh = Payment::start(order, self.gateway.provider(), now);
            let (payment, _) = self.payments.open_or_get(&fresh).await?;
            if !payment.session_lapsed(now) {
                return Ok(payment);
            }
            let mut expired = payment.clone();
            expired.status = PaymentStatus::Expired;
            expired.updated_at = now;
            let commit = EventCommit {
                event_id: None,
                events: vec![
                    OrderEvent::new(order.id, OrderEventType::PaymentExpired, now)
                        .for_payment(payment.id),
                ],
                payment: Some(expired),
                order: None,
            };
            match self.payments.commit(&commit).await {
                Ok(()) | Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(PayLinkError::Unexpected(anyhow!(
            "order {} keeps changing while opening a payment",
            order.id
        )))
    }

    /// Applies a provider event exactly once: its id is recorded in the same transaction as
    /// its effect, a repeat is `Duplicate`, a stale one `Unchanged`. A write that lost a race
    /// with another delivery or event is decided again on fresh rows.
    ///
    /// # Errors
    /// `UnknownPayment` when the event names an orderpay payment the store does not know.
    #[tracing::instrument(skip_all, fields(event_id = %event.id))]
    pub async fn apply(&self, event: &ProviderEvent) -> Result<Applied, ApplyError> {
        for _ in 0..CONFLICT_RETRIES {
            let payment = match (event.kind.payment_id(), event.kind.provider_payment_id()) {
                (Some(id), _) => self
                    .payments
                    .find(id)
                    .await?
                    .ok_or_else(|| ApplyError::UnknownPayment(id.to_string()))?,
                (None, Some(provider_id)) => {
                    match self
                        .payments
                        .find_by_provider_payment_id(provider_id)
                        .await?
                    {
                        Some(payment) => payment,
                        None => {
                            tracing::warn!("event for a payment orderpay did not make: ignored");
                            return Ok(Applied::Ignored);
                        }
                    }
                }
                (None, None) => return Ok(Applied::Ignored),
            };
            let order = self
                .orders
                .find_by_id(payment.order_id)
                .await?
                .ok_or_else(|| ApplyError::Unexpected(anyhow!("payment without its order")))?;
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

    /// Cancels an order that awaits payment, closing its open checkout session at the
    /// provider first so that no money can arrive for it afterwards. Money that arrives all
    /// the same (the customer paid in the same instant) is recorded and the order flagged.
    ///
    /// # Errors
    /// `AlreadyPaid` / `AlreadyCancelled`; `ProviderUnavailable` when the session could not be
    /// closed (the order is left as it was).
    #[tracing::instrument(skip_all, fields(order_id = %id))]
    pub async fn cancel(&self, id: OrderId) -> Result<Order, CancelError> {
        let order = self.order_service.get(id).await?;
        if order.status() != OrderStatus::PendingPayment {
            // Let the order's own rules say why not.
            return Err(self.order_service.cancel(id).await.err().map_or(
                CancelError::Unexpected(anyhow!("order {id} could not be cancelled")),
                CancelError::from,
            ));
        }
        if let Some(payment) = self.payments.latest_for_order(id).await?
            && payment.status == PaymentStatus::Open
            && let Some(session) = &payment.session
        {
            match self.gateway.expire_checkout(&session.id).await {
                Ok(()) => {}
                // Already closed (expired or completed): its event tells the rest.
                Err(GatewayError::Rejected(why)) => {
                    tracing::info!(%why, "the provider did not expire the session");
                }
                Err(GatewayError::Unavailable(cause)) => {
                    return Err(CancelError::ProviderUnavailable(cause));
                }
            }
        }
        Ok(self.order_service.cancel(id).await?)
    }

    /// Refunds `input.amount` (by default all that is left) of the order's payment, through
    /// the provider with an idempotency key, and applies the result through the same path as
    /// the provider's refund event: whichever of the two comes first applies it, once.
    ///
    /// # Errors
    /// `NotPaid`, `ExceedsRemaining`, or the provider's `ProviderUnavailable` /
    /// `ProviderRejected`.
    #[tracing::instrument(skip_all, fields(order_id = %id))]
    pub async fn refund(&self, id: OrderId, input: RefundInput) -> Result<Order, RefundError> {
        let order = self
            .orders
            .find_by_id(id)
            .await?
            .ok_or(RefundError::NotFound)?;
        if !matches!(
            order.status(),
            OrderStatus::Paid | OrderStatus::PartiallyRefunded
        ) {
            return Err(RefundError::NotPaid(order.status()));
        }
        let payment = self
            .payments
            .latest_for_order(id)
            .await?
            .filter(|p| p.status == PaymentStatus::Succeeded);
        let (Some(payment), Some(provider_payment_id)) =
            (payment.clone(), payment.and_then(|p| p.provider_payment_id))
        else {
            return Err(RefundError::NotPaid(order.status()));
        };
        let remaining = Amount::new(
            payment.amount_received.minor_units() - payment.amount_refunded.minor_units(),
        )
        .unwrap_or(Amount::ZERO);
        let amount = input.amount.unwrap_or(remaining);
        if amount == Amount::ZERO || amount > remaining {
            return Err(RefundError::ExceedsRemaining { remaining });
        }
        let request = RefundRequest {
            provider_payment_id: provider_payment_id.clone(),
            amount,
            reason: input.reason,
            // The same refund asked again on the same state is the same refund.
            idempotency_key: format!(
                "orderpay-refund-{}-{}-{}",
                payment.id, payment.amount_refunded, amount
            ),
        };
        let refund = self.gateway.refund(&request).await.map_err(|e| match e {
            GatewayError::Unavailable(cause) => RefundError::ProviderUnavailable(cause),
            GatewayError::Rejected(why) => RefundError::ProviderRejected(why),
        })?;
        let refunded_total = payment
            .amount_refunded
            .checked_add(refund.amount)
            .map_err(|e| RefundError::Unexpected(e.into()))?;
        let event = ProviderEvent {
            id: format!("orderpay-refund:{}", refund.id),
            kind: PaymentEventKind::Refunded {
                provider_payment_id,
                refunded_total: refunded_total.minor_units(),
            },
            created: self.clock.now(),
        };
        self.apply(&event).await.map_err(|e| match e {
            ApplyError::UnknownPayment(p) => {
                RefundError::Unexpected(anyhow!("refunded payment {p} vanished"))
            }
            ApplyError::Unexpected(cause) => RefundError::Unexpected(cause),
        })?;
        self.orders
            .find_by_id(id)
            .await?
            .ok_or(RefundError::NotFound)
    }

    /// Asks the provider for the true state of payments that are stuck (open past their
    /// expiry, pending or processing for too long) and applies it through the same path as
    /// the provider's events. One process at a time runs it (the `leases` port); the same
    /// state seen twice has the same event id, so it is never applied twice either way.
    ///
    /// # Errors
    /// When the store fails; a payment the provider cannot tell about now is skipped.
    #[tracing::instrument(skip_all)]
    pub async fn reconcile(&self, leases: &dyn Leases) -> Result<Reconciled, ApplyError> {
        let Some(_lease) = leases.try_acquire("reconcile").await? else {
            return Ok(Reconciled::default());
        };
        let now = self.clock.now();
        let stale_before = now - self.settings.checkout_ttl;
        let stuck = self.payments.stuck(now, stale_before, 200).await?;
        let mut report = Reconciled {
            ran: true,
            ..Reconciled::default()
        };
        for payment in stuck {
            report.examined += 1;
            let Some(session) = payment.session.clone() else {
                // No session was ever recorded: nothing can be open for it any more.
                report.changed += usize::from(self.expire_locally(&payment).await?);
                continue;
            };
            let state = match self.gateway.checkout_state(&session.id).await {
                Ok(state) => state,
                Err(e) => {
                    tracing::warn!(payment_id = %payment.id, error = %e, "could not ask the provider");
                    report.failed += 1;
                    continue;
                }
            };
            let reference = SessionRef {
                session_id: session.id.clone(),
                payment_id: payment.id,
                order_id: payment.order_id,
            };
            let (tag, kind) = match state {
                SessionState::Open => continue,
                SessionState::Expired => (
                    "expired",
                    PaymentEventKind::SessionExpired { session: reference },
                ),
                SessionState::Complete {
                    paid,
                    amount,
                    currency,
                    provider_payment_id,
                } => (
                    if paid { "paid" } else { "processing" },
                    PaymentEventKind::SessionCompleted {
                        session: reference,
                        paid,
                        amount,
                        currency,
                        provider_payment_id,
                    },
                ),
            };
            let event = ProviderEvent {
                id: format!("orderpay-reconcile:{}:{tag}", session.id),
                kind,
                created: now,
            };
            if self.apply(&event).await? == Applied::Changed {
                report.changed += 1;
            }
        }
        Ok(report)
    }

    /// Closes a pending payment whose session was never recorded. Returns whether it did.
    async fn expire_locally(&self, payment: &Payment) -> Result<bool, ApplyError> {
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
            Err(e) => Err(e.into()),
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

    /// The order's most recent payment, for showing its payment state.
    pub async fn latest_payment(&self, id: OrderId) -> Result<Option<Payment>, StoreError> {
        self.payments.latest_for_order(id).await
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
        OrderStatus::PendingPayment => Ok(()),
        OrderStatus::Cancelled => Err(PayLinkError::Cancelled),
        OrderStatus::Paid | OrderStatus::PartiallyRefunded | OrderStatus::Refunded => {
            Err(PayLinkError::AlreadyPaid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SystemClock;
    use crate::customer::CustomerService;
    use crate::customer::{CustomerId, MockCustomerRepository};
    use crate::order::{
        LineItemInput, MockOrderRepository, MockReferenceGenerator, OrderCustomerInput, OrderInput,
        OrderReference, StatusEvent,
    };
    use crate::payment::{MockPaymentGateway, MockPaymentRepository, PaymentProvider};

    fn pending_order() -> Order {
        let new = OrderInput {
            customer: OrderCustomerInput::Id(CustomerId::generate().as_uuid()),
            currency: "usd".into(),
            items: vec![LineItemInput {
                name: "Tea".into(),
                quantity: Some(2),
                unit_amount: Some(450),
            }],
            metadata: Default::default(),
        }
        .parse(None)
        .unwrap();
        Order::create(
            new,
            CustomerId::generate(),
            OrderReference::parse("AAAA-BBBB").unwrap(),
            chrono::Utc::now(),
        )
    }

    fn service(
        orders: MockOrderRepository,
        payments: MockPaymentRepository,
        gateway: MockPaymentGateway,
    ) -> PaymentService {
        let orders: Arc<dyn OrderRepository> = Arc::new(orders);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let order_service = OrderService::new(
            orders.clone(),
            CustomerService::new(Arc::new(MockCustomerRepository::new()), None, clock.clone()),
            Arc::new(MockReferenceGenerator::new()),
            clock.clone(),
        );
        PaymentService::new(
            orders,
            order_service,
            Arc::new(payments),
            Arc::new(gateway),
            clock,
            PaymentSettings {
                public_base_url: "https://pay.example.com".into(),
                checkout_ttl: TimeDelta::hours(1),
            },
        )
    }

    fn completed(payment: &Payment) -> ProviderEvent {
        ProviderEvent {
            id: "evt_1".into(),
            kind: PaymentEventKind::SessionCompleted {
                session: SessionRef {
                    session_id: "cs_1".into(),
                    payment_id: payment.id,
                    order_id: payment.order_id,
                },
                paid: true,
                amount: 900,
                currency: "usd".into(),
                provider_payment_id: Some("pi_1".into()),
            },
            created: chrono::Utc::now(),
        }
    }

    #[tokio::test]
    async fn an_event_for_an_unknown_payment_is_an_error_never_a_silent_success() {
        let order = pending_order();
        let payment = Payment::start(&order, PaymentProvider::Stripe, chrono::Utc::now());
        let mut payments = MockPaymentRepository::new();
        payments.expect_find().returning(|_| Ok(None));
        payments.expect_commit().never();
        let err = service(
            MockOrderRepository::new(),
            payments,
            MockPaymentGateway::new(),
        )
        .apply(&completed(&payment))
        .await
        .unwrap_err();
        assert!(matches!(err, ApplyError::UnknownPayment(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_write_that_lost_a_race_is_decided_again_on_fresh_rows() {
        let order = pending_order();
        let payment = Payment::start(&order, PaymentProvider::Stripe, chrono::Utc::now());
        let mut orders = MockOrderRepository::new();
        let o = order.clone();
        orders
            .expect_find_by_id()
            .returning(move |_| Ok(Some(o.clone())));
        let mut payments = MockPaymentRepository::new();
        let p = payment.clone();
        payments
            .expect_find()
            .times(2)
            .returning(move |_| Ok(Some(p.clone())));
        let mut first = true;
        payments.expect_commit().times(2).returning(move |commit| {
            assert_eq!(commit.event_id.as_deref(), Some("evt_1"));
            if std::mem::take(&mut first) {
                Err(StoreError::Conflict)
            } else {
                Ok(())
            }
        });
        let applied = service(orders, payments, MockPaymentGateway::new())
            .apply(&completed(&payment))
            .await
            .unwrap();
        assert_eq!(applied, Applied::Changed);
    }

    #[tokio::test]
    async fn a_repeated_event_id_is_a_duplicate() {
        let order = pending_order();
        let payment = Payment::start(&order, PaymentProvider::Stripe, chrono::Utc::now());
        let mut orders = MockOrderRepository::new();
        orders
            .expect_find_by_id()
            .returning(move |_| Ok(Some(order.clone())));
        let mut payments = MockPaymentRepository::new();
        let p = payment.clone();
        payments
            .expect_find()
            .returning(move |_| Ok(Some(p.clone())));
        payments
            .expect_commit()
            .returning(|_| Err(StoreError::Duplicate(UniqueKey::ProcessedEvent)));
        let applied = service(orders, payments, MockPaymentGateway::new())
            .apply(&completed(&payment))
            .await
            .unwrap();
        assert_eq!(applied, Applied::Duplicate);
    }

    #[tokio::test]
    async fn opening_the_link_of_a_paid_order_calls_no_provider() {
        let mut order = pending_order();
        order
            .transition(StatusEvent::PaymentSucceeded, chrono::Utc::now())
            .unwrap();
        let token = order.pay_token().clone();
        let mut orders = MockOrderRepository::new();
        orders
            .expect_find_by_pay_token()
            .returning(move |_| Ok(Some(order.clone())));
        let mut payments = MockPaymentRepository::new();
        payments.expect_open_or_get().never();
        let mut gateway = MockPaymentGateway::new();
        gateway.expect_open_checkout().never();
        let outcome = service(orders, payments, gateway)
            .checkout(&token)
            .await
            .unwrap();
        assert!(matches!(outcome, CheckoutOutcome::Paid(_)));
    }

    #[tokio::test]
    async fn a_provider_outage_at_checkout_records_no_session() {
        let order = pending_order();
        let token = order.pay_token().clone();
        let mut orders = MockOrderRepository::new();
        let o = order.clone();
        orders
            .expect_find_by_pay_token()
            .returning(move |_| Ok(Some(o.clone())));
        let mut payments = MockPaymentRepository::new();
        payments
            .expect_open_or_get()
            .returning(|p| Ok((p.clone(), true)));
        payments.expect_record_session().never();
        let mut gateway = MockPaymentGateway::new();
        gateway
            .expect_provider()
            .return_const(PaymentProvider::Stripe);
        gateway
            .expect_open_checkout()
            .withf(|r| r.idempotency_key.starts_with("orderpay-checkout-"))
            .returning(|_| Err(GatewayError::Unavailable(anyhow!("timeout"))));
        let err = service(orders, payments, gateway)
            .checkout(&token)
            .await
            .unwrap_err();
        assert!(
            matches!(err, PayLinkError::ProviderUnavailable(_)),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn cancel_keeps_the_order_when_its_session_cannot_be_closed() {
        let order = pending_order();
        let mut open = Payment::start(&order, PaymentProvider::Stripe, chrono::Utc::now());
        open.status = PaymentStatus::Open;
        open.session = Some(crate::payment::CheckoutSession {
            id: "cs_1".into(),
            url: "https://checkout.stripe.com/c/pay/cs_1".into(),
            expires_at: chrono::Utc::now() + TimeDelta::hours(1),
        });
        let mut orders = MockOrderRepository::new();
        orders
            .expect_find_by_id()
            .returning(move |_| Ok(Some(order.clone())));
        orders.expect_update_status().never();
        let mut payments = MockPaymentRepository::new();
        payments
            .expect_latest_for_order()
            .returning(move |_| Ok(Some(open.clone())));
        let mut gateway = MockPaymentGateway::new();
        gateway
            .expect_expire_checkout()
            .returning(|_| Err(GatewayError::Unavailable(anyhow!("down"))));
        let err = service(orders, payments, gateway)
            .cancel(OrderId::generate())
            .await
            .unwrap_err();
        assert!(
            matches!(err, CancelError::ProviderUnavailable(_)),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_refund_over_what_is_left_never_reaches_the_provider() {
        let mut order = pending_order();
        order
            .transition(StatusEvent::PaymentSucceeded, chrono::Utc::now())
            .unwrap();
        let mut paid = Payment::start(&order, PaymentProvider::Stripe, chrono::Utc::now());
        paid.status = PaymentStatus::Succeeded;
        paid.amount_received = Amount::new(900).unwrap();
        paid.amount_refunded = Amount::new(600).unwrap();
        paid.provider_payment_id = Some("pi_1".into());
        let mut orders = MockOrderRepository::new();
        orders
            .expect_find_by_id()
            .returning(move |_| Ok(Some(order.clone())));
        let mut payments = MockPaymentRepository::new();
        payments
            .expect_latest_for_order()
            .returning(move |_| Ok(Some(paid.clone())));
        let mut gateway = MockPaymentGateway::new();
        gateway.expect_refund().never();
        let err = service(orders, payments, gateway)
            .refund(
                OrderId::generate(),
                RefundInput {
                    amount: Some(Amount::new(301).unwrap()),
                    reason: None,
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, RefundError::ExceedsRemaining { remaining } if remaining.minor_units() == 300),
            "{err:?}"
        );
    }
}

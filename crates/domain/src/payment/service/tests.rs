//! PaymentService flows over mocked ports: no store, no network.

use std::sync::Arc;

use super::*;
use crate::SystemClock;
use crate::clock::Clock;
use crate::customer::CustomerId;
use crate::money::Amount;
use crate::order::OrderFlag;
use crate::order::{Order, OrderRepository};
use crate::payment::{EventSubject, Payment, PaymentGateway, PaymentStatus, ProviderEvent};
use crate::payment::{Lease, MockLeases, TestLinks};

struct HeldLease;
impl Lease for HeldLease {}
use crate::order::{MockOrderRepository, OrderCustomer, OrderReference, StatusEvent, order_of};
use crate::order::{OrderEventType, OrderId, OrderStatus};
use crate::payment::GatewayError;
use crate::payment::{
    ChargeLimits, ChargeRefusal, MockPaymentGateway, MockPaymentRepository, PaymentEventKind,
    PaymentProvider, SessionRef,
};
use crate::store::{StoreError, UniqueKey};
use anyhow::anyhow;
use chrono::TimeDelta;

fn pending_order() -> Order {
    let new = order_of(
        OrderCustomer::Id(CustomerId::generate()),
        "usd",
        &[("Tea", 2, 450)],
        Default::default(),
    )
    .unwrap();
    Order::create(
        new,
        CustomerId::generate(),
        OrderReference::parse("AAAA-BBBB").unwrap(),
        chrono::Utc::now(),
    )
}

/// The service over these mocks; a gateway with no `limits` expectation of its own can
/// charge anything.
fn service(
    orders: MockOrderRepository,
    payments: MockPaymentRepository,
    mut gateway: MockPaymentGateway,
) -> PaymentServices {
    gateway.expect_limits().returning(|_| ChargeLimits::ANY);
    let mut leases = MockLeases::new();
    leases
        .expect_acquire()
        .returning(|_, _| Ok(Some(Box::new(HeldLease))));
    let orders: Arc<dyn OrderRepository> = Arc::new(orders);
    let gateway: Arc<dyn PaymentGateway> = Arc::new(gateway);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    PaymentServices::new(
        orders,
        Arc::new(payments),
        gateway,
        Arc::new(leases),
        clock,
        PaymentSettings {
            links: Arc::new(TestLinks("https://pay.example.com")),
            checkout_ttl: TimeDelta::hours(1),
            unknown_payment_grace: TimeDelta::hours(1),
            merchant: crate::merchant::Merchant::development(),
        },
    )
}

/// Stores that find `order` and, as its latest payment, `latest`.
fn found(order: &Order, latest: Option<Payment>) -> (MockOrderRepository, MockPaymentRepository) {
    let order = order.clone();
    let mut orders = MockOrderRepository::new();
    orders
        .expect_find_by_id()
        .returning(move |_| Ok(Some(order.clone())));
    let mut payments = MockPaymentRepository::new();
    payments
        .expect_latest_for_order()
        .returning(move |_| Ok(latest.clone()));
    (orders, payments)
}

/// A Stripe payment of `order` whose session `session` is open until `expires_at`.
fn open_payment(
    order: &Order,
    session: &str,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Payment {
    let mut open = Payment::start(order, PaymentProvider::Stripe, chrono::Utc::now());
    open.status = PaymentStatus::Open;
    open.session = Some(crate::payment::CheckoutSession {
        id: session.into(),
        url: format!("https://checkout.stripe.com/c/pay/{session}"),
        expires_at,
    });
    open
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
    payments.expect_event_subject().returning(|_, _| Ok(None));
    payments.expect_commit().never();
    let err = apply(payments, &completed(&payment)).await.unwrap_err();
    assert!(matches!(err, ApplyError::UnknownPayment(_)), "{err:?}");
}

#[tokio::test]
async fn a_write_that_lost_a_race_is_decided_again_on_fresh_rows() {
    let order = pending_order();
    let payment = Payment::start(&order, PaymentProvider::Stripe, chrono::Utc::now());
    let mut payments = MockPaymentRepository::new();
    let subject = fresh(&order, &payment);
    payments
        .expect_event_subject()
        .withf(|event_id, _| event_id == "evt_1")
        .times(2)
        .returning(move |_, _| Ok(Some(subject.clone())));
    let mut first = true;
    payments.expect_commit().times(2).returning(move |commit| {
        assert_eq!(commit.event_id.as_deref(), Some("evt_1"));
        if std::mem::take(&mut first) {
            Err(StoreError::Conflict)
        } else {
            Ok(())
        }
    });
    let applied = apply(payments, &completed(&payment)).await.unwrap();
    assert_eq!(applied, Applied::Changed);
}

#[tokio::test]
async fn a_repeated_event_id_racing_its_first_delivery_is_a_duplicate() {
    let order = pending_order();
    let payment = Payment::start(&order, PaymentProvider::Stripe, chrono::Utc::now());
    let mut payments = MockPaymentRepository::new();
    let subject = fresh(&order, &payment);
    payments
        .expect_event_subject()
        .returning(move |_, _| Ok(Some(subject.clone())));
    payments
        .expect_commit()
        .returning(|_| Err(StoreError::Duplicate(UniqueKey::ProcessedEvent)));
    let applied = apply(payments, &completed(&payment)).await.unwrap();
    assert_eq!(applied, Applied::Duplicate);
}

#[tokio::test]
async fn an_event_id_seen_before_is_a_duplicate_without_a_write() {
    let order = pending_order();
    let payment = Payment::start(&order, PaymentProvider::Stripe, chrono::Utc::now());
    let mut payments = MockPaymentRepository::new();
    let subject = EventSubject {
        applied_before: true,
        ..fresh(&order, &payment)
    };
    payments
        .expect_event_subject()
        .times(1)
        .returning(move |_, _| Ok(Some(subject.clone())));
    payments.expect_commit().never();
    let applied = apply(payments, &completed(&payment)).await.unwrap();
    assert_eq!(applied, Applied::Duplicate);
}

/// `event` applied by a service over `payments` (no other port is needed to apply one).
async fn apply(
    payments: MockPaymentRepository,
    event: &ProviderEvent,
) -> Result<Applied, ApplyError> {
    service(
        MockOrderRepository::new(),
        payments,
        MockPaymentGateway::new(),
    )
    .events
    .apply(event)
    .await
}

/// What the store reads for an event never applied before.
fn fresh(order: &Order, payment: &Payment) -> EventSubject {
    EventSubject {
        payment: payment.clone(),
        order: order.clone(),
        applied_before: false,
    }
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
        .checkout
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
        .checkout
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
    let open = open_payment(&order, "cs_1", chrono::Utc::now() + TimeDelta::hours(1));
    let (mut orders, payments) = found(&order, Some(open));
    orders.expect_update_status().never();
    let mut gateway = MockPaymentGateway::new();
    gateway
        .expect_expire_checkout()
        .returning(|_| Err(GatewayError::Unavailable(anyhow!("down"))));
    let err = service(orders, payments, gateway)
        .money
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
    let (orders, payments) = found(&order, Some(paid));
    let mut gateway = MockPaymentGateway::new();
    gateway.expect_refund().never();
    let err = service(orders, payments, gateway)
        .money
        .refund(
            OrderId::generate(),
            RefundInput {
                amount: Some(Amount::new(301).unwrap()),
                reason: None,
                request_key: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, RefundError::ExceedsRemaining { remaining } if remaining.minor_units() == 300),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_event_for_an_unknown_payment_is_ignored_once_past_the_grace_period() {
    let order = pending_order();
    let payment = Payment::start(&order, PaymentProvider::Stripe, chrono::Utc::now());
    let mut payments = MockPaymentRepository::new();
    payments.expect_event_subject().returning(|_, _| Ok(None));
    payments.expect_commit().never();
    let mut old = completed(&payment);
    old.created = chrono::Utc::now() - TimeDelta::hours(1) - TimeDelta::minutes(1);
    assert_eq!(apply(payments, &old).await.unwrap(), Applied::Ignored);
}

/// A pending order of 9.00 usd whose store holds `payment` as its open payment.
fn checkout_world(order: &Order, payment: Payment) -> (MockOrderRepository, MockPaymentRepository) {
    let mut orders = MockOrderRepository::new();
    let o = order.clone();
    orders
        .expect_find_by_pay_token()
        .returning(move |_| Ok(Some(o.clone())));
    let o = order.clone();
    orders
        .expect_find_by_id()
        .returning(move |_| Ok(Some(o.clone())));
    let mut payments = MockPaymentRepository::new();
    payments
        .expect_open_or_get()
        .returning(move |_| Ok((payment.clone(), false)));
    (orders, payments)
}

/// A pending order whose store first holds `first` as its open payment, then makes the new
/// one it is given; `first` must be closed (expired) exactly once on the way.
fn replacing(order: &Order, first: Payment) -> (MockOrderRepository, MockPaymentRepository) {
    let mut orders = MockOrderRepository::new();
    let o = order.clone();
    orders
        .expect_find_by_pay_token()
        .returning(move |_| Ok(Some(o.clone())));
    let mut payments = MockPaymentRepository::new();
    let mut calls = 0;
    let first_id = first.id;
    payments.expect_open_or_get().returning(move |fresh| {
        calls += 1;
        Ok(if calls == 1 {
            (first.clone(), false)
        } else {
            (fresh.clone(), true)
        })
    });
    payments
        .expect_commit()
        .withf(move |c| {
            c.payment
                .as_ref()
                .is_some_and(|p| p.id == first_id && p.status == PaymentStatus::Expired)
        })
        .times(1)
        .returning(|_| Ok(()));
    (orders, payments)
}

#[tokio::test]
async fn a_retried_checkout_sends_the_same_expiry_however_late_it_comes() {
    let order = pending_order();
    // Made 20 minutes ago (the pay link was asked for then); opened only now.
    let started = chrono::Utc::now() - TimeDelta::minutes(20);
    let payment = Payment::start(&order, PaymentProvider::Stripe, started);
    let (orders, mut payments) = checkout_world(&order, payment.clone());
    payments.expect_record_session().never();
    let mut gateway = MockPaymentGateway::new();
    gateway
        .expect_provider()
        .return_const(PaymentProvider::Stripe);
    let id = payment.id;
    gateway
        .expect_open_checkout()
        .withf(move |r| {
            r.expires_at == started + TimeDelta::hours(1)
                && r.idempotency_key == format!("orderpay-checkout-{id}")
        })
        .times(2)
        .returning(|_| Err(GatewayError::Unavailable(anyhow!("the answer was lost"))));
    let service = service(orders, payments, gateway);
    for _ in 0..2 {
        let token = order.pay_token().clone();
        assert!(service.checkout.checkout(&token).await.is_err());
    }
}

#[tokio::test]
async fn a_pending_payment_too_old_for_its_own_deadline_is_closed_and_another_started() {
    let order = pending_order();
    // Its deadline (start + 1 h) is 20 minutes away: too close for a 30-minute session.
    let old = Payment::start(
        &order,
        PaymentProvider::Stripe,
        chrono::Utc::now() - TimeDelta::minutes(40),
    );
    let old_id = old.id;
    let (orders, mut payments) = replacing(&order, old.clone());
    payments.expect_record_session().returning(|opened, _| {
        let session = opened.session.as_ref().unwrap();
        Err(StoreError::Unavailable(anyhow!("{}", session.id)))
    });
    let mut gateway = MockPaymentGateway::new();
    gateway
        .expect_provider()
        .return_const(PaymentProvider::Stripe);
    gateway.expect_expire_checkout().never();
    gateway
        .expect_open_checkout()
        .withf(move |r| {
            r.payment.id != old_id && r.expires_at > chrono::Utc::now() + TimeDelta::minutes(59)
        })
        .times(1)
        .returning(|r| {
            Ok(crate::payment::CheckoutSession {
                id: "cs_new".into(),
                url: "https://checkout.example/cs_new".into(),
                expires_at: r.expires_at,
            })
        });
    let token = order.pay_token().clone();
    // The store's failure at the end is only there to stop the flow after the call.
    assert!(
        service(orders, payments, gateway)
            .checkout
            .checkout(&token)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_flagged_order_opens_no_checkout_until_cleared() {
    let mut order = pending_order();
    order.flag(OrderFlag::AmountMismatch, chrono::Utc::now());
    let token = order.pay_token().clone();
    let (orders, mut payments) = checkout_world(
        &order,
        Payment::start(&order, PaymentProvider::Stripe, chrono::Utc::now()),
    );
    payments.checkpoint();
    payments.expect_open_or_get().never();
    let mut gateway = MockPaymentGateway::new();
    gateway.expect_open_checkout().never();
    let service = service(orders, payments, gateway);
    let err = service.checkout.pay_link(order.id()).await.unwrap_err();
    assert!(
        matches!(&err, PayLinkError::Flagged(flags) if flags == &[OrderFlag::AmountMismatch]),
        "{err:?}"
    );
    let outcome = service.checkout.checkout(&token).await.unwrap();
    assert!(
        matches!(outcome, CheckoutOutcome::NeedsAttention(_)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_total_the_provider_cannot_charge_is_refused_when_the_link_is_asked_for() {
    let order = pending_order();
    let (orders, mut payments) = checkout_world(
        &order,
        Payment::start(&order, PaymentProvider::Stripe, chrono::Utc::now()),
    );
    payments.checkpoint();
    payments.expect_open_or_get().never();
    let mut gateway = MockPaymentGateway::new();
    gateway.expect_limits().returning(|_| ChargeLimits {
        minimum: Some(Amount::new(1000).unwrap()),
        ..ChargeLimits::ANY
    });
    gateway.expect_open_checkout().never();
    let err = service(orders, payments, gateway)
        .checkout
        .pay_link(order.id())
        .await
        .unwrap_err();
    assert!(
        matches!(err, PayLinkError::NotChargeable(ChargeRefusal::BelowMinimum { minimum, .. }) if minimum.minor_units() == 1000),
        "{err:?}"
    );
}

#[tokio::test]
async fn cancel_is_refused_while_a_delayed_payment_is_processing() {
    let order = pending_order();
    let mut processing = Payment::start(&order, PaymentProvider::Stripe, chrono::Utc::now());
    processing.status = PaymentStatus::Processing;
    let (mut orders, payments) = found(&order, Some(processing));
    orders.expect_update_status().never();
    let mut gateway = MockPaymentGateway::new();
    gateway.expect_expire_checkout().never();
    let err = service(orders, payments, gateway)
        .money
        .cancel(OrderId::generate())
        .await
        .unwrap_err();
    assert!(matches!(err, CancelError::PaymentProcessing), "{err:?}");
}

#[tokio::test]
async fn a_session_in_its_last_minute_is_closed_at_the_provider_and_a_new_attempt_made() {
    let order = pending_order();
    let ending = open_payment(
        &order,
        "cs_ending",
        chrono::Utc::now() + TimeDelta::seconds(30),
    );
    let ending_id = ending.id;
    let (orders, mut payments) = replacing(&order, ending.clone());
    payments.expect_record_session().returning(|opened, _| {
        assert_eq!(opened.status, PaymentStatus::Open, "the domain opens it");
        Ok(opened.next_version())
    });
    let mut gateway = MockPaymentGateway::new();
    gateway
        .expect_provider()
        .return_const(PaymentProvider::Stripe);
    gateway
        .expect_expire_checkout()
        .withf(|id| id == "cs_ending")
        .times(1)
        .returning(|_| Ok(()));
    gateway
        .expect_open_checkout()
        .withf(move |r| r.payment.id != ending_id)
        .times(1)
        .returning(|r| {
            Ok(crate::payment::CheckoutSession {
                id: "cs_next".into(),
                url: "https://checkout.example/cs_next".into(),
                expires_at: r.expires_at,
            })
        });
    let token = order.pay_token().clone();
    let outcome = service(orders, payments, gateway)
        .checkout
        .checkout(&token)
        .await
        .unwrap();
    assert!(
        matches!(&outcome, CheckoutOutcome::Redirect(url) if url.ends_with("cs_next")),
        "{outcome:?}"
    );
}

/// A stored order in `status`, as the store would return it.
fn order_in(status: StatusEvent) -> Order {
    let mut order = pending_order();
    order.transition(status, chrono::Utc::now()).unwrap();
    order
}

#[tokio::test]
async fn cancel_moves_a_pending_order_to_cancelled() {
    let order = pending_order();
    let mut orders = MockOrderRepository::new();
    orders
        .expect_find_by_id()
        .returning(move |_| Ok(Some(order.clone())));
    orders
        .expect_update_status()
        .withf(|o, expected, event| {
            event.kind == OrderEventType::Cancelled
                && o.status() == OrderStatus::Cancelled
                && *expected == OrderStatus::PendingPayment
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let mut payments = MockPaymentRepository::new();
    payments.expect_latest_for_order().returning(|_| Ok(None));
    let cancelled = service(orders, payments, MockPaymentGateway::new())
        .money
        .cancel(OrderId::generate())
        .await
        .unwrap();
    assert_eq!(cancelled.status(), OrderStatus::Cancelled);
}

#[tokio::test]
async fn cancel_of_a_paid_order_is_refused_and_writes_nothing() {
    let paid = order_in(StatusEvent::PaymentSucceeded);
    let mut orders = MockOrderRepository::new();
    orders
        .expect_find_by_id()
        .returning(move |_| Ok(Some(paid.clone())));
    orders.expect_update_status().never();
    let mut gateway = MockPaymentGateway::new();
    gateway.expect_expire_checkout().never();
    let err = service(orders, MockPaymentRepository::new(), gateway)
        .money
        .cancel(OrderId::generate())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CancelError::AlreadyPaid(OrderStatus::Paid)),
        "{err:?}"
    );
}

#[tokio::test]
async fn cancel_racing_a_payment_reports_the_new_status() {
    let pending = pending_order();
    let paid = order_in(StatusEvent::PaymentSucceeded);
    let mut orders = MockOrderRepository::new();
    let mut seq = mockall::Sequence::new();
    orders
        .expect_find_by_id()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_| Ok(Some(pending.clone())));
    orders
        .expect_update_status()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(StoreError::Conflict));
    orders
        .expect_find_by_id()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_| Ok(Some(paid.clone())));
    let mut payments = MockPaymentRepository::new();
    payments.expect_latest_for_order().returning(|_| Ok(None));
    let err = service(orders, payments, MockPaymentGateway::new())
        .money
        .cancel(OrderId::generate())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CancelError::AlreadyPaid(OrderStatus::Paid)),
        "{err:?}"
    );
}

/// A pay link's preview reads where the order stands and writes nothing: a payment on its
/// way shows as processing, an open one as payable, and neither the provider nor the
/// payment store's writes are touched (the mocks refuse any call not expected).
#[tokio::test]
async fn a_preview_reads_the_state_and_opens_nothing() {
    let order = pending_order();
    let mut processing = Payment::start(&order, PaymentProvider::Stripe, chrono::Utc::now());
    processing.status = PaymentStatus::Processing;
    let open = open_payment(&order, "cs_1", chrono::Utc::now() + TimeDelta::hours(1));
    for (latest, expected) in [
        (Some(processing), LinkState::Processing),
        (Some(open), LinkState::Payable),
        (None, LinkState::Payable),
    ] {
        let mut orders = MockOrderRepository::new();
        let found = order.clone();
        orders
            .expect_find_by_pay_token()
            .returning(move |_| Ok(Some(found.clone())));
        let mut payments = MockPaymentRepository::new();
        payments
            .expect_latest_for_order()
            .returning(move |_| Ok(latest.clone()));
        payments.expect_open_or_get().never();
        payments.expect_record_session().never();
        payments.expect_record_once().never();
        let mut gateway = MockPaymentGateway::new();
        gateway.expect_open_checkout().never();
        let checkout = service(orders, payments, gateway).checkout;
        let preview = checkout.preview(order.pay_token()).await.unwrap();
        assert_eq!(preview.state, expected);
        assert_eq!(preview.order.id(), order.id());
    }
}

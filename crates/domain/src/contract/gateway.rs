//! What every `PaymentGateway` promises, whichever provider is behind it (the sandbox, or
//! Stripe through its API): a request opens one session however often it is sent, a closed
//! session says so, a refund is made once per key, and an ordinary order can be charged.

use chrono::{DurationRound, TimeDelta, Utc};

use super::{customer, order};
use crate::money::{Amount, Currency};
use crate::order::Order;
use crate::payment::{
    CheckoutRequest, Payment, PaymentGateway, PaymentProvider, RefundReason, RefundRequest,
    SessionState,
};

super::cases![dyn PaymentGateway =>
    the_same_request_opens_the_same_session,
    each_payment_opens_its_own_session,
    a_closed_session_says_it_is_expired,
    a_refund_is_made_once_per_key,
    an_ordinary_order_can_be_charged,
];

/// A checkout request for a new payment of `order`, closing in an hour (whole seconds: what
/// providers keep).
fn checkout(order: &Order) -> CheckoutRequest {
    // Which provider the payment names does not matter to the gateway.
    let payment = Payment::start(order, PaymentProvider::Sandbox, Utc::now());
    let expires_at = (Utc::now() + TimeDelta::hours(1))
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap();
    CheckoutRequest {
        success_url: "https://pay.example.com/pay/contract/done".into(),
        cancel_url: "https://pay.example.com/pay/contract".into(),
        expires_at,
        idempotency_key: format!("orderpay-checkout-{}", payment.id()),
        order: order.clone(),
        merchant: crate::merchant::Merchant::development(),
        payment,
    }
}

fn an_order() -> Order {
    order(customer(1, 0).id, "CONT-RACT", 0)
}

async fn the_same_request_opens_the_same_session(gateway: &dyn PaymentGateway) {
    let request = checkout(&an_order());
    let first = gateway.open_checkout(&request).await.unwrap();
    assert!(!first.id.is_empty(), "{first:?}");
    assert!(
        first.url.starts_with("https://") || first.url.starts_with("http://"),
        "an address to send the customer to: {first:?}"
    );
    assert_eq!(first.expires_at, request.expires_at, "closes when asked");
    let again = gateway.open_checkout(&request).await.unwrap();
    assert_eq!(again, first, "a retried request is the same session");
}

async fn each_payment_opens_its_own_session(gateway: &dyn PaymentGateway) {
    let order = an_order();
    let first = gateway.open_checkout(&checkout(&order)).await.unwrap();
    let second = gateway.open_checkout(&checkout(&order)).await.unwrap();
    assert_ne!(first.id, second.id, "another payment, another session");
}

async fn a_closed_session_says_it_is_expired(gateway: &dyn PaymentGateway) {
    let session = gateway.open_checkout(&checkout(&an_order())).await.unwrap();
    gateway.expire_checkout(&session.id).await.unwrap();
    assert_eq!(
        gateway.checkout_state(&session.id).await.unwrap(),
        SessionState::Expired
    );
}

async fn a_refund_is_made_once_per_key(gateway: &dyn PaymentGateway) {
    let refund = |key: &str, amount: i64| RefundRequest {
        provider_payment_id: "pi_contract".into(),
        amount: Amount::new(amount).unwrap(),
        currency: Currency::parse("eur").unwrap(),
        reason: Some(RefundReason::RequestedByCustomer),
        idempotency_key: key.into(),
    };
    let first = gateway.refund(&refund("refund-a", 400)).await.unwrap();
    assert_eq!(first.amount, Amount::new(400).unwrap());
    let again = gateway.refund(&refund("refund-a", 400)).await.unwrap();
    assert_eq!(again.id, first.id, "the same key is the same refund");
    let other = gateway.refund(&refund("refund-b", 400)).await.unwrap();
    assert_ne!(other.id, first.id, "another key, another refund");
}

async fn an_ordinary_order_can_be_charged(gateway: &dyn PaymentGateway) {
    let order = an_order();
    let limits = gateway.limits(order.currency());
    assert!(limits.supported, "{limits:?}");
    for item in order.items() {
        limits
            .expressible(item.unit_amount, order.currency())
            .unwrap();
    }
    limits.expressible(order.total(), order.currency()).unwrap();
    assert!(
        limits
            .minimum
            .is_none_or(|minimum| order.total() >= minimum)
    );
    assert!(order.total() <= limits.maximum);
}

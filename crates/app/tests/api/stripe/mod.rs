//! Payments through Stripe, with Stripe's API faked locally (wiremock) and its webhooks
//! signed here as Stripe signs them. This file is the fixture; the flows are beside it:
//! `checkout` (the pay link, cancel), `webhooks` (signatures, ordering, exactly once,
//! mismatches, delayed payments, disputes), `refunds`.

mod checkout;
mod money;
mod refunds;
mod webhooks;

pub(crate) use orderpay_stripe::testing::refund_json;

use futures_util::future::join_all;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use orderpay_stripe::signature_header;

use crate::helpers::{TestApp, assert_problem, open_checkout, spawn_app_with};

pub const WEBHOOK_SECRET: &str = "whsec_test_orderpay";

/// A fake Stripe that opens a session per payment (its id follows the payment, as Stripe's
/// idempotency key would make it).
pub async fn fake_stripe() -> MockServer {
    let stripe = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/v1/checkout/sessions"))
        .respond_with(|request: &Request| {
            let payment = url::form_urlencoded::parse(&request.body)
                .find(|(k, _)| k == "metadata[payment_id]")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let id = format!("cs_test_{}", payment.replace('-', ""));
            let expires_at = chrono::Utc::now().timestamp() + 3600;
            ResponseTemplate::new(200).set_body_json(
                orderpay_stripe::testing::checkout_session_json(&id, expires_at),
            )
        })
        .mount(&stripe)
        .await;
    stripe
}

pub async fn stripe_app(stripe: &MockServer) -> TestApp {
    stripe_app_with(stripe, &[]).await
}

/// The service on Stripe's fake, with `more` settings.
pub async fn stripe_app_with(stripe: &MockServer, more: &[(&str, &str)]) -> TestApp {
    let uri = stripe.uri();
    let mut vars = vec![
        ("STRIPE_SECRET_KEY", "sk_test_orderpay"),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("STRIPE_API_BASE", uri.as_str()),
    ];
    vars.extend_from_slice(more);
    spawn_app_with(&vars).await
}

/// A pending order of 9.00 usd and its open payment (the pay link made it).
pub async fn order_with_payment(app: &TestApp, phone: &str) -> (String, String) {
    let (id, link) = app.order_with_link(phone, "Tea").await;
    (id, link["payment_id"].as_str().unwrap().to_owned())
}

/// A pending order whose pay link the customer opened: its id and the (fake) Stripe Checkout
/// Session the link redirected to.
pub async fn order_with_open_session(app: &TestApp, phone: &str) -> (String, String) {
    let (id, link) = app.order_with_link(phone, "Tea").await;
    open_checkout(link["url"].as_str().unwrap()).await;
    let payment = link["payment_id"].as_str().unwrap();
    (id, format!("cs_test_{}", payment.replace('-', "")))
}

/// A Stripe event of `kind` about a checkout session of this order and payment.
pub fn session_event(
    event_id: &str,
    kind: &str,
    order: &str,
    payment: &str,
    extra: Value,
) -> Value {
    let mut object = json!({
        "id": format!("cs_test_{}", payment.replace('-', "")),
        "object": "checkout.session",
        "metadata": {"order_id": order, "payment_id": payment, "reference": "K7M2-Q9XD"},
        "client_reference_id": order,
        "payment_status": "paid",
        "amount_total": 900,
        "currency": "usd",
        "payment_intent": format!("pi_{}", &payment[..8]),
    });
    if let Value::Object(extra) = extra {
        object.as_object_mut().unwrap().extend(extra);
    }
    json!({"id": event_id, "object": "event", "type": kind, "created": chrono::Utc::now().timestamp(),
           "api_version": orderpay_stripe::stripe_api_version(), "data": {"object": object}})
}

/// Delivers `event` to `base` signed with `secret` at `at` (unix seconds).
pub async fn deliver_signed(base: &str, event: &Value, secret: &str, at: i64) -> reqwest::Response {
    let body = serde_json::to_vec(event).unwrap();
    reqwest::Client::new()
        .post(format!("{base}/webhooks/stripe"))
        .header("stripe-signature", signature_header(secret, &body, at))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

pub async fn deliver(base: &str, event: &Value) -> reqwest::Response {
    deliver_signed(base, event, WEBHOOK_SECRET, chrono::Utc::now().timestamp()).await
}

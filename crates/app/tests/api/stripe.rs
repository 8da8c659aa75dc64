//! Payments through Stripe, with Stripe's API faked locally (wiremock) and its webhooks
//! signed here as Stripe signs them: the pay link, signed events applied exactly once in any
//! order, mismatches flagged, refunds, and refusals that store nothing.

use futures_util::future::join_all;
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use orderpay_stripe::signature_header;

use crate::helpers::{TestApp, assert_problem, spawn_app_with};

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
    spawn_app_with(&[
        ("STRIPE_SECRET_KEY", "sk_test_orderpay"),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("STRIPE_API_BASE", &stripe.uri()),
    ])
    .await
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
    let opened = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 303);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pay_link_opens_a_stripe_session_and_a_signed_completion_pays_the_order() {
    let stripe = fake_stripe().await;
    let app = stripe_app(&stripe).await;
    let (id, payment) = order_with_payment(&app, "+14155550100").await;
    let link: Value = app
        .post(&format!("/v1/orders/{id}/payment-link"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let opened = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 303);
    let to = opened.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        to.starts_with("https://checkout.stripe.com/c/pay/cs_test_"),
        "{to}"
    );
    let sent = &stripe.received_requests().await.unwrap()[0];
    assert_eq!(
        sent.headers["idempotency-key"].to_str().unwrap(),
        format!("orderpay-checkout-{payment}")
    );

    let completed = session_event(
        "evt_1",
        "checkout.session.completed",
        &id,
        &payment,
        json!({}),
    );
    let response = deliver(&app.address, &completed).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap()["outcome"],
        "applied"
    );
    let paid = app.order(&id).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["payment"]["status"], "succeeded");
    // The same event again, and an expiry after it: nothing changes.
    assert_eq!(
        deliver(&app.address, &completed)
            .await
            .json::<Value>()
            .await
            .unwrap()["outcome"],
        "duplicate"
    );
    let expired = session_event(
        "evt_2",
        "checkout.session.expired",
        &id,
        &payment,
        json!({}),
    );
    assert_eq!(deliver(&app.address, &expired).await.status(), 200);
    assert_eq!(app.order(&id).await["status"], "paid");
    assert_eq!(
        app.event_types(&id).await,
        [
            "order.created",
            "order.payment_link_created",
            "payment.session_opened",
            "order.paid"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signatures_are_400_and_store_nothing() {
    let stripe = fake_stripe().await;
    let app = stripe_app(&stripe).await;
    let (id, payment) = order_with_payment(&app, "+14155550100").await;
    let event = session_event(
        "evt_sig",
        "checkout.session.completed",
        &id,
        &payment,
        json!({}),
    );
    let now = chrono::Utc::now().timestamp();
    let body = serde_json::to_vec(&event).unwrap();
    let good = signature_header(WEBHOOK_SECRET, &body, now);
    let good_v1 = good.split(",v1=").nth(1).unwrap().to_owned();
    let wrong = signature_header("whsec_wrong", &body, now);
    let wrong_v1 = wrong.split(",v1=").nth(1).unwrap().to_owned();
    let tampered = {
        let mut e = event.clone();
        e["data"]["object"]["amount_total"] = json!(1);
        serde_json::to_vec(&e).unwrap()
    };
    let cases: Vec<(&str, Vec<u8>, Option<String>)> = vec![
        ("wrong secret", body.clone(), Some(wrong.clone())),
        (
            "stale",
            body.clone(),
            Some(signature_header(WEBHOOK_SECRET, &body, now - 400)),
        ),
        (
            "future",
            body.clone(),
            Some(signature_header(WEBHOOK_SECRET, &body, now + 400)),
        ),
        ("tampered body", tampered, Some(good.clone())),
        (
            "only v0",
            body.clone(),
            Some(format!("t={now},v0={good_v1}")),
        ),
        ("malformed", body.clone(), Some("t=,v1".into())),
        ("missing", body.clone(), None),
    ];
    let client = reqwest::Client::new();
    for (name, payload, header) in cases {
        let mut request = client
            .post(app.url("/webhooks/stripe"))
            .header("content-type", "application/json")
            .body(payload);
        if let Some(header) = header {
            request = request.header("stripe-signature", header);
        }
        let response = request.send().await.unwrap();
        assert_problem(response, 400, "invalid_signature").await;
        assert_eq!(app.order(&id).await["status"], "pending_payment", "{name}");
    }
    // Two v1 signatures of which one is right: accepted.
    let response = client
        .post(app.url("/webhooks/stripe"))
        .header(
            "stripe-signature",
            format!("t={now},v1={wrong_v1},v1={good_v1}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(app.order(&id).await["status"], "paid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_in_any_order_end_paid_and_fifty_deliveries_apply_once() {
    let stripe = fake_stripe().await;
    let app = stripe_app(&stripe).await;

    // Async success before the completion that announced it: paid, once.
    let (id, payment) = order_with_payment(&app, "+14155550100").await;
    let success = session_event(
        "evt_a1",
        "checkout.session.async_payment_succeeded",
        &id,
        &payment,
        json!({}),
    );
    let unpaid = session_event(
        "evt_a2",
        "checkout.session.completed",
        &id,
        &payment,
        json!({"payment_status": "unpaid"}),
    );
    assert_eq!(deliver(&app.address, &success).await.status(), 200);
    assert_eq!(deliver(&app.address, &unpaid).await.status(), 200);
    assert_eq!(app.order(&id).await["status"], "paid");

    // An event before its payment row's session id is recorded (the pay link was made, the
    // customer's page not yet opened here): applied all the same.
    let (id, payment) = order_with_payment(&app, "+14155550101").await;
    let completed = session_event(
        "evt_b",
        "checkout.session.completed",
        &id,
        &payment,
        json!({}),
    );
    let deliveries = join_all((0..50).map(|_| deliver(&app.address, &completed))).await;
    assert!(deliveries.iter().all(|r| r.status() == 200));
    assert_eq!(app.order(&id).await["status"], "paid");
    let types = app.event_types(&id).await;
    assert_eq!(
        types.iter().filter(|t| *t == "order.paid").count(),
        1,
        "{types:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mismatch_is_flagged_an_unknown_payment_is_retried_and_refunds_apply() {
    let stripe = fake_stripe().await;
    let app = stripe_app(&stripe).await;

    let (id, payment) = order_with_payment(&app, "+14155550100").await;
    let short = session_event(
        "evt_m",
        "checkout.session.completed",
        &id,
        &payment,
        json!({"amount_total": 100}),
    );
    assert_eq!(deliver(&app.address, &short).await.status(), 200);
    let flagged = app.order(&id).await;
    assert_eq!(flagged["status"], "pending_payment");
    assert_eq!(flagged["flags"], json!(["amount_mismatch"]));
    assert_eq!(
        flagged["payment"]["status"], "succeeded",
        "the money is on record"
    );

    let unknown = session_event(
        "evt_u",
        "checkout.session.completed",
        &id,
        "01a21a43-0000-7000-8000-000000000000",
        json!({}),
    );
    let response = deliver(&app.address, &unknown).await;
    assert_eq!(response.status(), 503, "Stripe must deliver it again");

    let (id, payment) = order_with_payment(&app, "+14155550101").await;
    let completed = session_event(
        "evt_p",
        "checkout.session.completed",
        &id,
        &payment,
        json!({}),
    );
    deliver(&app.address, &completed).await;
    let refund = |event: &str, total: i64| {
        json!({"id": event, "object": "event", "type": "charge.refunded", "created": 1,
               "data": {"object": {"id": "ch_1", "object": "charge",
                                   "payment_intent": format!("pi_{}", &payment[..8]),
                                   "amount": 900, "amount_refunded": total}}})
    };
    deliver(&app.address, &refund("evt_r1", 300)).await;
    let partly = app.order(&id).await;
    assert_eq!(partly["status"], "partially_refunded");
    assert_eq!(partly["amount_refunded"], 300);
    deliver(&app.address, &refund("evt_r2", 900)).await;
    // Delivered late, the first refund's smaller total changes nothing.
    deliver(&app.address, &refund("evt_r1_again", 300)).await;
    let refunded = app.order(&id).await;
    assert_eq!(refunded["status"], "refunded");
    assert_eq!(refunded["amount_refunded"], 900);
    let types = app.event_types(&id).await;
    assert_eq!(
        &types[types.len() - 2..],
        ["order.partially_refunded", "order.refunded"]
    );
}

/// A Refund as Stripe answers it.
fn refund_json(id: &str, amount: i64, payment_intent: &str) -> Value {
    json!({
        "id": id, "object": "refund", "amount": amount, "balance_transaction": null,
        "charge": "ch_1", "created": 1_900_000_000, "currency": "usd", "customer": null,
        "customer_account": null, "description": null, "destination_details": null,
        "failure_balance_transaction": null, "failure_reason": null, "instructions_email": null,
        "metadata": {}, "next_action": null, "payment_intent": payment_intent,
        "payment_method": null, "pending_reason": null, "presentment_details": null,
        "reason": null, "receipt_number": null, "source_transfer_reversal": null,
        "status": "succeeded", "transfer_reversal": null
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_goes_to_stripe_once_and_its_webhook_does_not_apply_it_again() {
    let stripe = fake_stripe().await;
    let app = stripe_app(&stripe).await;
    let (id, payment) = order_with_payment(&app, "+14155550100").await;
    let intent = format!("pi_{}", &payment[..8]);
    deliver(
        &app.address,
        &session_event(
            "evt_paid",
            "checkout.session.completed",
            &id,
            &payment,
            json!({}),
        ),
    )
    .await;
    Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(200).set_body_json(refund_json("re_1", 400, &intent)))
        .expect(1)
        .mount(&stripe)
        .await;

    let refunded = app
        .post(&format!("/v1/orders/{id}/refunds"), &json!({"amount": 400}))
        .await;
    assert_eq!(refunded.status(), 200, "{:?}", refunded.text().await);
    let order_now = app.order(&id).await;
    assert_eq!(order_now["status"], "partially_refunded");
    assert_eq!(order_now["amount_refunded"], 400);
    let sent = stripe
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path() == "/v1/refunds")
        .unwrap();
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&sent.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert!(
        form.contains(&("payment_intent".into(), intent.clone())),
        "{form:?}"
    );
    assert!(form.contains(&("amount".into(), "400".into())), "{form:?}");
    assert!(
        sent.headers["idempotency-key"]
            .to_str()
            .unwrap()
            .starts_with("orderpay-refund-"),
    );

    // Stripe's own event for the same refund arrives after: applied already, nothing new.
    let webhook = json!({"id": "evt_refund", "object": "event", "type": "charge.refunded", "created": 1,
        "data": {"object": {"id": "ch_1", "object": "charge", "payment_intent": intent,
                            "amount": 900, "amount_refunded": 400}}});
    let response = deliver(&app.address, &webhook).await;
    assert_eq!(
        response.json::<Value>().await.unwrap()["outcome"],
        "unchanged"
    );
    let types = app.event_types(&id).await;
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "order.partially_refunded")
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_expires_the_open_stripe_session_first() {
    let stripe = fake_stripe().await;
    let app = stripe_app(&stripe).await;
    let (id, session) = order_with_open_session(&app, "+14155550100").await;

    // Stripe is down: the order is not cancelled (its session could still take money).
    let outage = Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(format!(
            "/v1/checkout/sessions/{session}/expire"
        )))
        .respond_with(ResponseTemplate::new(500))
        .mount_as_scoped(&stripe)
        .await;
    let refused = app
        .post(&format!("/v1/orders/{id}/cancel"), &json!({}))
        .await;
    assert_problem(refused, 502, "payment_provider_unavailable").await;
    assert_eq!(app.order(&id).await["status"], "pending_payment");
    drop(outage);

    Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(format!(
            "/v1/checkout/sessions/{session}/expire"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            orderpay_stripe::testing::checkout_session_json(&session, 1_900_000_000),
        ))
        .expect(1)
        .mount(&stripe)
        .await;
    let cancelled = app
        .post(&format!("/v1/orders/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(cancelled.status(), 200);
    assert_eq!(app.order(&id).await["status"], "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_payment_that_fails_leaves_the_order_payable_and_a_dispute_flags_it() {
    let stripe = fake_stripe().await;
    let app = stripe_app(&stripe).await;

    let (id, payment) = order_with_payment(&app, "+14155550100").await;
    let unpaid = session_event(
        "evt_d1",
        "checkout.session.completed",
        &id,
        &payment,
        json!({"payment_status": "unpaid"}),
    );
    deliver(&app.address, &unpaid).await;
    assert_eq!(app.order(&id).await["payment"]["status"], "processing");
    let failed = session_event(
        "evt_d2",
        "checkout.session.async_payment_failed",
        &id,
        &payment,
        json!({}),
    );
    assert_eq!(
        deliver(&app.address, &failed)
            .await
            .json::<Value>()
            .await
            .unwrap()["outcome"],
        "applied"
    );
    let after = app.order(&id).await;
    assert_eq!(after["status"], "pending_payment");
    assert_eq!(after["payment"]["status"], "failed");
    let link = app
        .post(&format!("/v1/orders/{id}/payment-link"), &json!({}))
        .await;
    let link: Value = link.json().await.unwrap();
    assert_ne!(
        link["payment_id"],
        payment.as_str(),
        "a new attempt can be made"
    );
    assert_eq!(app.event_types(&id).await.last().unwrap(), "payment.failed");

    let (id, payment) = order_with_payment(&app, "+14155550101").await;
    deliver(
        &app.address,
        &session_event(
            "evt_d3",
            "checkout.session.completed",
            &id,
            &payment,
            json!({}),
        ),
    )
    .await;
    let dispute = json!({"id": "evt_d4", "object": "event", "type": "charge.dispute.created", "created": 1,
        "data": {"object": {"id": "dp_1", "object": "dispute",
                            "payment_intent": format!("pi_{}", &payment[..8]), "reason": "fraudulent"}}});
    deliver(&app.address, &dispute).await;
    let disputed = app.order(&id).await;
    assert_eq!(disputed["status"], "paid");
    assert_eq!(disputed["flags"], json!(["disputed"]));
    let events: Value = app
        .get(&format!("/v1/orders/{id}/events"))
        .await
        .json()
        .await
        .unwrap();
    let last = events["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], "order.flagged");
    assert_eq!(last["reason"], "disputed: fraudulent");

    // Events orderpay does not act on, and sessions another integration made: 200, ignored.
    let other = json!({"id": "evt_o", "object": "event", "type": "customer.created", "created": 1,
                       "data": {"object": {"id": "cus_1"}}});
    assert_eq!(
        deliver(&app.address, &other)
            .await
            .json::<Value>()
            .await
            .unwrap()["outcome"],
        "ignored"
    );
    let mut foreign = session_event(
        "evt_f",
        "checkout.session.completed",
        &id,
        &payment,
        json!({}),
    );
    foreign["data"]["object"]["metadata"] = json!({});
    assert_eq!(
        deliver(&app.address, &foreign)
            .await
            .json::<Value>()
            .await
            .unwrap()["outcome"],
        "ignored"
    );
}

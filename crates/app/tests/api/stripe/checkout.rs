//! The pay link opens a Stripe Checkout Session; cancelling expires it first.
use super::*;

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
    let to = redirect_of(link["url"].as_str().unwrap()).await;
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

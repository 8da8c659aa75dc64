//! Refunds go to Stripe once; their webhook does not apply them again.
use super::*;

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

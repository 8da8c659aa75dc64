//! Signed events: refused when the signature is wrong, applied exactly once in any order,
//! mismatches flagged, unknown payments retried, delayed payments and disputes.
use super::*;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_for_an_order_cancelled_meanwhile_is_recorded_and_flagged() {
    let stripe = fake_stripe().await;
    let app = stripe_app(&stripe).await;
    let (id, payment) = order_with_payment(&app, "+14155550171").await;
    let cancelled = app
        .post(&format!("/v1/orders/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(cancelled.status(), 200);
    // The customer paid in the same instant: Stripe's completion arrives after the cancel.
    let completed = session_event(
        "evt_late",
        "checkout.session.completed",
        &id,
        &payment,
        json!({}),
    );
    assert_eq!(deliver(&app.address, &completed).await.status(), 200);
    let after = app.order(&id).await;
    assert_eq!(after["status"], "cancelled", "never silently re-opened");
    assert_eq!(after["flags"], json!(["needs_refund"]));
    assert_eq!(
        after["payment"]["status"], "succeeded",
        "the money is on record"
    );
    let types = app.event_types(&id).await;
    assert_eq!(types.last().unwrap(), "order.flagged");
}

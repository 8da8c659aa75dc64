//! The service behind a transaction-mode PgBouncer, as Supabase and Neon hand one out by
//! default: `DATABASE_URL` is the pooler's with `pgbouncer=true`, `DATABASE_DIRECT_URL` the
//! server's. The pooler has fewer server connections than the app has connections, so every
//! path below runs its transactions on server connections other calls used just before: a
//! statement prepared on one and run on another, or a session lock, would fail here.

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{TestApp, spawn_pooled_app_with};
use crate::outbound::{body, received, receiver};
use crate::payments::pay;
use crate::stripe::{WEBHOOK_SECRET, deliver, fake_stripe, session_event};

/// An order by phone, through the pooler: its id and reference.
async fn order(app: &TestApp, phone: &str) -> (String, String) {
    let created = app
        .post(
            "/v1/orders",
            &json!({"customer": {"phone": phone, "name": "Ada"}, "currency": "usd",
                    "items": [{"name": "Tea", "quantity": 2, "unit_amount": 450}]}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let order: serde_json::Value = created.json().await.unwrap();
    (
        order["id"].as_str().unwrap().to_owned(),
        order["reference"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_customers_and_keys_work_through_a_transaction_pooler() {
    let app = spawn_pooled_app_with(&[]).await;
    // Forty creates and forty lookups at once: many more transactions than server
    // connections, each prepared and run on whichever it gets.
    let phones: Vec<String> = (0..40)
        .map(|i| format!("+1415555{:04}", 3000 + i))
        .collect();
    let made = join_all(phones.iter().map(|phone| order(&app, phone))).await;
    let app = &app;
    let lookups = join_all(made.iter().map(|(id, reference)| async move {
        let by_reference = app
            .get(&format!("/v1/orders/by-reference/{reference}"))
            .await;
        assert_eq!(by_reference.status(), 200);
        let by_id = app.order(id).await;
        assert_eq!(by_id["reference"], reference.as_str());
    }))
    .await;
    assert_eq!(lookups.len(), 40);
    let page: serde_json::Value = app.get("/v1/orders?limit=100").await.json().await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 40);
    let customer: serde_json::Value = app
        .get("/v1/customers?phone=%2B14155553000")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(customer["phone"], "+14155553000");

    // An Idempotency-Key's claim and answer, through the pooler.
    let keyed = || {
        app.request(reqwest::Method::POST, "/v1/orders")
            .header("idempotency-key", "pooled-1")
            .json(
                &json!({"customer": {"phone": "+14155559999", "name": "Ada"},
                          "currency": "usd",
                          "items": [{"name": "Tea", "quantity": 1, "unit_amount": 100}]}),
            )
            .send()
    };
    let first = keyed().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: serde_json::Value = first.json().await.unwrap();
    let again = keyed().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);

    let cancelled = app
        .post(&format!("/v1/orders/{}/cancel", made[0].0), &json!({}))
        .await;
    assert_eq!(cancelled.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_payment_and_its_webhook_out_go_through_a_transaction_pooler() {
    let app = spawn_pooled_app_with(&[
        ("WEBHOOK_RETRY_SCHEDULE", "200ms,200ms,200ms"),
        ("WEBHOOK_TIMEOUT_SECONDS", "1"),
    ])
    .await;
    let bot = receiver(&[]).await;
    let subscribed = app
        .post(
            "/v1/webhook_endpoints",
            &json!({"url": bot.uri(), "enabled_events": ["order.paid"]}),
        )
        .await;
    assert_eq!(subscribed.status(), 201);
    let (id, _) = order(&app, "+14155550100").await;
    pay(&app, &id).await;
    let deliveries = received(&bot, 1).await;
    assert_eq!(body(&deliveries[0])["data"]["object"]["id"], id.as_str());
    let events: serde_json::Value = app
        .get(&format!("/v1/orders/{id}/events"))
        .await
        .json()
        .await
        .unwrap();
    let types: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"order.paid"), "{types:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stripe_event_and_reconciliation_go_through_a_transaction_pooler() {
    let stripe = fake_stripe().await;
    let app = spawn_pooled_app_with(&[
        ("STRIPE_SECRET_KEY", "sk_test_orderpay"),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("STRIPE_API_BASE", &stripe.uri()),
    ])
    .await;
    let (id, _) = order(&app, "+14155550100").await;
    let link = app.payment_link(&id).await;
    let payment = link["payment_id"].as_str().unwrap();
    let event = session_event(
        "evt_pooled",
        "checkout.session.completed",
        &id,
        payment,
        json!({}),
    );
    // The same event twice at once: applied once, whatever server connection each gets.
    let (a, b) = tokio::join!(deliver(&app.address, &event), deliver(&app.address, &event));
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    assert_eq!(app.order(&id).await["status"], "paid");

    // Reconciliation takes its lease (a session's advisory lock) on DATABASE_DIRECT_URL.
    let config = app.config();
    let done = orderpay::startup::reconcile_once(&config).await.unwrap();
    assert!(done.ran, "the lease was taken: {done:?}");
}

//! Payments across real `orderpay` processes sharing one database: one Stripe event
//! delivered to three servers at once, and reconciliation run by two processes at once.

use std::process::Stdio;

use orderpay_postgres::testing::TestDatabase;

use crate::helpers::process::{KillOnDrop, Remote, api_key, orderpay, serve_with, stop};

/// The same Stripe event delivered 50 times at once, spread over three `orderpay serve`
/// processes sharing one database: one effect, one history entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_deliveries_to_three_processes_apply_once() {
    crate::helpers::init_once();
    let db = TestDatabase::new().await;
    let stripe = crate::stripe::fake_stripe().await;
    let stripe_uri = stripe.uri();
    let env = [
        ("STRIPE_SECRET_KEY", "sk_test_orderpay"),
        ("STRIPE_WEBHOOK_SECRET", crate::stripe::WEBHOOK_SECRET),
        ("STRIPE_API_BASE", stripe_uri.as_str()),
    ];
    let key = api_key(db.url());
    let servers: Vec<(KillOnDrop, u16)> = (0..3)
        .map(|_| {
            let (child, port, _) = serve_with(db.url(), &env);
            (KillOnDrop(Some(child)), port)
        })
        .collect();
    let base = |i: usize| format!("http://127.0.0.1:{}", servers[i % 3].1);
    let remote = Remote::new(key);
    let (id, payment) = remote.order_with_payment(&base(0), "+14155550100").await;
    let event = crate::stripe::session_event(
        "evt_three_processes",
        "checkout.session.completed",
        &id,
        &payment,
        serde_json::json!({}),
    );

    let bases: Vec<String> = (0..50).map(base).collect();
    let deliveries =
        futures_util::future::join_all(bases.iter().map(|b| crate::stripe::deliver(b, &event)))
            .await;
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for response in deliveries {
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        *outcomes
            .entry(body["outcome"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(outcomes.get("applied"), Some(&1), "{outcomes:?}");
    assert_eq!(outcomes.get("duplicate"), Some(&49), "{outcomes:?}");

    let events = remote
        .get(&format!("{}/v1/orders/{id}/events", base(1)))
        .await;
    let paid = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "order.paid")
        .count();
    assert_eq!(paid, 1);
    for (mut server, _) in servers {
        assert!(stop(server.0.take().unwrap()).success());
    }
}

/// A payment whose completion event never arrived, reconciled by two `orderpay reconcile`
/// processes at once: the order ends paid, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_by_two_processes_at_once_applies_once() {
    let stripe = crate::stripe::fake_stripe().await;
    let app = crate::stripe::stripe_app(&stripe).await;
    let (id, session) = crate::stripe::order_with_open_session(&app, "+14155550100").await;
    // The session's time is up and its completion event was lost.
    let (client, connection) = tokio_postgres::connect(app.db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .execute(
            "UPDATE payments SET session_expires_at = now() - interval '1 minute'",
            &[],
        )
        .await
        .unwrap();
    let mut paid_session = orderpay_stripe::testing::checkout_session_json(&session, 1_900_000_000);
    paid_session["status"] = serde_json::json!("complete");
    paid_session["payment_status"] = serde_json::json!("paid");
    paid_session["payment_intent"] = serde_json::json!("pi_reconciled");
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path(format!(
            "/v1/checkout/sessions/{session}"
        )))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(paid_session))
        .mount(&stripe)
        .await;

    let stripe_uri = stripe.uri();
    let runs: Vec<_> = (0..2)
        .map(|_| {
            orderpay(app.db.url())
                .env("STRIPE_SECRET_KEY", "sk_test_orderpay")
                .env("STRIPE_WEBHOOK_SECRET", crate::stripe::WEBHOOK_SECRET)
                .env("STRIPE_API_BASE", &stripe_uri)
                .arg("reconcile")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<String> = runs
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        })
        .collect();
    let changed: usize = outputs.iter().filter(|o| o.contains("1 changed")).count();
    assert_eq!(changed, 1, "{outputs:?}");

    let order = app.order(&id).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["payment"]["status"], "succeeded");
    let types = app.event_types(&id).await;
    assert_eq!(types.iter().filter(|t| *t == "order.paid").count(), 1);
}

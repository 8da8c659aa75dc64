//! Webhooks out with receivers that misbehave as real ones do, beside a healthy one: an
//! answer with a NUL byte, invalid UTF-8, 5 MB, a redirect, and a receiver that never answers.
//! Each is recorded as what it was, and none delays or repeats what the healthy one gets.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, spawn_app_with};
use crate::outbound::{received, receiver};

/// Subscribes `url` to `order.created`: the endpoint's id.
async fn subscribe(app: &TestApp, url: &str) -> String {
    let response = app
        .post(
            "/v1/webhook_endpoints",
            &json!({"url": url, "enabled_events": ["order.created"]}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let endpoint: Value = response.json().await.unwrap();
    endpoint["id"].as_str().unwrap().to_owned()
}

/// A new order for the customer with phone `+1415555{n:04}` (found or made).
async fn order(app: &TestApp, n: usize) {
    let response = app
        .post(
            "/v1/orders",
            &json!({"customer": {"phone": format!("+1415555{n:04}"), "name": "Ada"},
                    "currency": "usd", "items": [{"name": "Tea", "quantity": 1, "unit_amount": 450}]}),
        )
        .await;
    assert_eq!(response.status(), 201);
}

/// The endpoint's deliveries once `ready` holds for all `n` of them, waiting up to 10 s; as
/// last seen otherwise (the caller's assertions say what is wrong).
async fn deliveries_when(
    app: &TestApp,
    endpoint: &str,
    n: usize,
    ready: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let path = format!("/v1/webhook_endpoints/{endpoint}/deliveries?limit=100");
    let mut listed = Vec::new();
    for _ in 0..200 {
        let page: Value = app.get(&path).await.json().await.unwrap();
        listed = page["data"].as_array().cloned().unwrap_or_default();
        if listed.len() == n && listed.iter().all(&ready) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    listed
}

/// A receiver that answers every delivery with `status` and `body`.
async fn answering(status: u16, body: Vec<u8>, location: Option<&str>) -> MockServer {
    let server = MockServer::start().await;
    let mut answer = ResponseTemplate::new(status).set_body_bytes(body);
    if let Some(to) = location {
        answer = answer.insert_header("location", to);
    }
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(answer)
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_answers_are_recorded_as_they_were_and_harm_no_other_endpoint() {
    // A 1 s timeout: a claim lapses after 2 s, so an outcome that is not recorded would show
    // as the delivery sent again, and as attempts growing.
    let app = spawn_app_with(&[("WEBHOOK_TIMEOUT_SECONDS", "1")]).await;
    let healthy = receiver(&[]).await;
    let nul = answering(200, b"ok\0done".to_vec(), None).await;
    let invalid = answering(200, vec![b'o', b'k', 0xff, 0xfe, 0x00, b'!'], None).await;
    let huge = answering(200, vec![b'x'; 5 * 1024 * 1024], None).await;
    let redirect = answering(301, Vec::new(), Some("http://127.0.0.1:9/elsewhere")).await;
    let healthy_id = subscribe(&app, &healthy.uri()).await;
    let nul_id = subscribe(&app, &nul.uri()).await;
    let invalid_id = subscribe(&app, &invalid.uri()).await;
    let huge_id = subscribe(&app, &huge.uri()).await;
    let redirect_id = subscribe(&app, &redirect.uri()).await;
    const ORDERS: usize = 3;
    for n in 0..ORDERS {
        order(&app, n).await;
    }

    let once = |d: &Value| d["status"] == "succeeded" && d["attempts"] == 1;
    for (name, id) in [
        ("the healthy one", &healthy_id),
        ("a NUL byte", &nul_id),
        ("invalid UTF-8", &invalid_id),
        ("5 MB", &huge_id),
    ] {
        let listed = deliveries_when(&app, id, ORDERS, once).await;
        assert_eq!(listed.len(), ORDERS, "{name}: {listed:?}");
        for delivery in &listed {
            assert!(
                once(delivery),
                "{name}: recorded once, as succeeded: {delivery}"
            );
            let answer = delivery["response_body"].as_str().unwrap();
            assert!(answer.chars().count() <= 1024, "{name}: bounded");
        }
    }
    let nul_answer = deliveries_when(&app, &nul_id, ORDERS, once).await[0]["response_body"].clone();
    assert_eq!(
        nul_answer, "ok\u{fffd}done",
        "the NUL is replaced, the rest kept"
    );
    // A redirect is not followed: recorded as the answer it was, and retried as a failure.
    let redirected =
        deliveries_when(&app, &redirect_id, ORDERS, |d| d["response_status"] == 301).await;
    assert_eq!(redirected.len(), ORDERS, "{redirected:?}");
    for delivery in &redirected {
        assert_eq!(delivery["response_status"], 301, "{delivery}");
        assert_eq!(delivery["status"], "pending", "retried later: {delivery}");
    }
    // Nothing a bad receiver answered made the healthy one get an event twice.
    let got = received(&healthy, ORDERS).await;
    assert_eq!(got.len(), ORDERS, "each event once");
}

/// Accepts connections and never answers.
async fn hanging_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{address}/hooks")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_endpoint_holds_back_no_other() {
    // The hanging endpoint's attempts take the whole 30 s timeout: everything the healthy one
    // gets below happens while the hanging one's first attempt is still in flight.
    let app = spawn_app_with(&[("WEBHOOK_TIMEOUT_SECONDS", "30")]).await;
    let hanging_id = subscribe(&app, &hanging_receiver().await).await;
    let healthy = receiver(&[]).await;
    subscribe(&app, &healthy.uri()).await;
    for n in 0..5 {
        order(&app, n).await;
        // Each order's delivery reaches the healthy endpoint before the next order is made
        // (received waits up to 10 s, well inside the hanging attempts' 30 s).
        received(&healthy, n + 1).await;
    }
    let hanging: Value = app
        .get(&format!("/v1/webhook_endpoints/{hanging_id}/deliveries"))
        .await
        .json()
        .await
        .unwrap();
    for delivery in hanging["data"].as_array().unwrap() {
        assert_eq!(
            delivery["last_attempt_at"],
            Value::Null,
            "the hanging endpoint's attempts were still in flight: {delivery}"
        );
    }
}

/// Retention removes settled deliveries and retires old events from the feed, a batch at a
/// time, and keeps what is still due (with the events it needs) and every order's history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_removes_settled_deliveries_and_retires_events_but_keeps_history() {
    let app = spawn_app_with(&[("WEBHOOK_RETRY_SCHEDULE", "1h")]).await;
    let healthy = receiver(&[]).await;
    let failing = answering(500, b"no".to_vec(), None).await;
    let healthy_id = subscribe(&app, &healthy.uri()).await;
    let failing_id = subscribe(&app, &failing.uri()).await;
    for n in 0..3 {
        order(&app, n).await;
    }
    let succeeded = |d: &Value| d["status"] == "succeeded";
    assert_eq!(
        deliveries_when(&app, &healthy_id, 3, succeeded).await.len(),
        3
    );
    // The failing endpoint's deliveries wait an hour for their retry: still due.
    let waiting = |d: &Value| d["status"] == "pending" && d["response_status"] == 500;
    assert_eq!(
        deliveries_when(&app, &failing_id, 3, waiting).await.len(),
        3
    );
    let orders: Value = app.get("/v1/orders").await.json().await.unwrap();
    let first = orders["data"][0]["id"].as_str().unwrap().to_owned();
    // An event no endpoint subscribed to: nothing needs it.
    app.payment_link(&first).await;
    let history_before = app.event_types(&first).await;

    // Everything made so far is past its retention: a cut-off a second from now. One row a
    // statement, so the batches are looped through.
    let later = chrono::Utc::now() + chrono::TimeDelta::seconds(1);
    let (deliveries, events) = orderpay_domain::webhook::purge_expired(&app.store, later, later, 1)
        .await
        .unwrap();
    assert_eq!(deliveries, 3, "the settled deliveries only");
    assert_eq!(events, 1, "the events no pending delivery needs");

    let listed = |id: String| {
        let app = &app;
        async move {
            let page: Value = app
                .get(&format!("/v1/webhook_endpoints/{id}/deliveries"))
                .await
                .json()
                .await
                .unwrap();
            page["data"].as_array().unwrap().len()
        }
    };
    assert_eq!(listed(healthy_id).await, 0, "settled deliveries removed");
    assert_eq!(listed(failing_id).await, 3, "deliveries still due kept");
    let feed: Value = app.get("/v1/events").await.json().await.unwrap();
    let kinds: Vec<&str> = feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds, ["order.created"; 3],
        "out of the feed, but for those a pending delivery needs"
    );
    assert_eq!(
        app.event_types(&first).await,
        history_before,
        "the order's history kept"
    );
}

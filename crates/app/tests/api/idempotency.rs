//! `Idempotency-Key` against a real PostgreSQL: replays, reuse, concurrency, restarts, and a
//! refund retried after Stripe's answer was lost.

use std::collections::HashMap;

use futures_util::future::join_all;
use reqwest::Response;
use serde_json::{Value, json};

use orderpay::Application;
use orderpay::config::Config;

use crate::helpers::{TestApp, assert_problem, spawn_app};

fn order_body(phone: &str) -> Value {
    json!({"customer": {"phone": phone, "name": "Ada"}, "currency": "usd",
           "items": [{"name": "Tea", "quantity": 2, "unit_amount": 450}]})
}

async fn post_with_key(app: &TestApp, path: &str, key: &str, body: &Value) -> Response {
    app.request(reqwest::Method::POST, path)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn replayed(response: &Response) -> bool {
    response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_order_creation_gets_the_first_answer_and_creates_nothing() {
    let app = spawn_app().await;
    let body = order_body("+14155550100");
    let first = post_with_key(&app, "/v1/orders", "order-42", &body).await;
    assert_eq!(first.status(), 201);
    assert!(!replayed(&first));
    let first: String = first.text().await.unwrap();

    let retry = post_with_key(&app, "/v1/orders", "order-42", &body).await;
    assert_eq!(retry.status(), 201);
    assert!(replayed(&retry), "Idempotent-Replayed: true");
    assert_eq!(
        retry.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(
        retry.text().await.unwrap(),
        first,
        "the first answer, byte for byte"
    );
    assert_eq!(app.counts().await, (1, 1));

    // Without a key, the same body is a new order (as before).
    let plain = app.post("/v1/orders", &body).await;
    assert_eq!(plain.status(), 201);
    assert_eq!(app.counts().await.0, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_for_another_request_is_422_and_does_nothing() {
    let app = spawn_app().await;
    let key = "reused-key";
    let created = post_with_key(&app, "/v1/orders", key, &order_body("+14155550100")).await;
    assert_eq!(created.status(), 201);
    let other_body = post_with_key(&app, "/v1/orders", key, &order_body("+14155550199")).await;
    assert_problem(other_body, 422, "idempotency_key_reused").await;
    let other_path = post_with_key(
        &app,
        "/v1/customers",
        key,
        &json!({"phone": "+14155550198", "name": "Bo"}),
    )
    .await;
    assert_problem(other_path, 422, "idempotency_key_reused").await;
    assert_eq!(app.counts().await, (1, 1), "nothing else was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_requests_with_one_key_create_one_order() {
    let app = spawn_app().await;
    let body = order_body("+14155550100");
    let responses =
        join_all((0..50).map(|_| post_with_key(&app, "/v1/orders", "burst", &body))).await;
    let mut outcomes: HashMap<(u16, bool), usize> = HashMap::new();
    let mut bodies = Vec::new();
    for response in responses {
        let key = (response.status().as_u16(), replayed(&response));
        *outcomes.entry(key).or_default() += 1;
        let body: Value = response.json().await.unwrap();
        if key.0 == 201 {
            bodies.push(body["id"].as_str().unwrap().to_owned());
        } else {
            assert_eq!(body["code"], "idempotency_key_in_use", "{body}");
        }
    }
    assert_eq!(outcomes.get(&(201, false)), Some(&1), "{outcomes:?}");
    assert!(
        outcomes
            .keys()
            .all(|k| matches!(k, (201, _) | (409, false))),
        "{outcomes:?}"
    );
    bodies.dedup();
    assert_eq!(bodies.len(), 1, "every 201 names the one order");
    assert_eq!(app.counts().await.0, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_belong_to_their_api_key_and_a_bad_request_releases_its_key() {
    let app = spawn_app().await;
    let body = order_body("+14155550100");
    assert_eq!(
        post_with_key(&app, "/v1/orders", "k1", &body)
            .await
            .status(),
        201
    );
    // Another API key's "k1" is another key.
    let other = orderpay::startup::api_keys(&app.store)
        .create("another bot")
        .await
        .unwrap()
        .token;
    let theirs = app
        .client
        .post(app.url("/v1/orders"))
        .bearer_auth(&other)
        .header("idempotency-key", "k1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 201);
    assert!(!replayed(&theirs));

    // A request that could not be read stores nothing: corrected, the same key runs.
    let bad = post_with_key(&app, "/v1/orders", "k2", &json!({"currency": "usd"})).await;
    assert_problem(bad, 422, "validation_failed").await;
    let fixed = post_with_key(&app, "/v1/orders", "k2", &body).await;
    assert_eq!(fixed.status(), 201);
    assert!(!replayed(&fixed));

    // A key that is not a key.
    let long = "k".repeat(256);
    let refused = post_with_key(&app, "/v1/orders", &long, &body).await;
    let problem = assert_problem(refused, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(app.counts().await.0, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_answer_outlives_a_restart() {
    crate::helpers::init_once();
    let db = orderpay_postgres::testing::TestDatabase::new().await;
    let config = Config::from_map(&HashMap::from([
        ("DATABASE_URL".to_owned(), db.url().to_owned()),
        ("HOST".to_owned(), "127.0.0.1".to_owned()),
        ("PORT".to_owned(), "0".to_owned()),
        ("HTTP_WORKERS".to_owned(), "1".to_owned()),
    ]))
    .unwrap();
    let start = async || {
        let app = Application::build(&config).await.unwrap();
        let (address, handle) = (format!("http://127.0.0.1:{}", app.port()), app.handle());
        tokio::spawn(app.run_until_stopped());
        (address, handle)
    };
    let (first, handle) = start().await;
    let key = orderpay::startup::api_keys(&orderpay::startup::store(&config).unwrap())
        .create("bot")
        .await
        .unwrap()
        .token;
    let send = |address: String| {
        let key = key.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{address}/v1/orders"))
                .bearer_auth(key)
                .header("idempotency-key", "before-restart")
                .json(&order_body("+14155550100"))
                .send()
                .await
                .unwrap()
        }
    };
    let created = send(first).await;
    assert_eq!(created.status(), 201);
    let created = created.text().await.unwrap();
    handle.stop(true).await;

    let (second, _handle) = start().await;
    let again = send(second).await;
    assert_eq!(again.status(), 201);
    assert!(replayed(&again));
    assert_eq!(again.text().await.unwrap(), created);
}

/// An `Idempotency-Key` on creating a webhook endpoint or rotating its secret keeps no
/// `whsec_` secret in the store, yet a replay answers what the first call did, secret
/// included (re-derived from the endpoint and its secret's version).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_with_a_webhook_secret_are_replayed_without_keeping_the_secret() {
    let app = crate::helpers::spawn_app().await;
    let keyed = |method: reqwest::Method, path: String, key: &'static str| {
        app.request(method, &path)
            .header("idempotency-key", key)
            .json(&json!({"url": "https://hooks.example.com/bot", "enabled_events": ["*"]}))
            .send()
    };
    let first = keyed(
        reqwest::Method::POST,
        "/v1/webhook_endpoints".into(),
        "sub-1",
    )
    .await
    .unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let id = first["id"].as_str().unwrap().to_owned();
    assert!(first["secret"].as_str().unwrap().starts_with("whsec_"));
    let rotate = format!("/v1/webhook_endpoints/{id}/rotate_secret");
    let rotated = keyed(reqwest::Method::POST, rotate.clone(), "rot-1")
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    assert_ne!(rotated["secret"], first["secret"]);

    let (client, connection) = tokio_postgres::connect(app.db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let stored: Vec<String> = client
        .query(
            "SELECT coalesce(response_body, '') FROM idempotency_keys",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(stored.len(), 2, "both answers stored");
    for body in &stored {
        assert!(
            !body.contains("whsec_"),
            "a secret kept in the store: {body}"
        );
    }

    for (path, key, answer) in [
        ("/v1/webhook_endpoints".to_owned(), "sub-1", &first),
        (rotate, "rot-1", &rotated),
    ] {
        let replay = keyed(reqwest::Method::POST, path, key).await.unwrap();
        assert_eq!(replay.headers()["idempotent-replayed"], "true");
        let replayed: Value = replay.json().await.unwrap();
        assert_eq!(&replayed, answer, "{key}");
    }
}

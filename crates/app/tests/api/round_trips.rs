//! What the hot requests cost the database, counted over HTTP by the serving store's query
//! counter: one statement each (two, pipelined in one round trip, for an order shown with its
//! latest payment). Counts, never times.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

/// The statements the server sent while `request` ran.
async fn cost<F: std::future::Future<Output = reqwest::Response>>(
    app: &TestApp,
    request: F,
) -> (u64, Value) {
    let before = app.served.queries_executed();
    let response = request.await;
    assert!(response.status().is_success(), "{}", response.status());
    let body: Value = response.json().await.unwrap();
    (app.served.queries_executed() - before, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_requests_cost_one_round_trip_each() {
    // No background reconciliation, and a key trusted from memory for the whole test.
    let app = spawn_app_with(&[
        ("RECONCILE_INTERVAL_SECONDS", "0"),
        ("API_KEY_CACHE_TTL_MS", "60000"),
    ])
    .await;
    let customer = app.create_customer("+14155550142", "Ada").await;
    let customer_id = customer["id"].as_str().unwrap();
    let items = json!([{"name": "Tea", "quantity": 2, "unit_amount": 450}]);
    // Warm: the key verified once (one query), each connection's statements prepared.
    let first = app.create_order(customer_id, items.clone()).await;

    let body = json!({"customer_id": customer_id, "currency": "usd", "items": items});
    let (n, order) = cost(&app, app.post("/v1/orders", &body)).await;
    assert_eq!(n, 1, "POST /v1/orders for a customer id");

    let reference = order["reference"].as_str().unwrap();
    let (n, found) = cost(
        &app,
        app.get(&format!("/v1/orders/by-reference/{reference}")),
    )
    .await;
    assert_eq!(n, 1, "GET /v1/orders/by-reference");
    assert_eq!(found["id"], order["id"]);

    let by_phone = |phone: &str| json!({"customer": {"phone": phone, "name": "Bo"}, "currency": "usd", "items": items});
    let (n, made) = cost(&app, app.post("/v1/orders", &by_phone("+14155550143"))).await;
    assert_eq!(n, 1, "POST /v1/orders for a new phone");
    let (n, again) = cost(&app, app.post("/v1/orders", &by_phone("+14155550143"))).await;
    assert_eq!(n, 1, "POST /v1/orders for a known phone");
    assert_eq!(made["customer_id"], again["customer_id"]);

    let (n, page) = cost(&app, app.get("/v1/orders?limit=2")).await;
    assert_eq!(n, 1, "a first page");
    let last = page["data"][1]["id"].as_str().unwrap();
    let (n, next) = cost(
        &app,
        app.get(&format!("/v1/orders?limit=2&starting_after={last}")),
    )
    .await;
    assert_eq!(n, 1, "a page after a cursor");
    assert_eq!(next["data"][1]["id"], first["id"]);

    let id = order["id"].as_str().unwrap();
    let (n, shown) = cost(&app, app.get(&format!("/v1/orders/{id}"))).await;
    assert_eq!(
        n, 2,
        "GET /v1/orders/{{id}}: the order and its latest payment, pipelined"
    );
    assert_eq!(shown["id"], order["id"]);

    // With an Idempotency-Key: the same one statement, which claims the key and stores the
    // answer with the order. A retry costs that statement too, which finds the answer.
    let keyed = |key: &'static str| {
        let request = app
            .request(reqwest::Method::POST, "/v1/orders")
            .header("idempotency-key", key)
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    let (n, _) = cost(&app, keyed("warm")).await;
    assert_eq!(n, 1, "the first idempotent POST (preparing its statement)");
    let (n, keyed_order) = cost(&app, keyed("rt-1")).await;
    assert_eq!(
        n, 1,
        "POST /v1/orders with an Idempotency-Key: one statement"
    );
    let (n, replayed) = cost(&app, keyed("rt-1")).await;
    assert_eq!(n, 1, "its retry: one statement, which finds the answer");
    assert_eq!(replayed, keyed_order);
}

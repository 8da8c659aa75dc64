//! Orders against PostgreSQL: concurrent creation for one new phone, and references drawn
//! distinct at volume. Their request/response behaviour is in `crates/http/tests/api`.

use std::collections::HashSet;

use futures_util::StreamExt;
use futures_util::stream;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

fn tea_and_cake() -> Value {
    json!([
        {"name": "Tea", "quantity": 2, "unit_amount": 450},
        {"name": "Cake", "quantity": 1, "unit_amount": 325}
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_orders_for_one_new_phone_make_one_customer() {
    let app = spawn_app().await;
    let body = json!({"customer": {"phone": "+14155550111", "name": "Rush"},
                      "currency": "usd", "items": tea_and_cake()});
    let responses =
        futures_util::future::join_all((0..20).map(|_| app.post("/v1/orders", &body))).await;
    let mut customers = HashSet::new();
    for r in responses {
        assert_eq!(r.status(), 201);
        let order: Value = r.json().await.unwrap();
        customers.insert(order["customer_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(customers.len(), 1);
    assert_eq!(app.counts().await.1, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_orders_get_a_thousand_distinct_references() {
    let app = spawn_app().await;
    let c = app.create_customer("+14155550100", "Ada").await;
    let body = json!({"customer_id": c["id"], "currency": "usd",
                      "items": [{"name": "Tea", "quantity": 1, "unit_amount": 100}]});
    let references: HashSet<String> = stream::iter(0..1000)
        .map(|_| async {
            let response = app.post("/v1/orders", &body).await;
            assert_eq!(response.status(), 201);
            let order: Value = response.json().await.unwrap();
            order["reference"].as_str().unwrap().to_owned()
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert_eq!(references.len(), 1000);
}

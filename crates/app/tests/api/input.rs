//! Bad input: each case is a 4xx problem naming what is wrong, and changes nothing.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, fields, spawn_app};

fn order(customer_id: &str, items: Value) -> Value {
    json!({"customer_id": customer_id, "currency": "usd", "items": items})
}

/// Posts `body` as an order, expects 422 naming exactly `expected` fields, and checks no
/// order was stored.
async fn rejected(app: &TestApp, body: Value, expected: &[&str]) {
    let response = app.post("/v1/orders", &body).await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(fields(&problem), expected, "{body}");
    assert_eq!(app.counts().await.0, 0, "nothing stored for {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_invalid_order_names_its_field_and_stores_nothing() {
    let app = spawn_app().await;
    let c = app.create_customer("+14155550100", "Ada").await;
    let id = c["id"].as_str().unwrap();
    let tea = |quantity: Value, unit_amount: Value| json!([{"name": "Tea", "quantity": quantity, "unit_amount": unit_amount}]);

    let mut unknown_currency = order(id, tea(json!(1), json!(100)));
    unknown_currency["currency"] = json!("xyz");
    rejected(&app, unknown_currency, &["currency"]).await;
    rejected(
        &app,
        order(id, tea(json!(0), json!(100))),
        &["items[0].quantity"],
    )
    .await;
    rejected(
        &app,
        order(id, tea(json!(-2), json!(100))),
        &["items[0].quantity"],
    )
    .await;
    rejected(
        &app,
        order(id, tea(json!(1), json!(-1))),
        &["items[0].unit_amount"],
    )
    .await;
    rejected(
        &app,
        order(id, tea(json!(1), json!(100_000_000))),
        &["items"],
    )
    .await;
    rejected(
        &app,
        order(id, tea(json!(2), json!(i64::MAX))),
        &["items[0]"],
    )
    .await;
    rejected(
        &app,
        order(id, tea(json!(1), json!(1e300))),
        &["items[0].unit_amount"],
    )
    .await;
    rejected(
        &app,
        order(id, tea(json!("2"), json!(100))),
        &["items[0].quantity"],
    )
    .await;
    rejected(
        &app,
        order(id, tea(json!(1.5), json!(100))),
        &["items[0].quantity"],
    )
    .await;
    let many: Vec<Value> = (0..101)
        .map(|_| json!({"name": "Tea", "quantity": 1, "unit_amount": 1}))
        .collect();
    rejected(&app, order(id, json!(many)), &["items"]).await;
    rejected(&app, order(id, json!([])), &["items"]).await;
    rejected(
        &app,
        order(
            "01a218ea-ea56-747f-8da1-9b43aea255b9",
            tea(json!(1), json!(1)),
        ),
        &["customer_id"],
    )
    .await;
    rejected(
        &app,
        order("not-a-uuid", tea(json!(1), json!(1))),
        &["customer_id"],
    )
    .await;
    rejected(
        &app,
        json!({"customer": {"phone": "12345", "name": "Bob"}, "currency": "usd",
               "items": [{"name": "Tea", "quantity": 1, "unit_amount": 1}]}),
        &["customer.phone"],
    )
    .await;
    rejected(
        &app,
        json!({"currency": "usd", "items": [{"name": "Tea", "quantity": 1, "unit_amount": 1}]}),
        &["customer_id"],
    )
    .await;
    let mut with_metadata = order(id, tea(json!(1), json!(1)));
    with_metadata["metadata"] = json!({"k": "v".repeat(501), "n": 5});
    rejected(&app, with_metadata, &["metadata.n", "metadata.k"]).await;
    // Every problem at once, missing fields included.
    rejected(
        &app,
        json!({"customer_id": id, "items": [{"quantity": 0}], "extra": true}),
        &[
            "extra",
            "currency",
            "items[0].name",
            "items[0].quantity",
            "items[0].unit_amount",
        ],
    )
    .await;
    assert_eq!(app.counts().await.1, 1, "no customer was created either");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_wrong_content_type_and_oversized_bodies_are_refused() {
    let app = spawn_app().await;
    let send = |body: Vec<u8>, content_type: &'static str| {
        app.request(reqwest::Method::POST, "/v1/customers")
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let malformed = send(b"{\"phone\": ".to_vec(), "application/json")
        .await
        .unwrap();
    assert_problem(malformed, 400, "malformed_json").await;
    let not_object = send(b"[1, 2]".to_vec(), "application/json").await.unwrap();
    assert_problem(not_object, 400, "malformed_json").await;
    let form = send(b"phone=1".to_vec(), "application/x-www-form-urlencoded")
        .await
        .unwrap();
    assert_problem(form, 415, "unsupported_media_type").await;
    let huge = format!(
        "{{\"phone\": \"+14155550100\", \"name\": \"{}\"}}",
        "a".repeat(200_000)
    );
    let oversized = send(huge.into_bytes(), "application/json").await.unwrap();
    assert_problem(oversized, 413, "payload_too_large").await;
    let wrong_types = app
        .post(
            "/v1/customers",
            &json!({"phone": 14155550100u64, "name": ["Ada"]}),
        )
        .await;
    let problem = assert_problem(wrong_types, 422, "validation_failed").await;
    assert_eq!(fields(&problem), ["phone", "name"]);
    let invalid = app
        .post(
            "/v1/customers",
            &json!({"phone": "+1 555", "name": "Ada", "email": "x@"}),
        )
        .await;
    let problem = assert_problem(invalid, 422, "validation_failed").await;
    assert_eq!(fields(&problem), ["phone", "email"]);
    assert_eq!(app.counts().await.1, 0);
}

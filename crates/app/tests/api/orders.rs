use std::collections::HashSet;

use futures_util::StreamExt;
use futures_util::stream;
use serde_json::{Value, json};

use orderpay_domain::order::{OrderId, OrderRepository, OrderStatus, StatusEvent};

use crate::helpers::{assert_problem, spawn_app};

fn tea_and_cake() -> Value {
    json!([
        {"name": "Tea", "quantity": 2, "unit_amount": 450},
        {"name": "Cake", "quantity": 1, "unit_amount": 325}
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_for_a_customer_id_is_priced_by_the_server() {
    let app = spawn_app().await;
    let c = app.create_customer("+14155550100", "Ada").await;
    let response = app
        .post(
            "/v1/orders",
            &json!({"customer_id": c["id"], "currency": "USD", "items": tea_and_cake(),
                    "metadata": {"chat_id": "42"}}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let order: Value = response.json().await.unwrap();
    assert_eq!(order["object"], "order");
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(order["currency"], "usd");
    assert_eq!(order["customer_id"], c["id"]);
    assert_eq!(order["total_amount"], 1225);
    assert_eq!(order["items"][0]["amount"], 900);
    assert_eq!(order["items"][1]["amount"], 325);
    assert_eq!(order["metadata"]["chat_id"], "42");
    let reference = order["reference"].as_str().unwrap();
    assert_eq!(reference.len(), 9);
    assert_eq!(&reference[4..5], "-");

    let mut fetched: Value = app
        .get(&format!("/v1/orders/{}", order["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    // A single order also shows its latest payment: none yet.
    assert_eq!(fetched["payment"], Value::Null);
    fetched.as_object_mut().unwrap().remove("payment");
    assert_eq!(fetched, order);
    assert_eq!(order["flags"], json!([]));
    assert_eq!(order["amount_refunded"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_by_phone_finds_or_creates_the_customer() {
    let app = spawn_app().await;
    let body = json!({"customer": {"phone": "+44 20 7946 0958", "name": "Alan"},
                      "currency": "gbp", "items": tea_and_cake()});
    let first: Value = app.post("/v1/orders", &body).await.json().await.unwrap();
    let second: Value = app.post("/v1/orders", &body).await.json().await.unwrap();
    assert_eq!(first["customer_id"], second["customer_id"]);
    let customer: Value = app
        .get("/v1/customers?phone=%2B442079460958")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(customer["id"], first["customer_id"]);
    assert_eq!(customer["name"], "Alan");
    assert_eq!(app.counts().await, (2, 1));
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
async fn a_reference_is_found_however_a_person_types_it() {
    let app = spawn_app().await;
    let c = app.create_customer("+14155550100", "Ada").await;
    let order = app
        .create_order(c["id"].as_str().unwrap(), tea_and_cake())
        .await;
    let reference = order["reference"].as_str().unwrap();
    let compact = reference.replace('-', "");
    let typed = [
        reference.to_string(),
        reference.to_lowercase(),
        compact.clone(),
        format!("{}%20{}", &compact[..4], &compact[4..]),
        compact.replace('0', "O").replace('1', "l"),
    ];
    for form in typed {
        let response = app.get(&format!("/v1/orders/by-reference/{form}")).await;
        assert_eq!(response.status(), 200, "{form}");
        let found: Value = response.json().await.unwrap();
        assert_eq!(found["id"], order["id"], "{form}");
    }
    let other = if compact.starts_with('Z') { "Y" } else { "Z" };
    let missing = app
        .get(&format!("/v1/orders/by-reference/{other}{}", &compact[1..]))
        .await;
    assert_problem(missing, 404, "not_found").await;
    let malformed = app.get("/v1/orders/by-reference/NOT-VALID!").await;
    assert_problem(malformed, 404, "not_found").await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_list_by_customer_and_status_newest_first_in_pages() {
    let app = spawn_app().await;
    let a = app.create_customer("+14155550100", "A").await;
    let b = app.create_customer("+14155550101", "B").await;
    let a_id = a["id"].as_str().unwrap();
    let a1 = app.create_order(a_id, tea_and_cake()).await;
    let b1 = app
        .create_order(b["id"].as_str().unwrap(), tea_and_cake())
        .await;
    let a2 = app.create_order(a_id, tea_and_cake()).await;
    let a3 = app.create_order(a_id, tea_and_cake()).await;
    let cancel = app
        .post(
            &format!("/v1/orders/{}/cancel", a2["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(cancel.status(), 200);

    let ids = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let id = |o: &Value| o["id"].as_str().unwrap().to_owned();

    let all: Value = app.get("/v1/orders").await.json().await.unwrap();
    assert_eq!(ids(&all), [id(&a3), id(&a2), id(&b1), id(&a1)]);

    let of_a: Value = app
        .get(&format!("/v1/orders?customer_id={a_id}&limit=2"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&of_a), [id(&a3), id(&a2)]);
    assert_eq!(of_a["has_more"], true);
    let rest: Value = app
        .get(&format!(
            "/v1/orders?customer_id={a_id}&limit=2&starting_after={}",
            id(&a2)
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&rest), [id(&a1)]);
    assert_eq!(rest["has_more"], false);

    let pending_of_a: Value = app
        .get(&format!(
            "/v1/orders?customer_id={a_id}&status=pending_payment"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&pending_of_a), [id(&a3), id(&a1)]);
    let cancelled: Value = app
        .get("/v1/orders?status=cancelled")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&cancelled), [id(&a2)]);

    let bad = app.get("/v1/orders?status=shipped&limit=1000").await;
    let problem = assert_problem(bad, 422, "validation_failed").await;
    assert_eq!(crate::helpers::fields(&problem), ["status", "limit"]);
    let unknown_cursor = app
        .get("/v1/orders?starting_after=01a218ea-ea56-747f-8da1-9b43aea255b9")
        .await;
    assert_problem(unknown_cursor, 422, "validation_failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_pending_order_can_be_cancelled() {
    let app = spawn_app().await;
    let c = app.create_customer("+14155550100", "Ada").await;
    let order = app
        .create_order(c["id"].as_str().unwrap(), tea_and_cake())
        .await;
    let cancel_url = format!("/v1/orders/{}/cancel", order["id"].as_str().unwrap());

    let cancelled: Value = app
        .post(&cancel_url, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    let again = app.post(&cancel_url, &json!({})).await;
    let problem = assert_problem(again, 409, "order_already_cancelled").await;
    assert_eq!(problem["order_status"], "cancelled");

    // A paid order (payments come through the payment flow; here the store moves it).
    let paid = app
        .create_order(c["id"].as_str().unwrap(), tea_and_cake())
        .await;
    let paid_id = OrderId::from_uuid(paid["id"].as_str().unwrap().parse().unwrap());
    let mut stored = app.store.find_by_id(paid_id).await.unwrap().unwrap();
    stored
        .transition(StatusEvent::PaymentSucceeded, chrono_now())
        .unwrap();
    let event = orderpay_domain::order::OrderEvent::new(
        paid_id,
        orderpay_domain::order::OrderEventType::Paid,
        chrono_now(),
    );
    app.store
        .update_status(&stored, OrderStatus::PendingPayment, &event)
        .await
        .unwrap();
    let response = app
        .post(&format!("/v1/orders/{}/cancel", paid_id), &json!({}))
        .await;
    assert_problem(response, 409, "order_already_paid").await;
    let still_paid: Value = app
        .get(&format!("/v1/orders/{paid_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still_paid["status"], "paid");

    let missing = app
        .post(
            "/v1/orders/01a218ea-ea56-747f-8da1-9b43aea255b9/cancel",
            &json!({}),
        )
        .await;
    assert_problem(missing, 404, "not_found").await;
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    use orderpay_domain::Clock;
    orderpay_domain::SystemClock.now()
}

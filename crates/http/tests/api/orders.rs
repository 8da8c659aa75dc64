//! Orders over HTTP: create (by customer id or by phone), read, find by reference, list,
//! cancel and history.

use serde_json::{Value, json};

use crate::world::{api, ids};

fn tea_and_cake() -> Value {
    json!([
        {"name": "Tea", "quantity": 2, "unit_amount": 450},
        {"name": "Cake", "quantity": 1, "unit_amount": 325}
    ])
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn an_order_for_a_customer_id_is_priced_by_the_server() {
    let api = api().await;
    let c = api.customer("+14155550100", "Ada").await;
    let created = api
        .post(
            "/v1/orders",
            &json!({"customer_id": c["id"], "currency": "USD", "items": tea_and_cake(),
                    "metadata": {"chat_id": "42"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let order = created.body;
    assert_eq!(order["object"], "order");
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(order["currency"], "usd");
    assert_eq!(order["customer_id"], c["id"]);
    assert_eq!(order["total_amount"], 1225);
    assert_eq!(order["items"][0]["amount"], 900);
    assert_eq!(order["items"][1]["amount"], 325);
    assert_eq!(order["metadata"]["chat_id"], "42");
    assert_eq!(order["flags"], json!([]));
    assert_eq!(order["amount_refunded"], 0);
    let reference = order["reference"].as_str().unwrap();
    assert_eq!(reference.len(), 9);
    assert_eq!(&reference[4..5], "-");

    let mut fetched = api.get(&format!("/v1/orders/{}", id(&order))).await.body;
    // A single order also shows its latest payment: none yet.
    assert_eq!(fetched["payment"], Value::Null);
    fetched.as_object_mut().unwrap().remove("payment");
    assert_eq!(fetched, order);
}

#[actix_web::test]
async fn an_order_by_phone_finds_or_creates_the_customer() {
    let api = api().await;
    let body = json!({"customer": {"phone": "+44 20 7946 0958", "name": "Alan"},
                      "currency": "gbp", "items": tea_and_cake()});
    let first = api.post("/v1/orders", &body).await.body;
    let second = api.post("/v1/orders", &body).await.body;
    assert_eq!(first["customer_id"], second["customer_id"]);
    let customer = api.get("/v1/customers?phone=%2B442079460958").await.body;
    assert_eq!(customer["id"], first["customer_id"]);
    assert_eq!(customer["name"], "Alan");
    assert_eq!(api.counts().await, (2, 1));
}

#[actix_web::test]
async fn a_reference_is_found_however_a_person_types_it() {
    let api = api().await;
    let order = api.order("+14155550100").await;
    let reference = order["reference"].as_str().unwrap();
    let compact = reference.replace('-', "");
    for form in [
        reference.to_string(),
        reference.to_lowercase(),
        compact.clone(),
        format!("{}%20{}", &compact[..4], &compact[4..]),
        compact.replace('0', "O").replace('1', "l"),
    ] {
        let found = api.get(&format!("/v1/orders/by-reference/{form}")).await;
        assert_eq!(
            (found.status, &found.body["id"]),
            (200, &order["id"]),
            "{form}"
        );
    }
    let other = if compact.starts_with('Z') { "Y" } else { "Z" };
    api.get(&format!("/v1/orders/by-reference/{other}{}", &compact[1..]))
        .await
        .problem(404, "not_found");
    api.get("/v1/orders/by-reference/NOT-VALID!")
        .await
        .problem(404, "not_found");
}

#[actix_web::test]
async fn orders_list_by_customer_and_status_newest_first_in_pages() {
    let api = api().await;
    let a1 = api.order("+14155550100").await;
    let b1 = api.order("+14155550101").await;
    let a2 = api.order("+14155550100").await;
    let a3 = api.order("+14155550100").await;
    let a_id = a1["customer_id"].as_str().unwrap();
    let cancel = api
        .post_empty(&format!("/v1/orders/{}/cancel", id(&a2)))
        .await;
    assert_eq!(cancel.status, 200);

    let all = api.get("/v1/orders").await.body;
    assert_eq!(ids(&all), [id(&a3), id(&a2), id(&b1), id(&a1)]);
    let of_a = api
        .get(&format!("/v1/orders?customer_id={a_id}&limit=2"))
        .await
        .body;
    assert_eq!(ids(&of_a), [id(&a3), id(&a2)]);
    assert_eq!(of_a["has_more"], true);
    let rest = api
        .get(&format!(
            "/v1/orders?customer_id={a_id}&limit=2&starting_after={}",
            id(&a2)
        ))
        .await
        .body;
    assert_eq!(ids(&rest), [id(&a1)]);
    assert_eq!(rest["has_more"], false);
    let pending_of_a = api
        .get(&format!(
            "/v1/orders?customer_id={a_id}&status=pending_payment"
        ))
        .await
        .body;
    assert_eq!(ids(&pending_of_a), [id(&a3), id(&a1)]);
    let cancelled = api.get("/v1/orders?status=cancelled").await.body;
    assert_eq!(ids(&cancelled), [id(&a2)]);
}

#[actix_web::test]
async fn a_bad_order_list_query_is_422_naming_each_parameter() {
    let api = api().await;
    let bad = api.get("/v1/orders?status=shipped&limit=1000").await;
    assert_eq!(bad.problem(422, "validation_failed"), ["status", "limit"]);
    api.get("/v1/orders?starting_after=01a218ea-ea56-747f-8da1-9b43aea255b9")
        .await
        .problem(422, "validation_failed");
    let bad_customer = api.get("/v1/orders?customer_id=nope").await;
    assert_eq!(
        bad_customer.problem(422, "validation_failed"),
        ["customer_id"]
    );
}

#[actix_web::test]
async fn only_a_pending_order_can_be_cancelled() {
    let api = api().await;
    let order = api.order("+14155550100").await;
    let cancel_url = format!("/v1/orders/{}/cancel", id(&order));
    let cancelled = api.post_empty(&cancel_url).await;
    assert_eq!(cancelled.body["status"], "cancelled", "{cancelled:?}");
    let again = api.post_empty(&cancel_url).await;
    again.problem(409, "order_already_cancelled");
    assert_eq!(again.body["order_status"], "cancelled");

    let paid = api.order("+14155550100").await;
    api.pay(&id(&paid)).await;
    api.post_empty(&format!("/v1/orders/{}/cancel", id(&paid)))
        .await
        .problem(409, "order_already_paid");
    assert_eq!(api.status_of(&id(&paid)).await, "paid");
}

#[actix_web::test]
async fn every_order_route_answers_404_for_an_unknown_or_malformed_id() {
    let api = api().await;
    for id in ["01a218ea-ea56-747f-8da1-9b43aea255b9", "not-an-id"] {
        api.get(&format!("/v1/orders/{id}"))
            .await
            .problem(404, "not_found");
        api.get(&format!("/v1/orders/{id}/events"))
            .await
            .problem(404, "not_found");
        for action in ["cancel", "payment-link", "refunds", "clear-flags"] {
            api.post_empty(&format!("/v1/orders/{id}/{action}"))
                .await
                .problem(404, "not_found");
        }
    }
}

#[actix_web::test]
async fn an_orders_history_is_oldest_first_and_shows_each_change() {
    let api = api().await;
    let order = api.order("+14155550100").await;
    let id = id(&order);
    api.pay(&id).await;
    let history = api.get(&format!("/v1/orders/{id}/events")).await;
    assert_eq!(history.status, 200, "{history:?}");
    let types: Vec<&str> = history.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types.first(), Some(&"order.created"), "{types:?}");
    assert_eq!(types.last(), Some(&"order.paid"), "{types:?}");
    let times: Vec<&str> = history.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["created_at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_unstable();
    assert_eq!(times, sorted, "oldest first");
}

#[actix_web::test]
async fn a_shown_order_carries_its_latest_payment() {
    let api = api().await;
    let order = api.order("+14155550100").await;
    let id = id(&order);
    let (_, payment) = api.pay_link(&id).await;
    let shown = api.get(&format!("/v1/orders/{id}")).await.body;
    assert_eq!(shown["payment"]["id"], payment.as_str(), "{shown}");
    assert_eq!(shown["payment"]["status"], "pending", "{shown}");
    assert_eq!(shown["payment"]["amount"], 1200, "{shown}");
    // Lists show orders alone.
    let listed = api.get("/v1/orders").await.body;
    assert!(listed["data"][0].get("payment").is_none(), "{listed}");
}

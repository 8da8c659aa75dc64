//! Bad input: each case is a 4xx problem naming what is wrong, and changes nothing.

use actix_web::test::TestRequest;
use serde_json::{Value, json};

use crate::world::{Api, api};

fn order(customer_id: &str, items: Value) -> Value {
    json!({"customer_id": customer_id, "currency": "usd", "items": items})
}

fn tea(quantity: Value, unit_amount: Value) -> Value {
    json!([{"name": "Tea", "quantity": quantity, "unit_amount": unit_amount}])
}

/// An API with one customer, and its id.
async fn with_customer() -> (Api, String) {
    let api = api().await;
    let c = api.customer("+14155550100", "Ada").await;
    let id = c["id"].as_str().unwrap().to_owned();
    (api, id)
}

/// Posts `body` as an order, expects 422 naming exactly `expected` fields, and checks that
/// nothing was stored.
async fn rejected(api: &Api, body: Value, expected: &[&str]) {
    let reply = api.post("/v1/orders", &body).await;
    assert_eq!(reply.problem(422, "validation_failed"), expected, "{body}");
    assert_eq!(api.counts().await, (0, 1), "nothing stored for {body}");
}

#[actix_web::test]
async fn quantities_must_be_positive_whole_numbers() {
    let (api, id) = with_customer().await;
    for quantity in [json!(0), json!(-2), json!("2"), json!(1.5), json!(null)] {
        rejected(
            &api,
            order(&id, tea(quantity, json!(100))),
            &["items[0].quantity"],
        )
        .await;
    }
}

#[actix_web::test]
async fn amounts_must_be_whole_minor_units_within_bounds() {
    let (api, id) = with_customer().await;
    rejected(
        &api,
        order(&id, tea(json!(1), json!(-1))),
        &["items[0].unit_amount"],
    )
    .await;
    rejected(
        &api,
        order(&id, tea(json!(1), json!(1e300))),
        &["items[0].unit_amount"],
    )
    .await;
    rejected(
        &api,
        order(&id, tea(json!(1), json!(100_000_000))),
        &["items"],
    )
    .await;
    // Overflow of quantity x amount is refused, never wrapped.
    rejected(
        &api,
        order(&id, tea(json!(2), json!(i64::MAX))),
        &["items[0]"],
    )
    .await;
}

#[actix_web::test]
async fn the_currency_must_be_one_the_service_takes() {
    let (api, id) = with_customer().await;
    for currency in [json!("xyz"), json!("us"), json!(840), json!("")] {
        let mut body = order(&id, tea(json!(1), json!(100)));
        body["currency"] = currency;
        rejected(&api, body, &["currency"]).await;
    }
}

#[actix_web::test]
async fn an_order_has_one_to_a_hundred_items() {
    let (api, id) = with_customer().await;
    let many: Vec<Value> = (0..101)
        .map(|_| json!({"name": "Tea", "quantity": 1, "unit_amount": 1}))
        .collect();
    rejected(&api, order(&id, json!(many)), &["items"]).await;
    rejected(&api, order(&id, json!([])), &["items"]).await;
}

#[actix_web::test]
async fn the_customer_must_exist_or_be_given_by_a_valid_phone() {
    let (api, _) = with_customer().await;
    rejected(
        &api,
        order(
            "01a218ea-ea56-747f-8da1-9b43aea255b9",
            tea(json!(1), json!(1)),
        ),
        &["customer_id"],
    )
    .await;
    rejected(
        &api,
        order("not-a-uuid", tea(json!(1), json!(1))),
        &["customer_id"],
    )
    .await;
    rejected(
        &api,
        json!({"customer": {"phone": "12345", "name": "Bob"}, "currency": "usd",
               "items": [{"name": "Tea", "quantity": 1, "unit_amount": 1}]}),
        &["customer.phone"],
    )
    .await;
    rejected(
        &api,
        json!({"currency": "usd", "items": [{"name": "Tea", "quantity": 1, "unit_amount": 1}]}),
        &["customer_id"],
    )
    .await;
}

#[actix_web::test]
async fn metadata_values_are_short_strings() {
    let (api, id) = with_customer().await;
    let mut body = order(&id, tea(json!(1), json!(1)));
    body["metadata"] = json!({"k": "v".repeat(501), "n": 5});
    rejected(&api, body, &["metadata.n", "metadata.k"]).await;
}

#[actix_web::test]
async fn every_problem_is_reported_at_once_missing_and_unknown_fields_included() {
    let (api, id) = with_customer().await;
    rejected(
        &api,
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
}

#[actix_web::test]
async fn invisible_formatting_in_names_is_refused_and_emoji_kept() {
    let api = api().await;
    let body = |item: &str, customer: &str| {
        json!({"customer": {"phone": "+14155550111", "name": customer}, "currency": "eur",
               "items": [{"name": item, "quantity": 1, "unit_amount": 600}]})
    };
    let refused = api
        .post("/v1/orders", &body("Tea\u{202E}gnp.exe", "Ada\u{200B}"))
        .await;
    assert_eq!(
        refused.problem(422, "validation_failed"),
        ["customer.name", "items[0].name"]
    );
    assert_eq!(api.counts().await, (0, 0), "nothing was stored");
    let created = api
        .post("/v1/orders", &body("👩\u{200D}💻 sticker", "Ada"))
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.body["items"][0]["name"], "👩\u{200D}💻 sticker");
}

fn raw(body: &[u8], content_type: &str) -> TestRequest {
    TestRequest::post()
        .uri("/v1/customers")
        .insert_header(("content-type", content_type.to_owned()))
        .set_payload(body.to_vec())
}

#[actix_web::test]
async fn malformed_json_and_bodies_that_are_not_objects_are_400() {
    let api = api().await;
    for body in [&b"{\"phone\": "[..], b"[1, 2]", b"", b"null", b"\xff\xfe"] {
        api.keyed(raw(body, "application/json"))
            .await
            .problem(400, "malformed_json");
    }
    assert_eq!(api.counts().await.1, 0);
}

#[actix_web::test]
async fn another_media_type_is_415_and_a_huge_body_413() {
    let api = api().await;
    api.keyed(raw(b"phone=1", "application/x-www-form-urlencoded"))
        .await
        .problem(415, "unsupported_media_type");
    let huge = format!(
        "{{\"phone\": \"+14155550100\", \"name\": \"{}\"}}",
        "a".repeat(200_000)
    );
    api.keyed(raw(huge.as_bytes(), "application/json"))
        .await
        .problem(413, "payload_too_large");
    assert_eq!(api.counts().await.1, 0);
}

#[actix_web::test]
async fn wrong_types_and_invalid_values_in_a_customer_are_named() {
    let api = api().await;
    let wrong_types = api
        .post(
            "/v1/customers",
            &json!({"phone": 14155550100u64, "name": ["Ada"]}),
        )
        .await;
    assert_eq!(
        wrong_types.problem(422, "validation_failed"),
        ["phone", "name"]
    );
    let invalid = api
        .post(
            "/v1/customers",
            &json!({"phone": "+1 555", "name": "Ada", "email": "x@"}),
        )
        .await;
    assert_eq!(
        invalid.problem(422, "validation_failed"),
        ["phone", "email"]
    );
    assert_eq!(api.counts().await.1, 0);
}

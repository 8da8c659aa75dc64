//! Refunds and flags over HTTP: what can be refunded, in parts, and what is refused.

use serde_json::{Value, json};

use crate::world::{Api, api};

/// A paid order of 12.00 eur: its id.
async fn paid(api: &Api) -> String {
    let order = api.order("+14155550100").await;
    let id = order["id"].as_str().unwrap().to_owned();
    api.pay(&id).await;
    id
}

#[actix_web::test]
async fn a_full_refund_by_default_leaves_the_order_refunded() {
    let api = api().await;
    let id = paid(&api).await;
    let refunded = api
        .post(&format!("/v1/orders/{id}/refunds"), &json!({}))
        .await;
    assert_eq!(refunded.status, 200, "{refunded:?}");
    assert_eq!(refunded.body["status"], "refunded");
    assert_eq!(refunded.body["amount_refunded"], 1200);
    api.post(&format!("/v1/orders/{id}/refunds"), &json!({}))
        .await
        .problem(409, "order_not_paid");
}

#[actix_web::test]
async fn partial_refunds_add_up_and_never_exceed_what_was_paid() {
    let api = api().await;
    let id = paid(&api).await;
    let url = format!("/v1/orders/{id}/refunds");
    let first = api.post(&url, &json!({"amount": 500})).await;
    assert_eq!(
        (
            first.body["status"].as_str(),
            &first.body["amount_refunded"]
        ),
        (Some("partially_refunded"), &json!(500)),
        "{first:?}"
    );
    let over = api.post(&url, &json!({"amount": 701})).await;
    assert_eq!(over.problem(422, "validation_failed"), ["amount"]);
    assert!(
        over.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("700"),
        "{over:?}"
    );
    let rest = api
        .post(
            &url,
            &json!({"amount": 700, "reason": "requested_by_customer"}),
        )
        .await;
    assert_eq!(rest.body["status"], "refunded", "{rest:?}");
    assert_eq!(rest.body["amount_refunded"], 1200);
    let history: Vec<Value> = api.get(&format!("/v1/orders/{id}/events")).await.body["data"]
        .as_array()
        .unwrap()
        .clone();
    let refunds = history
        .iter()
        .filter(|e| e["type"].as_str().unwrap().ends_with("refunded"))
        .count();
    assert_eq!(refunds, 2, "{history:?}");
}

#[actix_web::test]
async fn a_refund_with_bad_fields_names_each_and_refunds_nothing() {
    let api = api().await;
    let id = paid(&api).await;
    let url = format!("/v1/orders/{id}/refunds");
    for (body, fields) in [
        (json!({"amount": 0}), vec!["amount"]),
        (json!({"amount": -5}), vec!["amount"]),
        (json!({"amount": "5"}), vec!["amount"]),
        (json!({"reason": "bored"}), vec!["reason"]),
        (
            json!({"amount": 1.5, "colour": "red"}),
            vec!["colour", "amount"],
        ),
    ] {
        let refused = api.post(&url, &body).await;
        assert_eq!(refused.problem(422, "validation_failed"), fields, "{body}");
    }
    assert_eq!(api.status_of(&id).await, "paid");
}

#[actix_web::test]
async fn an_unpaid_order_has_nothing_to_refund() {
    let api = api().await;
    let id = &api.order_id("+14155550100").await;
    let refused = api
        .post(&format!("/v1/orders/{id}/refunds"), &json!({"amount": 100}))
        .await;
    refused.problem(409, "order_not_paid");
    assert_eq!(refused.body["order_status"], "pending_payment");
}

#[actix_web::test]
async fn clearing_flags_an_order_does_not_have_changes_nothing() {
    let api = api().await;
    let id = &api.order_id("+14155550100").await;
    let cleared = api
        .post(&format!("/v1/orders/{id}/clear-flags"), &json!({}))
        .await;
    assert_eq!(cleared.status, 200, "{cleared:?}");
    assert_eq!(cleared.body["flags"], json!([]));
    let events = api.get(&format!("/v1/orders/{id}/events")).await.body;
    assert_eq!(events["data"].as_array().unwrap().len(), 1, "{events}");
    let unknown = api
        .post(
            &format!("/v1/orders/{id}/clear-flags"),
            &json!({"flags": ["sunny"]}),
        )
        .await;
    assert_eq!(unknown.problem(422, "validation_failed"), ["flags[0]"]);
}

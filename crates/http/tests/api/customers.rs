//! Customers over HTTP: create, read, update, list and look up by phone.

use serde_json::{Value, json};

use crate::world::{api, ids};

#[actix_web::test]
async fn create_stores_the_phone_in_e164_from_a_national_form() {
    let api = api().await;
    let created = api
        .post(
            "/v1/customers",
            &json!({"phone": "(415) 555-0100", "name": " Ada ", "email": "ada@example.com"}),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let body = created.body;
    assert_eq!(body["phone"], "+14155550100");
    assert_eq!(body["name"], "Ada");
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["object"], "customer");
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    let fetched = api
        .get(&format!("/v1/customers/{}", body["id"].as_str().unwrap()))
        .await;
    assert_eq!(fetched.body, body);
}

#[actix_web::test]
async fn without_a_default_region_only_international_numbers_are_taken() {
    let api = crate::world::api_in(None).await;
    let national = api
        .post(
            "/v1/customers",
            &json!({"phone": "(415) 555-0100", "name": "Ada"}),
        )
        .await;
    assert_eq!(national.problem(422, "validation_failed"), ["phone"]);
    api.customer("+14155550100", "Ada").await;
}

#[actix_web::test]
async fn a_second_create_with_the_same_phone_is_409_naming_the_existing_customer() {
    let api = api().await;
    let first = api.customer("+14155550100", "Ada").await;
    let again = api
        .post(
            "/v1/customers",
            &json!({"phone": "+1 415-555-0100", "name": "Other"}),
        )
        .await;
    again.problem(409, "customer_exists");
    assert_eq!(again.body["existing_customer_id"], first["id"]);
    assert_eq!(api.counts().await.1, 1);
}

#[actix_web::test]
async fn unknown_and_malformed_customer_ids_are_404() {
    let api = api().await;
    for id in ["01a218ea-ea56-747f-8da1-9b43aea255b9", "not-an-id"] {
        api.get(&format!("/v1/customers/{id}"))
            .await
            .problem(404, "not_found");
        api.patch(&format!("/v1/customers/{id}"), &json!({"name": "X"}))
            .await
            .problem(404, "not_found");
    }
}

#[actix_web::test]
async fn patch_changes_name_and_email_and_null_clears_email() {
    let api = api().await;
    let c = api.customer("+14155550100", "Ada").await;
    let url = format!("/v1/customers/{}", c["id"].as_str().unwrap());

    let renamed = api
        .patch(&url, &json!({"name": "Ada L.", "email": "ada@example.com"}))
        .await
        .body;
    assert_eq!(renamed["name"], "Ada L.");
    assert_eq!(renamed["email"], "ada@example.com");
    assert_eq!(renamed["phone"], "+14155550100");

    let cleared = api.patch(&url, &json!({"email": null})).await.body;
    assert_eq!(cleared["email"], Value::Null);
    assert_eq!(cleared["name"], "Ada L.");
}

#[actix_web::test]
async fn patch_reports_every_bad_field_at_once_and_changes_nothing() {
    let api = api().await;
    let customer = api.customer("+14155550100", "Ada").await;
    let url = format!("/v1/customers/{}", customer["id"].as_str().unwrap());
    // The unknown `phone` and the two invalid values.
    let bad = api
        .patch(&url, &json!({"email": "nope", "name": "", "phone": "+1"}))
        .await;
    assert_eq!(
        bad.problem(422, "validation_failed"),
        ["phone", "name", "email"]
    );
    let bad = api
        .patch(&url, &json!({"name": 5, "email": "not-an-email"}))
        .await;
    assert_eq!(bad.problem(422, "validation_failed"), ["name", "email"]);
    assert_eq!(api.get(&url).await.body, customer);
}

#[actix_web::test]
async fn customers_list_newest_first_in_cursor_pages() {
    let api = api().await;
    let mut made = Vec::new();
    for i in 0..5 {
        let c = api
            .customer(&format!("+1415555010{i}"), &format!("C{i}"))
            .await;
        made.push(c["id"].as_str().unwrap().to_owned());
    }
    let page = api.get("/v1/customers?limit=2").await.body;
    assert_eq!(ids(&page), [made[4].clone(), made[3].clone()]);
    assert_eq!(page["has_more"], true);
    assert_eq!(page["object"], "list");

    let rest = api
        .get(&format!(
            "/v1/customers?limit=10&starting_after={}",
            made[3]
        ))
        .await
        .body;
    assert_eq!(
        ids(&rest),
        [made[2].clone(), made[1].clone(), made[0].clone()]
    );
    assert_eq!(rest["has_more"], false);
}

#[actix_web::test]
async fn a_bad_list_query_names_every_bad_parameter() {
    let api = api().await;
    let bad = api
        .get("/v1/customers?limit=0&starting_after=zzz&colour=red")
        .await;
    assert_eq!(
        bad.problem(422, "validation_failed"),
        ["colour", "limit", "starting_after"]
    );
    let twice = api.get("/v1/customers?limit=2&limit=3").await;
    assert_eq!(twice.problem(422, "validation_failed"), ["limit"]);
    let unknown_cursor = api
        .get("/v1/customers?starting_after=01a218ea-ea56-747f-8da1-9b43aea255b9")
        .await;
    assert_eq!(unknown_cursor.status / 100, 4, "{unknown_cursor:?}");
}

#[actix_web::test]
async fn lookup_by_phone_finds_the_stored_customer_or_404_without_a_directory() {
    let api = api().await;
    let c = api.customer("+14155550100", "Ada").await;
    // `+` written raw in a query means a space; both spellings find the customer.
    for query in [
        "phone=%2B14155550100",
        "phone=+14155550100",
        "phone=415-555-0100",
    ] {
        let found = api.get(&format!("/v1/customers?{query}")).await;
        assert_eq!(found.body["id"], c["id"], "{query}");
    }
    api.get("/v1/customers?phone=%2B14155550199")
        .await
        .problem(404, "not_found");
    let invalid = api.get("/v1/customers?phone=12").await;
    assert_eq!(invalid.problem(422, "validation_failed"), ["phone"]);
}

/// `GET /v1/customers/lookup?phone=` answers the customer; the old form (`GET
/// /v1/customers?phone=`) keeps working, and refuses the page parameters it would ignore.
#[actix_web::test]
async fn a_customer_is_looked_up_by_phone_and_no_parameter_is_ignored() {
    let api = api().await;
    let ada = api.customer("+14155550100", "Ada").await;
    let found = api.get("/v1/customers/lookup?phone=%2B14155550100").await;
    assert_eq!((found.status, &found.body["id"]), (200, &ada["id"]));
    let old = api.get("/v1/customers?phone=%2B14155550100").await;
    assert_eq!((old.status, &old.body["id"]), (200, &ada["id"]));
    api.get("/v1/customers/lookup?phone=%2B14155550199")
        .await
        .problem(404, "not_found");
    assert_eq!(
        api.get("/v1/customers/lookup")
            .await
            .problem(422, "validation_failed"),
        ["phone"]
    );
    assert_eq!(
        api.get("/v1/customers?phone=%2B14155550100&limit=2&starting_after=x")
            .await
            .problem(422, "validation_failed"),
        ["limit", "starting_after"]
    );
}

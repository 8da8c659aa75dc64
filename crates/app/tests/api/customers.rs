//! Customers against PostgreSQL: the directory behind a lookup, concurrency, and what only a
//! real index shows. Their request/response behaviour is in `crates/http/tests/api`.

use futures_util::future::join_all;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{assert_problem, fields, spawn_app, spawn_app_with};

async fn directory_knowing(phone: &str, expected_calls: impl Into<wiremock::Times>) -> MockServer {
    let directory = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/customers"))
        .and(query_param("phone", phone))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"name": "Grace", "email": "grace@example.com"})),
        )
        .expect(expected_calls)
        .mount(&directory)
        .await;
    directory
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miss_asks_the_directory_once_and_stores_its_answer() {
    let directory = directory_knowing("+14155550123", 1).await;
    let app = spawn_app_with(&[("CUSTOMER_DIRECTORY_URL", &directory.uri())]).await;
    let first: Value = app
        .get("/v1/customers?phone=%2B14155550123")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["name"], "Grace");
    assert_eq!(first["email"], "grace@example.com");
    // The second lookup is local: the mock's `expect(1)` fails the test otherwise.
    let second: Value = app
        .get("/v1/customers?phone=%2B14155550123")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["id"], first["id"]);
    let unknown = app.get("/v1/customers?phone=%2B14155550124").await;
    assert_problem(unknown, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_lookups_of_one_new_phone_leave_one_customer() {
    // Each lookup may reach the directory before any has stored the customer; the rows must
    // still come to one.
    let directory = directory_knowing("+14155550123", 1..=20).await;
    let app = spawn_app_with(&[
        ("CUSTOMER_DIRECTORY_URL", &directory.uri()),
        ("DATABASE_POOL_SIZE", "20"),
    ])
    .await;
    let lookups = (0..20).map(|_| app.get("/v1/customers?phone=%2B14155550123"));
    let responses = join_all(lookups).await;
    let mut ids = Vec::new();
    for r in responses {
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "all lookups return the same customer");
    assert_eq!(app.counts().await.1, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_directory_is_502_and_stores_nothing() {
    let directory = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&directory)
        .await;
    let app = spawn_app_with(&[("CUSTOMER_DIRECTORY_URL", &directory.uri())]).await;
    let response = app.get("/v1/customers?phone=%2B14155550123").await;
    assert_problem(response, 502, "directory_unavailable").await;
    assert_eq!(app.counts().await.1, 0);
}

/// Seen on main: an email whose domain grows when lower-cased (`Ⱥ` is 2 bytes, `ⱥ` 3) was
/// stored, answered 500, and from then on broke every read of the customer list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_that_grows_when_lowercased_never_poisons_reads() {
    let app = spawn_app().await;
    let email = format!("a@{}.co", "Ⱥ".repeat(124));
    let response = app
        .post(
            "/v1/customers",
            &json!({"phone": "+14155550177", "name": "X", "email": email}),
        )
        .await;
    let status = response.status().as_u16();
    assert!(status == 201 || status == 422, "create answered {status}");
    if status == 422 {
        let body = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(fields(&body), ["email"]);
    }

    let list = app.get("/v1/customers").await;
    assert_eq!(list.status(), 200, "{:?}", list.text().await);
    let order = app
        .post(
            "/v1/orders",
            &json!({"customer": {"phone": "+14155550177", "name": "X"}, "currency": "usd",
                    "items": [{"name": "Tea", "quantity": 1, "unit_amount": 100}]}),
        )
        .await;
    assert_eq!(order.status(), 201, "{:?}", order.text().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_of_different_fields_keep_both_changes() {
    let app = spawn_app().await;
    for round in 0..10 {
        let customer = app
            .create_customer(&format!("+1415555{:04}", 200 + round), "Ada")
            .await;
        let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());
        let email = format!("ada{round}@example.com");
        let rename = json!({"name": "Ada Lovelace"});
        let set_email = json!({"email": email});
        let (renamed, emailed) =
            tokio::join!(app.patch(&path, &rename), app.patch(&path, &set_email));
        assert_eq!(renamed.status(), 200);
        assert_eq!(emailed.status(), 200);
        let after: Value = app.get(&path).await.json().await.unwrap();
        assert_eq!(after["name"], "Ada Lovelace", "round {round}: {after}");
        assert_eq!(after["email"], email.as_str(), "round {round}: {after}");
    }
}

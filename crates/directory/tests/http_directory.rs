//! The HTTP directory adapter against a local fake directory.

use std::time::Duration;

use orderpay_directory::HttpCustomerDirectory;
use orderpay_domain::customer::{CustomerDirectory, DirectoryEntry};
use orderpay_domain::phone::PhoneNumber;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn phone() -> PhoneNumber {
    PhoneNumber::parse("+14155550100", None).unwrap()
}

async fn directory(server: &MockServer, timeout_ms: u64) -> HttpCustomerDirectory {
    HttpCustomerDirectory::new(&server.uri(), Duration::from_millis(timeout_ms)).unwrap()
}

#[tokio::test]
async fn a_known_number_returns_its_entry_and_sends_the_e164_phone() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/customers"))
        .and(query_param("phone", "+14155550100"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"name": "Ada", "email": "ada@example.com"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let entry = directory(&server, 2000)
        .await
        .lookup(&phone())
        .await
        .unwrap();
    assert_eq!(
        entry,
        Some(DirectoryEntry {
            name: "Ada".into(),
            email: Some("ada@example.com".into())
        })
    );
}

/// What the adapter makes of a directory that answers every lookup with `answer`, given
/// `timeout_ms` to answer.
async fn lookup_against(
    answer: ResponseTemplate,
    timeout_ms: u64,
) -> Result<Option<DirectoryEntry>, orderpay_domain::customer::DirectoryError> {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(answer)
        .mount(&server)
        .await;
    directory(&server, timeout_ms).await.lookup(&phone()).await
}

#[tokio::test]
async fn not_found_is_none() {
    let found = lookup_against(ResponseTemplate::new(404), 2000).await;
    assert_eq!(found.unwrap(), None);
}

#[tokio::test]
async fn errors_malformed_answers_and_timeouts_are_unavailable() {
    let slow = ResponseTemplate::new(200)
        .set_body_json(serde_json::json!({"name": "Slow"}))
        .set_delay(Duration::from_millis(1500));
    for (answer, timeout_ms) in [
        (ResponseTemplate::new(500), 2000),
        (ResponseTemplate::new(200).set_body_string("not json"), 2000),
        (
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"email": "x@y.z"})),
            2000,
        ),
        (slow, 200),
    ] {
        assert!(lookup_against(answer, timeout_ms).await.is_err());
    }
}

#[test]
fn a_base_url_that_is_not_http_is_refused() {
    assert!(HttpCustomerDirectory::new("ftp://x", Duration::from_secs(1)).is_err());
    assert!(HttpCustomerDirectory::new("not a url", Duration::from_secs(1)).is_err());
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"name": "Eve"})))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let answer = ResponseTemplate::new(302).insert_header(
        "location",
        format!("{}/customers", elsewhere.uri()).as_str(),
    );
    let result = lookup_against(answer, 2000).await;
    assert!(
        matches!(
            result,
            Err(orderpay_domain::customer::DirectoryError::Unavailable(_))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_answer_over_64_kib_is_unavailable() {
    let huge = serde_json::json!({"name": "Ada", "pad": "x".repeat(70 * 1024)});
    let result = lookup_against(ResponseTemplate::new(200).set_body_json(huge), 2000).await;
    assert!(
        matches!(
            result,
            Err(orderpay_domain::customer::DirectoryError::Unavailable(_))
        ),
        "{result:?}"
    );
    let fits = serde_json::json!({"name": "Ada", "pad": "x".repeat(60 * 1024)});
    let result = lookup_against(ResponseTemplate::new(200).set_body_json(fits), 2000).await;
    assert_eq!(result.unwrap().unwrap().name, "Ada");
}

#[tokio::test]
async fn errors_never_carry_the_phone_number() {
    let slow = ResponseTemplate::new(200).set_delay(Duration::from_millis(500));
    let err = lookup_against(slow, 50).await.unwrap_err();
    let text = format!("{err:?} {err:#}");
    let orderpay_domain::customer::DirectoryError::Unavailable(cause) = &err;
    let chain = format!("{cause:#} {cause:?}");
    assert!(!chain.contains("4155550100"), "{chain}");
    assert!(!text.contains("4155550100"), "{text}");
}

#[tokio::test]
async fn a_base_url_with_a_path_and_query_is_kept() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/customers"))
        .and(query_param("token", "t0k"))
        .and(query_param("phone", "+14155550100"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let directory = HttpCustomerDirectory::new(
        &format!("{}/api/?token=t0k", server.uri()),
        Duration::from_secs(2),
    )
    .unwrap();
    assert_eq!(directory.lookup(&phone()).await.unwrap(), None);
}

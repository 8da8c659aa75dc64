use reqwest::Response;

use orderpay::startup;

use crate::helpers::{TestApp, assert_problem, spawn_app};

/// `GET path` with `Authorization: <authorization>` (or none).
async fn get_with(app: &TestApp, path: &str, authorization: Option<String>) -> Response {
    let mut request = app.client.get(app.url(path));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().await.expect("request sent")
}

fn bearer(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_needs_a_live_bearer_key() {
    let app = spawn_app().await;
    let path = "/v1/customers";

    let missing = get_with(&app, path, None).await;
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    assert_problem(missing, 401, "unauthorized").await;

    let wrong_scheme = get_with(&app, path, Some(format!("Basic {}", app.api_key))).await;
    assert_problem(wrong_scheme, 401, "unauthorized").await;

    let mut forged = app.api_key.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'a' { 'b' } else { 'a' });
    for bad in ["", "opk_nonsense", forged.as_str()] {
        let response = get_with(&app, path, bearer(bad)).await;
        assert_problem(response, 401, "unauthorized").await;
    }

    let ok = get_with(&app, path, bearer(&app.api_key)).await;
    assert_eq!(ok.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_refused_once_the_cache_bound_has_passed() {
    // Revoked elsewhere (another replica, the CLI), a key keeps working here at most
    // API_KEY_CACHE_TTL_MS; 200 ms in this test.
    let app = crate::helpers::spawn_app_with(&[("API_KEY_CACHE_TTL_MS", "200")]).await;
    let keys = startup::api_keys(&app.store);
    let created = keys.create("short-lived").await.unwrap();
    let before = get_with(&app, "/v1/orders", bearer(&created.token)).await;
    assert_eq!(before.status(), 200);

    keys.revoke(created.key.id).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let after = get_with(&app, "/v1/orders", bearer(&created.token)).await;
    assert_problem(after, 401, "unauthorized").await;
    // Other keys are untouched.
    assert_eq!(app.get("/v1/orders").await.status(), 200);
}

//! API keys across processes: revocation elsewhere within the cache bound, and keys made by
//! the CLI. Keys and scopes over HTTP are in `crates/http/tests/api/contract.rs`.

use reqwest::Response;

use orderpay::startup;

use crate::helpers::{TestApp, assert_problem};

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

/// A key made `--scope orders:read` by the CLI is listed with its scope, reads orders, and is
/// refused the rest (403 `insufficient_scope` naming the scope), changing nothing; a scope
/// that does not exist is refused by the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_scoped_orders_read_can_only_read_orders() {
    let app = crate::helpers::spawn_app().await;
    let reader = crate::helpers::process::api_key_with(
        app.db.url(),
        &["--name", "reader", "--scope", "orders:read"],
    );
    let listed = crate::helpers::process::orderpay(app.db.url())
        .args(["api-key", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    let line = listed.lines().find(|l| l.ends_with("reader")).unwrap();
    assert!(line.contains("orders:read"), "{listed}");

    let (order, _) = app.order_with_link("+14155550100", "Tea").await;
    let as_reader = |method: reqwest::Method, path: String| {
        app.client
            .request(method, app.url(&path))
            .bearer_auth(&reader)
            .json(&serde_json::json!({}))
            .send()
    };
    let read = as_reader(reqwest::Method::GET, format!("/v1/orders/{order}"))
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let list = as_reader(reqwest::Method::GET, "/v1/orders".into())
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    // Every scope's refusals are in crates/http/tests/api/contract.rs; here, that the
    // CLI's key carries its scope through the database.
    let refused = as_reader(reqwest::Method::POST, format!("/v1/orders/{order}/refunds"))
        .await
        .unwrap();
    let problem = crate::helpers::assert_problem(refused, 403, "insufficient_scope").await;
    assert_eq!(problem["required_scope"], "refunds:write");
    let customers = as_reader(reqwest::Method::GET, "/v1/customers".into())
        .await
        .unwrap();
    crate::helpers::assert_problem(customers, 403, "insufficient_scope").await;
    assert_eq!(app.order(&order).await["status"], "pending_payment");
    assert_eq!(app.counts().await, (1, 1));

    // A scope that does not exist is refused by the CLI, saying which exist.
    let bad = crate::helpers::process::orderpay(app.db.url())
        .args([
            "api-key",
            "create",
            "--name",
            "x",
            "--scope",
            "orders:delete",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("refunds:write"));
}

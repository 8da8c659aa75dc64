//! `GET /metrics`: Prometheus text behind `METRICS_TOKEN`, off without one, and labels that
//! never carry a path, a token or an id.

use serde_json::json;

use crate::helpers::{no_redirects, spawn_app, spawn_app_with};

const TOKEN: &str = "metrics-token-0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_token_and_are_off_without_one() {
    let off = spawn_app().await;
    let response = off.client.get(off.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 404);

    let app = spawn_app_with(&[("METRICS_TOKEN", TOKEN)]).await;
    let none = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    for wrong in [&app.api_key, "metrics-token-0123456789abcdeX"] {
        let refused = app
            .client
            .get(app.url("/metrics"))
            .bearer_auth(wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401, "{wrong}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_name_routes_by_pattern_and_never_a_path_token_or_id() {
    let app = spawn_app_with(&[("METRICS_TOKEN", TOKEN)]).await;
    let (id, link) = app.order_with_link("+14155550100", "Tea").await;
    let url = link["url"].as_str().unwrap();
    let pay_token = url.rsplit('/').next().unwrap().to_owned();
    // The pay link, read and opened: its path holds the token.
    assert_eq!(no_redirects().get(url).send().await.unwrap().status(), 200);
    crate::helpers::open_checkout(url).await;
    assert_eq!(app.order(&id).await["id"], id.as_str());
    let missing = app
        .get("/v1/orders/01a218ea-ea56-747f-8da1-9b43aea255b9")
        .await;
    assert_eq!(missing.status(), 404);
    let stray = app
        .client
        .get(app.url("/nowhere/secret-abc123"))
        .send()
        .await
        .unwrap();
    assert_eq!(stray.status(), 404);
    let created = app
        .post(
            "/v1/orders",
            &json!({"customer": {"phone": "+14155550101", "name": "Ada"}, "currency": "usd",
                    "items": [{"name": "Tea", "quantity": 1, "unit_amount": 100}]}),
        )
        .await;
    assert_eq!(created.status(), 201);

    let page = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = page.text().await.unwrap();
    for expected in [
        r#"orderpay_http_requests_total{method="GET",route="/pay/{token}",status="200"}"#,
        r#"orderpay_http_requests_total{method="POST",route="/pay/{token}",status="303"}"#,
        r#"orderpay_http_requests_total{method="GET",route="/v1/orders/{id}",status="200"}"#,
        r#"orderpay_http_requests_total{method="GET",route="/v1/orders/{id}",status="404"}"#,
        r#"orderpay_http_requests_total{method="POST",route="/v1/orders",status="201"}"#,
        r#"route="(no route)",status="404""#,
        r#"orderpay_http_request_duration_seconds_bucket{method="POST",route="/v1/orders",le="0.005"}"#,
        r#"orderpay_db_pool_connections{pool="api"}"#,
        r#"orderpay_db_pool_in_use{pool="public"}"#,
        r#"orderpay_db_pool_waiting{pool="api"}"#,
        "orderpay_outbox_pending_deliveries",
        "orderpay_outbox_oldest_pending_age_seconds",
    ] {
        assert!(text.contains(expected), "no {expected} in:\n{text}");
    }
    // No label value holds what a path carries, nor a credential.
    for secret in [
        pay_token.as_str(),
        id.as_str(),
        "01a218ea-ea56-747f-8da1-9b43aea255b9",
        "secret-abc123",
        app.api_key.as_str(),
        TOKEN,
    ] {
        assert!(!text.contains(secret), "{secret} leaked into /metrics");
    }
    for line in text.lines().filter(|l| l.contains("route=\"")) {
        let route = line
            .split("route=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(
            route == "(no route)" || route.starts_with('/'),
            "a route label that is not a pattern: {line}"
        );
    }
}

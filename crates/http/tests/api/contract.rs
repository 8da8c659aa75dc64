//! What every route shares: keys and their scopes, Idempotency-Key, request ids, problems
//! for unknown routes and methods, health, and the OpenAPI document.

use actix_web::http::Method;
use actix_web::test::TestRequest;
use serde_json::json;

use crate::world::api;

#[actix_web::test]
async fn v1_needs_a_live_bearer_key() {
    let api = api().await;
    let get = |authorization: Option<String>| {
        let mut request = TestRequest::get().uri("/v1/customers");
        if let Some(value) = authorization {
            request = request.insert_header(("authorization", value));
        }
        api.send(request)
    };
    let missing = get(None).await;
    assert_eq!(missing.header("www-authenticate"), "Bearer");
    missing.problem(401, "unauthorized");
    get(Some(format!("Basic {}", api.key)))
        .await
        .problem(401, "unauthorized");
    let mut forged = api.key.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'a' { 'b' } else { 'a' });
    for bad in ["", "opk_nonsense", forged.as_str()] {
        get(Some(format!("Bearer {bad}")))
            .await
            .problem(401, "unauthorized");
    }
    assert_eq!(get(Some(format!("Bearer {}", api.key))).await.status, 200);
}

#[actix_web::test]
async fn a_revoked_key_is_refused() {
    let api = api().await;
    let created = api.state.api_keys.create("short-lived").await.unwrap();
    let with = |token: &str| {
        TestRequest::get()
            .uri("/v1/orders")
            .insert_header(("authorization", format!("Bearer {token}")))
    };
    assert_eq!(api.send(with(&created.token)).await.status, 200);
    // Revoked through this process's service: its cache forgets the key at once.
    api.state.api_keys.revoke(created.key.id).await.unwrap();
    api.send(with(&created.token))
        .await
        .problem(401, "unauthorized");
    assert_eq!(api.get("/v1/orders").await.status, 200, "others untouched");
}

#[actix_web::test]
async fn a_key_scoped_orders_read_can_only_read_orders() {
    let api = api().await;
    let reader = api.restricted_key(&["orders:read"]).await;
    let order = api.order("+14155550100").await;
    let order = order["id"].as_str().unwrap();
    let as_reader = |request: TestRequest| {
        api.send(request.insert_header(("authorization", format!("Bearer {reader}"))))
    };
    let read = as_reader(TestRequest::get().uri(&format!("/v1/orders/{order}"))).await;
    assert_eq!(read.status, 200);
    assert_eq!(
        as_reader(TestRequest::get().uri("/v1/orders")).await.status,
        200
    );
    for (path, scope) in [
        ("/v1/orders".to_owned(), "orders:write"),
        (format!("/v1/orders/{order}/cancel"), "orders:write"),
        (format!("/v1/orders/{order}/payment-link"), "payments:write"),
        (format!("/v1/orders/{order}/refunds"), "refunds:write"),
        ("/v1/customers".to_owned(), "customers:write"),
    ] {
        let refused = as_reader(TestRequest::post().uri(&path).set_json(json!({}))).await;
        refused.problem(403, "insufficient_scope");
        assert_eq!(refused.body["required_scope"], scope, "{path}");
    }
    as_reader(TestRequest::get().uri("/v1/customers"))
        .await
        .problem(403, "insufficient_scope");
    assert_eq!(api.status_of(order).await, "pending_payment");
    assert_eq!(api.counts().await, (1, 1));
}

/// A restricted key cannot reach a route by spelling its path another way: actix routes on
/// the percent-decoded path, so `cance%6C` is `cancel`, and must be authorized as `cancel`.
#[actix_web::test]
async fn a_percent_encoded_letter_does_not_lift_a_scope() {
    let api = api().await;
    let reader = api.restricted_key(&["orders:read"]).await;
    let order = api.order_id("+14155550100").await;
    let as_reader = |request: TestRequest| {
        api.send(request.insert_header(("authorization", format!("Bearer {reader}"))))
    };
    for path in [
        format!("/v1/orders/{order}/cance%6C"),
        format!("/v1/orders/{order}/cance%6c"),
        format!("/v1/orders/{order}/%63ancel"),
        format!("/%761/orders/{order}/cancel"),
    ] {
        let refused = as_reader(TestRequest::post().uri(&path)).await;
        refused.problem(403, "insufficient_scope");
        assert_eq!(refused.body["required_scope"], "orders:write", "{path}");
    }
    let endpoint = as_reader(
        TestRequest::post()
            .uri("/v1/webhook_endpoint%73")
            .set_json(json!({"url": "http://127.0.0.1:9/", "enabled_events": ["*"]})),
    )
    .await;
    endpoint.problem(403, "insufficient_scope");
    assert_eq!(endpoint.body["required_scope"], "webhooks:write");
    assert_eq!(api.status_of(&order).await, "pending_payment");
}

/// Under `/v1`, a path that matches no route is 404 whoever asks: no key is looked up and
/// no handler runs.
#[actix_web::test]
async fn an_unknown_v1_path_is_404_before_any_key_is_checked() {
    let api = api().await;
    for path in ["/v1/nowhere", "/v1/orders/x/y/z", "/v1//orders"] {
        api.send(TestRequest::get().uri(path))
            .await
            .problem(404, "not_found");
    }
}

fn with_key(key: &str, body: &serde_json::Value) -> TestRequest {
    TestRequest::post()
        .uri("/v1/orders")
        .insert_header(("idempotency-key", key.to_owned()))
        .set_json(body)
}

#[actix_web::test]
async fn a_retried_create_with_its_idempotency_key_gets_the_first_answer() {
    let api = api().await;
    let body = json!({"customer": {"phone": "+14155550100", "name": "Ada"}, "currency": "usd",
                      "items": [{"name": "Tea", "quantity": 1, "unit_amount": 100}]});
    let first = api.keyed(with_key("retry-1", &body)).await;
    assert_eq!(first.status, 201, "{first:?}");
    assert_eq!(first.header("idempotent-replayed"), "");
    let retry = api.keyed(with_key("retry-1", &body)).await;
    assert_eq!((retry.status, &retry.body), (201, &first.body));
    assert_eq!(retry.header("idempotent-replayed"), "true");
    assert_eq!(api.counts().await, (1, 1));

    // The same key for another request: 422, and nothing is done.
    let mut other = body.clone();
    other["currency"] = json!("eur");
    api.keyed(with_key("retry-1", &other))
        .await
        .problem(422, "idempotency_key_reused");
    assert_eq!(api.counts().await, (1, 1));
}

#[actix_web::test]
async fn a_bad_request_releases_its_idempotency_key_and_a_bad_key_is_named() {
    let api = api().await;
    let bad = json!({"currency": "usd", "items": []});
    api.keyed(with_key("k-2", &bad))
        .await
        .problem(422, "validation_failed");
    let good = json!({"customer": {"phone": "+14155550100", "name": "Ada"}, "currency": "usd",
                      "items": [{"name": "Tea", "quantity": 1, "unit_amount": 100}]});
    let fixed = api.keyed(with_key("k-2", &good)).await;
    assert_eq!(
        fixed.status, 201,
        "the key was not kept by the refused request"
    );
    let too_long = api.keyed(with_key(&"k".repeat(300), &good)).await;
    assert_eq!(
        too_long.problem(422, "validation_failed"),
        ["Idempotency-Key"]
    );
}

#[actix_web::test]
async fn a_caller_request_id_is_echoed_and_one_is_made_otherwise() {
    let api = api().await;
    let echoed = api
        .send(
            TestRequest::get()
                .uri("/healthz")
                .insert_header(("x-request-id", "req-abc_123")),
        )
        .await;
    assert_eq!(echoed.header("x-request-id"), "req-abc_123");
    let made = api.send(TestRequest::get().uri("/healthz")).await;
    assert!(!made.header("x-request-id").is_empty());
    assert_ne!(made.header("x-request-id"), "req-abc_123");
}

#[actix_web::test]
async fn unknown_routes_and_methods_are_problems() {
    let api = api().await;
    api.get("/v1/nowhere").await.problem(404, "not_found");
    api.send(TestRequest::get().uri("/nowhere"))
        .await
        .problem(404, "not_found");
    let wrong_method = api.keyed(TestRequest::delete().uri("/v1/orders")).await;
    wrong_method.problem(405, "method_not_allowed");
    assert_eq!(wrong_method.header("allow"), "GET, POST");
    let trace = api
        .send(TestRequest::default().method(Method::TRACE).uri("/healthz"))
        .await;
    assert_eq!((trace.status, trace.header("allow")), (405, "GET"));
}

#[actix_web::test]
async fn health_answers_without_a_key_and_readiness_follows_shutdown() {
    let api = api().await;
    let health = api.send(TestRequest::get().uri("/healthz")).await;
    assert_eq!((health.status, &health.body["status"]), (200, &json!("ok")));
    assert_eq!(
        api.send(TestRequest::get().uri("/readyz")).await.status,
        200
    );
    // A background worker down (its supervisor restarting it): not ready, saying which.
    api.state.workers.down("webhook_sender");
    let down = api.send(TestRequest::get().uri("/readyz")).await;
    down.problem(503, "service_unavailable");
    assert!(
        down.body["detail"]
            .as_str()
            .unwrap()
            .contains("`webhook_sender`"),
        "{down:?}"
    );
    api.state.workers.running("webhook_sender");
    assert_eq!(
        api.send(TestRequest::get().uri("/readyz")).await.status,
        200
    );
    api.state
        .shutting_down
        .store(true, std::sync::atomic::Ordering::Relaxed);
    api.send(TestRequest::get().uri("/readyz"))
        .await
        .problem(503, "service_unavailable");
}

#[actix_web::test]
async fn the_openapi_document_and_the_docs_page_are_served() {
    let api = api().await;
    let doc = api.send(TestRequest::get().uri("/openapi.json")).await;
    assert_eq!(doc.status, 200);
    let doc = doc.body;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let codes = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap();
    assert!(
        codes.contains(&json!("idempotency_key_reused")),
        "{codes:?}"
    );
    // The answers given before a handler runs are on every operation they apply to.
    let create = &doc["paths"]["/v1/orders"]["post"]["responses"];
    for status in ["400", "401", "403", "413", "415", "429", "503"] {
        assert!(create[status].is_object(), "POST /v1/orders lacks {status}");
    }
    assert!(doc["paths"]["/healthz"]["get"]["responses"]["401"].is_null());

    // Every route of the README's API table is in the document, with its method.
    let readme = include_str!("../../../../README.md");
    let table = readme.split("## The API at a glance").nth(1).unwrap();
    let mut routes = 0;
    for row in table.lines().take_while(|l| !l.starts_with("##")) {
        let Some(cell) = row.strip_prefix("| `").and_then(|r| r.split('`').next()) else {
            continue;
        };
        let Some((method, path)) = cell.split_once(' ') else {
            continue;
        };
        let path = path.split('?').next().unwrap();
        let operation = &doc["paths"][path][method.to_ascii_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {path} is not in /openapi.json"
        );
        routes += 1;
    }
    assert!(routes >= 15, "only {routes} routes read from the README");

    let docs = api.send(TestRequest::get().uri("/docs")).await;
    assert!(
        matches!(docs.status, 200 | 301 | 302 | 303 | 308),
        "{docs:?}"
    );
    let page = api.send(TestRequest::get().uri("/docs/")).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("swagger"), "the embedded Swagger UI");
}

/// Webhooks out over the in-memory store: an endpoint made through the API receives the
/// events of orders made after it (its deliveries listed), and the feed lists them.
#[actix_web::test]
async fn endpoints_deliveries_and_the_feed_over_the_memory_store() {
    let api = api().await;
    let made = api
        .post(
            "/v1/webhook_endpoints",
            &json!({"url": "http://127.0.0.1:9/hooks", "enabled_events": ["order.created"]}),
        )
        .await;
    assert_eq!(made.status, 201, "{made:?}");
    assert!(made.body["secret"].as_str().unwrap().starts_with("whsec_"));
    let id = made.body["id"].as_str().unwrap();
    let order = api.order_id("+14155550100").await;
    let deliveries = api
        .get(&format!("/v1/webhook_endpoints/{id}/deliveries"))
        .await;
    assert_eq!(deliveries.status, 200);
    assert_eq!(deliveries.body["data"][0]["event_type"], "order.created");
    assert_eq!(deliveries.body["data"][0]["status"], "pending");
    let feed = api.get("/v1/events?type=order.created").await;
    assert_eq!(feed.body["data"][0]["data"]["object"]["id"], order.as_str());
}

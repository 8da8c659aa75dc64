//! Authorization as an attacker tries it: every operation the served document lists behind a
//! key, called with a key that has every scope but the one the operation needs, on every
//! spelling of its path; and the per-address limit on every spelling of a pay link. The walk
//! reads `/openapi.json`, so a route added later is covered without editing this file.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use orderpay::startup;
use orderpay_domain::api_key::Scope;

use crate::helpers::{TestApp, spawn_app_with};

/// A digest of every table a request could change (not `api_keys`, whose `last_used_at`
/// moves with every call), to show that a refused request changed nothing.
async fn database_digest(app: &TestApp) -> Vec<(String, String)> {
    let (client, connection) = tokio_postgres::connect(app.db.url(), tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL answers");
    tokio::spawn(connection);
    let tables = client
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE' \
               AND table_name NOT IN ('api_keys', '__diesel_schema_migrations') \
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    assert!(tables.len() >= 8, "the schema's tables: {}", tables.len());
    let mut digest = Vec::new();
    for row in tables {
        let table: String = row.get(0);
        let sql = format!(
            "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"
        );
        let hash: String = client.query_one(&sql, &[]).await.unwrap().get(0);
        digest.push((table, hash));
    }
    digest
}

/// Spellings of `path` that a router may decode to it: a letter percent-encoded (upper and
/// lower case hex), `%2F` for the last slash, a doubled slash, a trailing slash.
fn spellings(path: &str) -> Vec<String> {
    let mut out = vec![path.to_owned()];
    // The last letter of the last segment that is a word of the route, not an id.
    let segments: Vec<&str> = path.split('/').collect();
    let (index, word) = segments
        .iter()
        .enumerate()
        .rev()
        .find(|(_, s)| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(|(i, s)| (i, *s))
        .expect("a route has a literal segment");
    let at = word.rfind(|c: char| c.is_ascii_lowercase()).unwrap();
    for hex in [
        format!("%{:02x}", word.as_bytes()[at]),
        format!("%{:02X}", word.as_bytes()[at]),
    ] {
        let mut spelled = segments.clone();
        let encoded = format!("{}{hex}{}", &word[..at], &word[at + 1..]);
        spelled[index] = &encoded;
        out.push(spelled.join("/"));
    }
    // The first letter of `/v1` too.
    out.push(path.replacen("/v1/", "/%761/", 1));
    let last_slash = path.rfind('/').unwrap();
    for slash in ["%2F", "%2f", "//"] {
        out.push(format!(
            "{}{slash}{}",
            &path[..last_slash],
            &path[last_slash + 1..]
        ));
    }
    out.push(format!("{path}/"));
    out.sort();
    out.dedup();
    out
}

/// The body that would make the operation do its work, were it allowed.
fn body_for(method: &str, template: &str, customer: &str) -> Option<Value> {
    match (method, template) {
        ("post", "/v1/customers") => Some(json!({"phone": "+14155550177", "name": "Eve"})),
        ("patch", "/v1/customers/{id}") => Some(json!({"name": "Mallory"})),
        ("post", "/v1/orders") => Some(json!({"customer_id": customer, "currency": "usd",
            "items": [{"name": "Tea", "quantity": 1, "unit_amount": 500}]})),
        ("post", "/v1/orders/{id}/refunds") => Some(json!({"amount": 100})),
        ("post", "/v1/webhook_endpoints") => {
            Some(json!({"url": "https://hooks.example.com/forged", "enabled_events": ["*"]}))
        }
        ("patch", "/v1/webhook_endpoints/{id}") => {
            Some(json!({"url": "https://hooks.example.com/moved"}))
        }
        ("post" | "patch", _) => Some(json!({})),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_keyed_operation_refuses_a_key_without_its_scope_on_every_spelling() {
    let app = spawn_app_with(&[
        ("RECONCILE_INTERVAL_SECONDS", "0"),
        ("WEBHOOK_ALLOW_PRIVATE_URLS", "true"),
    ])
    .await;
    // Something for every id in a path: a customer, an order with its pay link, an event,
    // and (made after the order, so no delivery is pending) a webhook endpoint.
    let (order, _) = app.order_with_link("+14155550100", "Tea").await;
    let shown = app.order(&order).await;
    let customer = shown["customer_id"].as_str().unwrap().to_owned();
    let reference = shown["reference"].as_str().unwrap().to_owned();
    let events: Value = app.get("/v1/events").await.json().await.unwrap();
    let event = events["data"][0]["id"].as_str().unwrap().to_owned();
    let endpoint: Value = app
        .post(
            "/v1/webhook_endpoints",
            &json!({"url": "https://hooks.example.com/real", "enabled_events": ["order.paid"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let endpoint = endpoint["id"].as_str().unwrap().to_owned();

    let document: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = startup::api_keys(&app.store);
    let mut walked = 0;
    let before = database_digest(&app).await;
    for (template, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let security = &operation["security"];
            let Some(scopes) = security[0]["bearer"].as_array() else {
                assert!(
                    !template.starts_with("/v1"),
                    "{method} {template}: every operation under /v1 needs a key: {security}"
                );
                continue;
            };
            assert_eq!(
                scopes.len(),
                1,
                "{method} {template}: one scope per operation, named in the document: {security}"
            );
            let needed = Scope::parse(scopes[0].as_str().unwrap()).unwrap();
            let others: BTreeSet<Scope> = Scope::ALL.into_iter().filter(|s| *s != needed).collect();
            let key = keys
                .create_restricted("all-but-one", Some(others))
                .await
                .unwrap()
                .token;
            let path = template
                .replace(
                    "{id}",
                    if template.starts_with("/v1/customers") {
                        &customer
                    } else if template.starts_with("/v1/webhook_endpoints") {
                        &endpoint
                    } else if template.starts_with("/v1/events") {
                        &event
                    } else {
                        &order
                    },
                )
                .replace("{reference}", &reference)
                .replace("{delivery_id}", &uuid::Uuid::new_v4().to_string());
            for spelled in spellings(&path) {
                let mut request = app
                    .client
                    .request(method.to_uppercase().parse().unwrap(), app.url(&spelled))
                    .bearer_auth(&key);
                if let Some(body) = body_for(method, template, &customer) {
                    request = request.json(&body);
                }
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                let decodes_to_it =
                    !spelled.contains("%2") && !spelled.contains("//") && !spelled.ends_with('/');
                if decodes_to_it {
                    assert_eq!(
                        (
                            status,
                            body["code"].as_str(),
                            body["required_scope"].as_str()
                        ),
                        (403, Some("insufficient_scope"), Some(needed.as_str())),
                        "{method} {spelled} with every scope but {needed}"
                    );
                } else {
                    // A path the router reads as another route, or none: that route's own
                    // answer (its scope is another, or it is no route), never this operation.
                    assert!(
                        (403..=405).contains(&status),
                        "{method} {spelled}: {status} {body}"
                    );
                }
                walked += 1;
            }
        }
    }
    assert!(walked > 100, "only {walked} requests walked");
    assert_eq!(
        database_digest(&app).await,
        before,
        "a refused request changed the database"
    );
    assert_eq!(app.order(&order).await["status"], "pending_payment");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_spelling_of_a_pay_link_counts_against_the_same_address_limit() {
    // 1 a second, 2 at once.
    let app = spawn_app_with(&[("RATE_LIMIT_PER_ADDRESS", "1")]).await;
    let (_, link) = app.order_with_link("+14155550100", "Tea").await;
    let url = link["url"].as_str().unwrap();
    let path = url::Url::parse(url).unwrap().path().to_owned();
    let token = path.strip_prefix("/pay/").unwrap();
    let client = crate::helpers::no_redirects();
    let status = |path: String| {
        let client = client.clone();
        let url = app.url(&path);
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(format!("/pa%79/{token}")).await, 200);
    assert_eq!(status(format!("/p%61y/{token}")).await, 200);
    // The bucket is empty whatever the spelling.
    for spelled in [
        format!("/pay/{token}"),
        format!("/pa%79/{token}"),
        format!("/%70ay/{token}"),
    ] {
        assert_eq!(status(spelled.clone()).await, 429, "{spelled}");
    }
}

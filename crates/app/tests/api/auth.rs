use orderpay::startup;

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_needs_a_live_bearer_key() {
    let app = spawn_app().await;
    let url = app.url("/v1/customers");

    let missing = app.client.get(&url).send().await.unwrap();
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    assert_problem(missing, 401, "unauthorized").await;

    let wrong_scheme = app
        .client
        .get(&url)
        .header("authorization", format!("Basic {}", app.api_key))
        .send()
        .await
        .unwrap();
    assert_problem(wrong_scheme, 401, "unauthorized").await;

    let mut forged = app.api_key.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'a' { 'b' } else { 'a' });
    for bad in ["", "opk_nonsense", forged.as_str()] {
        let response = app.client.get(&url).bearer_auth(bad).send().await.unwrap();
        assert_problem(response, 401, "unauthorized").await;
    }

    let ok = app
        .client
        .get(&url)
        .bearer_auth(&app.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_refused_from_then_on() {
    let app = spawn_app().await;
    let keys = startup::api_keys(&app.store);
    let created = keys.create("short-lived").await.unwrap();
    let url = app.url("/v1/orders");
    let before = app
        .client
        .get(&url)
        .bearer_auth(&created.token)
        .send()
        .await
        .unwrap();
    assert_eq!(before.status(), 200);

    keys.revoke(created.key.id).await.unwrap();
    let after = app
        .client
        .get(&url)
        .bearer_auth(&created.token)
        .send()
        .await
        .unwrap();
    assert_problem(after, 401, "unauthorized").await;
    // Other keys are untouched.
    assert_eq!(app.get("/v1/orders").await.status(), 200);
}

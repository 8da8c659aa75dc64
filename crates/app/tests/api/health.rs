//! Health against a real database: readiness follows PostgreSQL.

use orderpay_postgres::ConnectOptions;
use orderpay_postgres::database::drop_database;

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_without_a_key() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_200_while_the_database_answers_and_503_after() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200);

    drop_database(&ConnectOptions::parse(app.db.url()).unwrap())
        .await
        .unwrap();
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_problem(response, 503, "service_unavailable").await;
    // API calls say the same, with a hint to retry, rather than a bare 500.
    let response = app.get("/v1/orders").await;
    assert_eq!(response.headers()["retry-after"], "1");
    assert_problem(response, 503, "service_unavailable").await;
}

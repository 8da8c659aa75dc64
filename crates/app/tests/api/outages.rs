//! The database going away under load: only 2xx and 503 (with `Retry-After`), deadlines that
//! hold when the server stops answering, and recovery without a restart.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// Ends every backend connected to the app's database except the caller's own, as
/// `pg_terminate_backend` does when an operator (or a failover) cuts connections.
async fn terminate_backends(app: &TestApp) -> usize {
    let (client, connection) = tokio_postgres::connect(app.db.url(), tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL answers");
    tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    rows.len()
}

async fn create_order(app: &TestApp, customer_id: &str) -> (u16, Option<String>, Value) {
    let response = app
        .post(
            "/v1/orders",
            &json!({"customer_id": customer_id, "currency": "usd",
                    "items": [{"name": "Tea", "quantity": 1, "unit_amount": 450}]}),
        )
        .await;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

/// `path`'s answer once the service answers it with 200: it recovers by itself from
/// terminated backends, within a deadline (a pooled connection that died is found broken on
/// its next use, and answers 503 once).
async fn recovered(app: &crate::helpers::TestApp, path: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let response = app.get(path).await;
        let status = response.status().as_u16();
        match status {
            200 => return response.json().await.unwrap(),
            503 if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            _ => panic!("{path}: {status} {:?}", response.text().await),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_backends_mid_burst_give_only_201_and_503_and_lose_no_order() {
    let app = spawn_app().await;
    let customer = app.create_customer("+14155550100", "Ada").await;
    let customer_id = customer["id"].as_str().unwrap().to_owned();

    let mut created = Vec::new();
    let mut unavailable = 0;
    let mut terminated = 0;
    for _wave in 0..8 {
        let burst = join_all((0..16).map(|_| create_order(&app, &customer_id)));
        let (answers, killed) = tokio::join!(burst, async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            terminate_backends(&app).await
        });
        terminated += killed;
        for (status, retry_after, body) in answers {
            match status {
                201 => created.push(body["id"].as_str().unwrap().to_owned()),
                503 => {
                    unavailable += 1;
                    assert!(retry_after.is_some(), "503 without Retry-After");
                    assert_eq!(body["code"], "service_unavailable");
                }
                other => panic!("answered {other}: {body}"),
            }
        }
    }
    assert!(
        terminated > 0,
        "no backend was terminated: the test proved nothing"
    );
    assert!(!created.is_empty());
    eprintln!(
        "{} created, {unavailable} answered 503, {terminated} backends terminated",
        created.len()
    );

    // The service recovers by itself, and every order it confirmed is there.
    let mut listed = HashSet::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(id) => format!("/v1/orders?limit=100&starting_after={id}"),
            None => "/v1/orders?limit=100".to_string(),
        };
        let page = recovered(&app, &path).await;
        let data = page["data"].as_array().unwrap();
        listed.extend(data.iter().map(|o| o["id"].as_str().unwrap().to_owned()));
        if page["has_more"] != true {
            break;
        }
        after = data.last().map(|o| o["id"].as_str().unwrap().to_owned());
    }
    for id in &created {
        assert!(
            listed.contains(id),
            "order {id} was confirmed with 201 but is gone"
        );
    }
}

/// A TCP proxy to the test PostgreSQL that can freeze: while frozen it accepts connections
/// and reads what clients send, but forwards nothing either way, as a server that hangs (or
/// a network that drops packets) looks to a client.
struct FreezableProxy {
    port: u16,
    frozen: Arc<AtomicBool>,
}

impl FreezableProxy {
    async fn start(upstream_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let frozen = Arc::new(AtomicBool::new(false));
        let flag = frozen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(client_read, server_write, flag.clone()));
                tokio::spawn(pump(server_read, client_write, flag.clone()));
            }
        });
        Self { port, frozen }
    }

    fn freeze(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::SeqCst);
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// The test server's URL with its port replaced by `port`.
fn via_port(url: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let (user, host_port) = match authority.rsplit_once('@') {
        Some((user, hp)) => (format!("{user}@"), hp),
        None => (String::new(), authority),
    };
    let host = host_port.rsplit_once(':').map_or(host_port, |(h, _)| h);
    format!("{scheme}://{user}{host}:{port}/{path}")
}

fn port_of(url: &str) -> u16 {
    let authority = url.split("://").nth(1).unwrap().split('/').next().unwrap();
    authority
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(5432)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_stops_answering_gives_503_within_the_deadline_then_recovers() {
    // A database prepared directly, then served to the app through the proxy.
    let db = orderpay_postgres::testing::TestDatabase::new().await;
    let proxy = FreezableProxy::start(port_of(db.url())).await;
    let proxied = via_port(db.url(), proxy.port);
    let app = spawn_app_with(&[
        ("DATABASE_URL", proxied.as_str()),
        ("DATABASE_STATEMENT_TIMEOUT_MS", "1000"),
        ("DATABASE_QUERY_TIMEOUT_MS", "1500"),
        ("DATABASE_ACQUIRE_TIMEOUT_MS", "1000"),
        ("DATABASE_CONNECT_TIMEOUT_MS", "1000"),
    ])
    .await;
    let customer = app.create_customer("+14155550100", "Ada").await;
    let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());
    assert_eq!(app.get(&path).await.status(), 200);

    proxy.freeze(true);
    // The client gives up long after the service's deadline: a hang fails here, and the
    // answer must be a 503, not a client-side timeout.
    let patient = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let answers =
        join_all((0..12).map(|_| patient.get(app.url(&path)).bearer_auth(&app.api_key).send()))
            .await;
    for answer in answers {
        let answer = answer.expect("the service answered before the client gave up");
        assert_eq!(answer.status(), 503);
        assert!(answer.headers().contains_key("retry-after"));
    }
    let ready = patient.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);

    proxy.freeze(false);
    let mut recovered = false;
    for _ in 0..50 {
        if app.get(&path).await.status() == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "the service did not recover once the database answered again"
    );
    assert_eq!(
        patient
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

//! Webhooks out, end to end against PostgreSQL: a merchant's receiver (a local fake) gets
//! each event its endpoint subscribes to, signed by the Standard Webhooks scheme (checked by
//! that scheme's reference library, PyPI `standardwebhooks`), retried on failures with the
//! same `webhook-id`, in order per order, never to a disabled endpoint, signed by both
//! secrets while a rotation overlaps.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{TestApp, assert_problem, spawn_app_with};
use crate::payments::{new_order, pay};

/// Retries 200 ms apart and a 1 s timeout, so a test sees a whole schedule.
const FAST: [(&str, &str); 2] = [
    ("WEBHOOK_RETRY_SCHEDULE", "200ms,200ms,200ms"),
    ("WEBHOOK_TIMEOUT_SECONDS", "1"),
];

/// A bot's receiver: answers by a script of (status, delay), then 200 for good.
struct Script(Mutex<VecDeque<(u16, Duration)>>);

impl Respond for Script {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let (status, delay) = self
            .0
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or((200, Duration::ZERO));
        ResponseTemplate::new(status).set_delay(delay)
    }
}

pub(crate) async fn receiver(script: &[(u16, Duration)]) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(Script(Mutex::new(script.iter().copied().collect())))
        .mount(&server)
        .await;
    server
}

/// Subscribes `url` to `events`: the endpoint as created (with its secret).
async fn subscribe(app: &TestApp, url: &str, events: Value) -> Value {
    let response = app
        .post(
            "/v1/webhook_endpoints",
            &json!({"url": url, "enabled_events": events}),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// The requests `server` received once there are at least `n`, waiting up to 10 s.
pub(crate) async fn received(server: &MockServer, n: usize) -> Vec<Request> {
    for _ in 0..200 {
        let got = server.received_requests().await.unwrap();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = server.received_requests().await.unwrap();
    panic!("{} deliveries received, {n} expected", got.len());
}

/// The newest delivery listed at `path` once `ready` holds for it, waiting up to 10 s; the
/// list as last seen otherwise (the caller's assertions then say what is wrong).
async fn newest_delivery_when(app: &TestApp, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let mut listed = Value::Null;
    for _ in 0..200 {
        listed = app.get(path).await.json().await.unwrap();
        if ready(&listed["data"][0]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    listed
}

pub(crate) fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

pub(crate) fn header(request: &Request, name: &str) -> String {
    request.headers[name].to_str().unwrap().to_owned()
}

/// Verifies each (secret, delivery) with the Standard Webhooks reference library: `true`
/// where it verifies. Fails loudly when Python or the library is missing.
fn verified_by_reference_library(cases: &[(&str, &Request)]) -> Vec<bool> {
    const SCRIPT: &str = r#"
import base64, json, sys
from standardwebhooks import Webhook
for case in json.load(sys.stdin):
    try:
        Webhook(case["secret"]).verify(base64.b64decode(case["body"]), case["headers"])
        print("ok")
    except Exception as e:
        print("refused", e)
"#;
    let input: Vec<Value> = cases
        .iter()
        .map(|(secret, request)| {
            json!({
                "secret": secret,
                "body": base64::engine::general_purpose::STANDARD.encode(&request.body),
                "headers": {
                    "webhook-id": header(request, "webhook-id"),
                    "webhook-timestamp": header(request, "webhook-timestamp"),
                    "webhook-signature": header(request, "webhook-signature"),
                },
            })
        })
        .collect();
    let mut child = std::process::Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed to run the Standard Webhooks reference library");
    serde_json::to_writer(child.stdin.take().unwrap(), &input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Standard Webhooks library failed (pip install standardwebhooks; .ci/run does): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| line == "ok")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_order_reaches_the_bot_signed_as_standard_webhooks_verify_it() {
    let app = spawn_app_with(&FAST).await;
    let bot = receiver(&[]).await;
    let endpoint = subscribe(
        &app,
        &format!("{}/orderpay", bot.uri()),
        json!(["order.paid"]),
    )
    .await;
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{endpoint}");
    assert_eq!(endpoint["object"], "webhook_endpoint");
    assert_eq!(endpoint["status"], "enabled");
    let shown = app
        .get(&format!(
            "/v1/webhook_endpoints/{}",
            endpoint["id"].as_str().unwrap()
        ))
        .await;
    let shown: Value = shown.json().await.unwrap();
    assert!(
        shown.get("secret").is_none(),
        "the secret is shown once: {shown}"
    );

    let order = new_order(&app).await;
    let id = order["id"].as_str().unwrap();
    pay(&app, id).await;

    let deliveries = received(&bot, 1).await;
    assert_eq!(deliveries.len(), 1, "only order.paid is subscribed");
    let paid = &deliveries[0];
    let event = body(paid);
    assert_eq!(event["type"], "order.paid");
    assert_eq!(event["object"], "event");
    assert_eq!(event["data"]["object"]["id"], id);
    assert_eq!(
        event["data"]["object"]["status"], "paid",
        "the order as it was paid"
    );
    assert_eq!(event["data"]["object"]["payment"]["status"], "succeeded");
    assert_eq!(header(paid, "webhook-id"), event["id"].as_str().unwrap());
    // The feed shows the same event, and so does its own URL.
    let feed: Value = app
        .get("/v1/events?type=order.paid")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(feed["data"][0], event);
    let one: Value = app
        .get(&format!("/v1/events/{}", event["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one, event);

    let other = subscribe(&app, &bot.uri(), json!(["*"])).await;
    let verdicts = verified_by_reference_library(&[
        (&secret, paid),
        (other["secret"].as_str().unwrap(), paid),
    ]);
    assert_eq!(
        verdicts,
        [true, false],
        "the right secret verifies; another does not"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_a_timeout_and_a_refused_connection_are_retried_with_the_same_webhook_id() {
    // Retries spaced so that the refused endpoint is still being retried when it listens.
    let app = spawn_app_with(&[
        ("WEBHOOK_RETRY_SCHEDULE", "200ms,200ms,1s,1s,1s,1s"),
        ("WEBHOOK_TIMEOUT_SECONDS", "1"),
    ])
    .await;
    // 503, then an answer slower than the 1 s timeout, then 200.
    let bot = receiver(&[(503, Duration::ZERO), (200, Duration::from_secs(3))]).await;
    subscribe(&app, &bot.uri(), json!(["order.created"])).await;
    // An endpoint nobody listens on yet: its first attempts are refused.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let late = subscribe(
        &app,
        &format!("http://127.0.0.1:{port}/hooks"),
        json!(["order.created"]),
    )
    .await;

    let order = new_order(&app).await;
    let attempts = received(&bot, 3).await;
    let ids: Vec<String> = attempts.iter().map(|r| header(r, "webhook-id")).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    assert_eq!(body(&attempts[2])["data"]["object"]["id"], order["id"]);

    // The refused endpoint: its deliveries show why, and it gets the event once it listens.
    let deliveries = format!(
        "/v1/webhook_endpoints/{}/deliveries",
        late["id"].as_str().unwrap()
    );
    let seen = newest_delivery_when(&app, &deliveries, |d| d["attempts"].as_u64() >= Some(1)).await;
    let first = &seen["data"][0];
    assert!(
        first["error"].as_str().unwrap_or("").contains("connect"),
        "{seen}"
    );
    assert_eq!(first["response_status"], Value::Null);
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let latecomer = MockServer::builder().listener(listener).start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&latecomer)
        .await;
    let arrived = received(&latecomer, 1).await;
    assert_eq!(header(&arrived[0], "webhook-id"), ids[0], "the same event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orders_events_reach_an_endpoint_in_the_order_they_happened() {
    let app = spawn_app_with(&FAST).await;
    // The first delivery fails twice: the later events wait behind it.
    let bot = receiver(&[(500, Duration::ZERO), (500, Duration::ZERO)]).await;
    subscribe(&app, &bot.uri(), json!(["*"])).await;
    let order = new_order(&app).await;
    pay(&app, order["id"].as_str().unwrap()).await;

    let history: Vec<String> = app.event_types(order["id"].as_str().unwrap()).await;
    let all = received(&bot, history.len() + 2).await;
    let mut delivered: Vec<String> = Vec::new();
    for request in &all {
        let id = header(request, "webhook-id");
        if !delivered.contains(&id) {
            delivered.push(id);
        }
    }
    let types: Vec<String> = delivered
        .iter()
        .map(|id| {
            let first = all.iter().find(|r| header(r, "webhook-id") == *id).unwrap();
            body(first)["type"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(types, history, "first attempts in the order of the history");
    assert_eq!(body(&all[0])["type"], "order.created");
    assert_eq!(
        body(&all[1])["type"],
        "order.created",
        "retried before anything else"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_endpoint_receives_nothing() {
    let app = spawn_app_with(&FAST).await;
    let quiet = receiver(&[]).await;
    let control = receiver(&[]).await;
    let off = subscribe(&app, &quiet.uri(), json!(["*"])).await;
    let patched = app
        .patch(
            &format!("/v1/webhook_endpoints/{}", off["id"].as_str().unwrap()),
            &json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    subscribe(&app, &control.uri(), json!(["*"])).await;
    new_order(&app).await;
    received(&control, 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(quiet.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_a_rotation_overlaps_both_secrets_verify() {
    let app = spawn_app_with(&FAST).await;
    let bot = receiver(&[]).await;
    let endpoint = subscribe(&app, &bot.uri(), json!(["order.created"])).await;
    let old = endpoint["secret"].as_str().unwrap().to_owned();
    let rotated = app
        .post(
            &format!(
                "/v1/webhook_endpoints/{}/rotate_secret",
                endpoint["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(rotated.status(), 200);
    let new = rotated.json::<Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(old, new);
    new_order(&app).await;
    let delivery = &received(&bot, 1).await[0];
    assert_eq!(header(delivery, "webhook-signature").split(' ').count(), 2);
    assert_eq!(
        verified_by_reference_library(&[(&old, delivery), (&new, delivery)]),
        [true, true]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_production_an_endpoint_must_be_https_to_a_public_host() {
    let app = spawn_app_with(&[("WEBHOOK_ALLOW_PRIVATE_URLS", "false")]).await;
    for url in [
        "http://bot.example.com/hooks",
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/hooks",
    ] {
        let response = app
            .post(
                "/v1/webhook_endpoints",
                &json!({"url": url, "enabled_events": ["*"]}),
            )
            .await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "url", "{url}");
    }
    let list: Value = app.get("/v1/webhook_endpoints").await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "nothing stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_is_listed_with_its_answer_and_a_retry_sends_it_again_now() {
    let app = spawn_app_with(&FAST).await;
    // Four answers of 500: the first attempt and the schedule's three retries.
    let bot = receiver(&[(500, Duration::ZERO); 4]).await;
    let endpoint = subscribe(&app, &bot.uri(), json!(["order.created"])).await;
    let deliveries = format!(
        "/v1/webhook_endpoints/{}/deliveries",
        endpoint["id"].as_str().unwrap()
    );
    new_order(&app).await;
    received(&bot, 4).await;
    let listed = newest_delivery_when(&app, &deliveries, |d| d["status"] == "failed").await;
    let failed = &listed["data"][0];
    assert_eq!(failed["status"], "failed", "{listed}");
    assert_eq!(failed["attempts"], 4);
    assert_eq!(failed["response_status"], 500);
    assert_eq!(failed["next_attempt_at"], Value::Null);
    assert_eq!(failed["event_type"], "order.created");

    let retried = app
        .post(
            &format!("{deliveries}/{}/retry", failed["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(retried.status(), 200);
    let again = received(&bot, 5).await;
    assert_eq!(
        header(&again[4], "webhook-id"),
        failed["event_id"].as_str().unwrap()
    );
    let listed = newest_delivery_when(&app, &deliveries, |d| d["status"] == "succeeded").await;
    assert_eq!(listed["data"][0]["status"], "succeeded", "{listed}");
    assert_eq!(listed["data"][0]["attempts"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_shows_the_order_as_that_change_left_it() {
    let app = spawn_app_with(&FAST).await;
    let order = new_order(&app).await;
    let id = order["id"].as_str().unwrap();
    pay(&app, id).await;
    let paid: Value = app
        .get(&format!("/v1/orders/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let refunded = app
        .post(&format!("/v1/orders/{id}/refunds"), &json!({"amount": 300}))
        .await;
    assert_eq!(refunded.status(), 200);
    let now: Value = app
        .get(&format!("/v1/orders/{id}"))
        .await
        .json()
        .await
        .unwrap();

    let feed: Value = app.get("/v1/events?limit=100").await.json().await.unwrap();
    let shown = |kind: &str| -> Value {
        feed["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {feed}"))["data"]["object"]
            .clone()
    };
    // As created: what POST /v1/orders answered, with no payment yet.
    let mut created = shown("order.created");
    assert_eq!(created["payment"], Value::Null);
    created.as_object_mut().unwrap().remove("payment");
    assert_eq!(created, order);
    assert_eq!(
        shown("order.paid"),
        paid,
        "order.paid shows the order as paid"
    );
    assert_eq!(
        shown("order.partially_refunded"),
        now,
        "the latest is the order now"
    );
    let types: Vec<&str> = feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    let mut history: Vec<String> = app.event_types(id).await;
    history.reverse();
    assert_eq!(types, history, "the feed is the history, newest first");
}

/// PATCHes racing secret rotations: every rotation is kept (the stored version counts them
/// all) and each hands out a secret of its own; no PATCH writes an old version back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patches_racing_rotations_lose_no_rotation() {
    let app = spawn_app_with(&[]).await;
    let endpoint = subscribe(&app, "https://hooks.example.com/race", json!(["*"])).await;
    let id = endpoint["id"].as_str().unwrap().to_owned();
    const ROUNDS: usize = 8;
    let rotate = |_| {
        let path = format!("/v1/webhook_endpoints/{id}/rotate_secret");
        let app = &app;
        async move {
            let response = app.post(&path, &json!({})).await;
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()["secret"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let patch = |i: usize| {
        let path = format!("/v1/webhook_endpoints/{id}");
        let app = &app;
        async move {
            let body = json!({"description": format!("patch {i}")});
            assert_eq!(app.patch(&path, &body).await.status(), 200);
        }
    };
    let (secrets, _) = futures_util::future::join(
        futures_util::future::join_all((0..ROUNDS).map(rotate)),
        futures_util::future::join_all((0..ROUNDS).map(patch)),
    )
    .await;
    let distinct: std::collections::BTreeSet<&String> = secrets.iter().collect();
    assert_eq!(distinct.len(), ROUNDS, "each rotation its own secret");
    let (client, connection) = tokio_postgres::connect(app.db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let version: i32 = client
        .query_one(
            "SELECT secret_version FROM webhook_endpoints WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(version as usize, 1 + ROUNDS, "every rotation kept");
}

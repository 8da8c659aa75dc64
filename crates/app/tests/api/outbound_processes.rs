//! Webhooks out across real `orderpay serve` processes sharing one database: a `kill -9`
//! in the middle of a delivery, then a restart; and three processes sending the deliveries
//! of 50 paid orders, each exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use orderpay_postgres::testing::TestDatabase;

use crate::helpers::process::{KillOnDrop, Remote, api_key, serve_with, stop};
use crate::outbound::{body, header, received, receiver};

fn stripe_env(stripe_uri: &str) -> Vec<(&'static str, String)> {
    vec![
        ("STRIPE_SECRET_KEY", "sk_test_orderpay".into()),
        (
            "STRIPE_WEBHOOK_SECRET",
            crate::stripe::WEBHOOK_SECRET.into(),
        ),
        ("STRIPE_API_BASE", stripe_uri.into()),
        ("WEBHOOK_TIMEOUT_SECONDS", "2".into()),
        ("WEBHOOK_RETRY_SCHEDULE", "500ms,500ms,1s,1s,2s".into()),
    ]
}

fn serve(db: &TestDatabase, env: &[(&'static str, String)]) -> (KillOnDrop, String) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (child, port, _) = serve_with(db.url(), &env);
    (KillOnDrop(Some(child)), format!("http://127.0.0.1:{port}"))
}

/// A paid order (through a signed Stripe event), created through `base`: its id.
async fn paid_order(remote: &Remote, base: &str, phone: &str) -> String {
    let (id, payment) = remote.order_with_payment(base, phone).await;
    let event = crate::stripe::session_event(
        &format!("evt_paid_{id}"),
        "checkout.session.completed",
        &id,
        &payment,
        json!({}),
    );
    assert_eq!(crate::stripe::deliver(base, &event).await.status(), 200);
    id
}

/// What both tests start from: a database, a fake Stripe, the processes' settings, and a
/// client with a key.
async fn cluster() -> (
    TestDatabase,
    wiremock::MockServer,
    Vec<(&'static str, String)>,
    Remote,
) {
    crate::helpers::init_once();
    let db = TestDatabase::new().await;
    let stripe = crate::stripe::fake_stripe().await;
    let env = stripe_env(&stripe.uri());
    let remote = Remote::new(api_key(db.url()));
    (db, stripe, env, remote)
}

async fn subscribe(remote: &Remote, base: &str, url: &str) {
    remote
        .post(
            &format!("{base}/v1/webhook_endpoints"),
            &json!({"url": url, "enabled_events": ["order.paid"]}),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_in_the_middle_of_a_delivery_delays_it_and_a_restart_delivers_it() {
    let (db, _stripe, env, remote) = cluster().await;
    // The first delivery is answered only after 10 s: the process dies before that.
    let bot = receiver(&[(200, Duration::from_secs(10))]).await;
    let (mut first, base) = serve(&db, &env);
    subscribe(&remote, &base, &bot.uri()).await;
    let id = paid_order(&remote, &base, "+14155550180").await;
    let in_flight = received(&bot, 1).await;
    first.0.take().unwrap().kill().unwrap(); // SIGKILL: no shutdown, the claim left held
    let (mut second, _) = serve(&db, &env);
    let attempts = received(&bot, 2).await;
    assert_eq!(
        header(&attempts[1], "webhook-id"),
        header(&in_flight[0], "webhook-id")
    );
    assert_eq!(body(&attempts[1])["data"]["object"]["id"], id.as_str());
    assert!(stop(second.0.take().unwrap()).success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_deliver_each_of_fifty_payments_exactly_once() {
    let (db, _stripe, env, remote) = cluster().await;
    let bot = receiver(&[]).await;
    let mut servers: Vec<(KillOnDrop, String)> = (0..3).map(|_| serve(&db, &env)).collect();
    subscribe(&remote, &servers[0].1, &bot.uri()).await;

    let bases: Vec<String> = servers.iter().map(|(_, b)| b.clone()).collect();
    let payments = (0..50).map(|i| {
        let (remote, base) = (&remote, &bases[i % 3]);
        async move { paid_order(remote, base, &format!("+1415555{:04}", 2000 + i)).await }
    });
    let orders = futures_util::future::join_all(payments).await;
    received(&bot, 50).await;
    // Time for a duplicate to show, if any process were to send one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let deliveries = bot.received_requests().await.unwrap();
    let mut per_order = BTreeMap::<String, usize>::new();
    for d in &deliveries {
        let event = body(d);
        assert_eq!(event["type"], "order.paid");
        *per_order
            .entry(event["data"]["object"]["id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(deliveries.len(), 50, "{per_order:?}");
    assert!(orders.iter().all(|o| per_order.get(o) == Some(&1)));
    for (server, _) in &mut servers {
        assert!(stop(server.0.take().unwrap()).success());
    }
}

/// A large deployment scales the API and the workers apart: replicas with `RUN_WORKERS=false`
/// serve the API, and `orderpay work` runs the workers (the webhook sender among them), with
/// only `/healthz` and `/readyz` on its port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_only_replica_and_a_worker_process_deliver_together() {
    crate::helpers::init_once();
    let db = TestDatabase::new().await;
    let key = api_key(db.url());
    let bot = receiver(&[]).await;
    let (_api, api) = serve(&db, &[("RUN_WORKERS", "false".into())]);
    let remote = Remote::new(key);
    remote
        .post(
            &format!("{api}/v1/webhook_endpoints"),
            &json!({"url": bot.uri(), "enabled_events": ["order.created"]}),
        )
        .await;
    let order = remote
        .post(
            &format!("{api}/v1/orders"),
            &json!({"customer": {"phone": "+14155550100", "name": "Ada"}, "currency": "usd",
                    "items": [{"name": "Tea", "quantity": 1, "unit_amount": 450}]}),
        )
        .await;

    let (worker, port, _) = crate::helpers::process::start("work", db.url(), &[]);
    let mut worker = KillOnDrop(Some(worker));
    let delivered = received(&bot, 1).await;
    assert_eq!(body(&delivered[0])["data"]["object"]["id"], order["id"]);
    let client = reqwest::Client::new();
    let at = |path: &str| client.get(format!("http://127.0.0.1:{port}{path}")).send();
    assert_eq!(at("/readyz").await.unwrap().status(), 200);
    assert_eq!(at("/healthz").await.unwrap().status(), 200);
    assert_eq!(
        at("/v1/orders").await.unwrap().status(),
        404,
        "a worker process serves no API"
    );
    let worker = worker.0.take().unwrap();
    assert!(stop(worker).success(), "SIGTERM stops the workers cleanly");
}

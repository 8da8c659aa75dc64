//! Load for `bench/webhooks.sh`: signed Stripe events against a running orderpay.
//!
//! Creates `ORDERS` orders with pay links (their payments), then delivers one signed
//! `checkout.session.completed` per payment (distinct events, each paying an order), then a
//! storm of `STORM` deliveries of one event (duplicates). Prints events/s and latencies.
//!
//!   BASE=http://127.0.0.1:18081 API_KEY=... WEBHOOK_SECRET=whsec_bench \
//!     cargo run --release --example webhook_load

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream;
use serde_json::{Value, json};

/// The JSON body of the answer to `request`.
async fn answer(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// Runs `jobs` with `concurrency` in flight; returns each one's latency and the wall time.
async fn run<F, Fut>(jobs: Vec<F>, concurrency: usize) -> (Vec<Duration>, Duration)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let started = Instant::now();
    let latencies: Vec<Duration> = stream::iter(jobs)
        .map(|job| async move {
            let t = Instant::now();
            job().await;
            t.elapsed()
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    (latencies, started.elapsed())
}

fn report(name: &str, mut latencies: Vec<Duration>, wall: Duration) {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    println!(
        "{name}: {} deliveries in {:.2} s = {:.0}/s; p50 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        wall.as_secs_f64(),
        latencies.len() as f64 / wall.as_secs_f64(),
        at(0.5).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0
    );
}

fn completed(event_id: &str, order: &str, payment: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": event_id, "object": "event", "type": "checkout.session.completed",
        "created": chrono::Utc::now().timestamp(),
        "data": {"object": {
            "id": format!("cs_bench_{payment}"), "object": "checkout.session",
            "metadata": {"order_id": order, "payment_id": payment},
            "payment_status": "paid", "amount_total": 900, "currency": "usd",
            "payment_intent": format!("pi_bench_{payment}")
        }}
    }))
    .unwrap()
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let base = env("BASE", "http://127.0.0.1:18081");
    let key = env("API_KEY", "");
    let secret = env("WEBHOOK_SECRET", "whsec_bench");
    let orders: usize = env("ORDERS", "5000").parse().unwrap();
    let storm: usize = env("STORM", "5000").parse().unwrap();
    let concurrency: usize = env("CONCURRENCY", "32").parse().unwrap();
    let client = reqwest::Client::new();

    let customer = answer(
        client
            .post(format!("{base}/v1/customers"))
            .bearer_auth(&key)
            .json(&json!({"phone": "+14155550199", "name": "Bench"})),
    )
    .await;
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    eprintln!("creating {orders} orders with pay links...");
    let setup: Vec<_> = (0..orders)
        .map(|_| {
            let (client, base, key, customer_id) = (
                client.clone(),
                base.clone(),
                key.clone(),
                customer_id.clone(),
            );
            async move {
                let order = answer(
                    client
                        .post(format!("{base}/v1/orders"))
                        .bearer_auth(&key)
                        .json(&json!({"customer_id": customer_id, "currency": "usd",
                                  "items": [{"name": "Tea", "quantity": 2, "unit_amount": 450}]})),
                )
                .await;
                let id = order["id"].as_str().unwrap().to_owned();
                let link = answer(
                    client
                        .post(format!("{base}/v1/orders/{id}/payment-link"))
                        .bearer_auth(&key),
                )
                .await;
                (id, link["payment_id"].as_str().unwrap().to_owned())
            }
        })
        .collect();
    let pairs: Vec<(String, String)> = stream::iter(setup)
        .buffer_unordered(concurrency)
        .collect()
        .await;

    let deliver = |body: Vec<u8>| {
        let client = client.clone();
        let url = format!("{base}/webhooks/stripe");
        let header =
            orderpay_stripe::signature_header(&secret, &body, chrono::Utc::now().timestamp());
        move || async move {
            let response = client
                .post(url)
                .header("stripe-signature", header)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{:?}", response.text().await);
        }
    };
    let distinct: Vec<_> = pairs
        .iter()
        .enumerate()
        .map(|(i, (order, payment))| deliver(completed(&format!("evt_bench_{i}"), order, payment)))
        .collect();
    let (latencies, wall) = run(distinct, concurrency).await;
    report("distinct events (each pays an order)", latencies, wall);

    let (order, payment) = &pairs[0];
    let repeated = completed("evt_bench_0", order, payment);
    let duplicates: Vec<_> = (0..storm).map(|_| deliver(repeated.clone())).collect();
    let (latencies, wall) = run(duplicates, concurrency).await;
    report(
        "duplicate storm (one event, again and again)",
        latencies,
        wall,
    );
}

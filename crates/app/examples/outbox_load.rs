//! Load for `bench/outbox.sh`: webhooks out from a running orderpay to a receiver in this
//! process, on one clock.
//!
//! Subscribes an endpoint to `order.created` (one delivery per order) pointing at a receiver
//! started here, then:
//!   1. flood: creates `ORDERS` orders as fast as `CONCURRENCY` clients can, and reports
//!      deliveries per second (first to last receipt) once every order's event arrived;
//!   2. paced: creates orders at `RATE` per second for `SECONDS`, and reports p50/p99 from
//!      each order's 201 (its commit happened before) to its event's receipt.
//!
//!   BASE=http://127.0.0.1:18084 API_KEY=... ORDERS=20000 RATE=500 \
//!     cargo run --release --example outbox_load
//!
//! With `RECEIVE_FOR_SECONDS=n` it only subscribes to every event type and receives for `n`
//! seconds: a healthy merchant while another tool loads the API.
//!
//! With `HANGING=1` a second endpoint is subscribed beside the healthy one: a listener here
//! that accepts connections and never answers. The figures are the healthy one's; events that
//! have not arrived a minute after the last order are counted as missing, not waited for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use futures_util::StreamExt;
use futures_util::stream;
use serde_json::{Value, json};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// When each order's event first arrived.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn receive(arrivals: web::Data<Arrivals>, body: web::Bytes) -> HttpResponse {
    let now = Instant::now();
    if let Ok(event) = serde_json::from_slice::<Value>(&body)
        && let Some(order) = event["data"]["object"]["id"].as_str()
    {
        arrivals
            .lock()
            .unwrap()
            .entry(order.to_owned())
            .or_insert(now);
    }
    HttpResponse::NoContent().finish()
}

async fn create(client: &reqwest::Client, base: &str, key: &str, customer: &str) -> String {
    let response = client
        .post(format!("{base}/v1/orders"))
        .bearer_auth(key)
        .json(&json!({"customer_id": customer, "currency": "usd",
                      "items": [{"name": "Tea", "quantity": 1, "unit_amount": 450}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let order: Value = response.json().await.unwrap();
    order["id"].as_str().unwrap().to_owned()
}

/// Accepts connections and never answers: a hanging receiver.
async fn hanging_receiver() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    port
}

/// Waits until every one of `orders` has arrived (or 60 s pass).
async fn all_arrived(arrivals: &Arrivals, orders: &[String]) -> bool {
    for _ in 0..600 {
        {
            let seen = arrivals.lock().unwrap();
            if orders.iter().all(|o| seen.contains_key(o)) {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let base = env("BASE", "http://127.0.0.1:18084");
    let key = env("API_KEY", "");
    let orders: usize = env("ORDERS", "20000").parse().unwrap();
    let concurrency: usize = env("CONCURRENCY", "32").parse().unwrap();
    let rate: u64 = env("RATE", "500").parse().unwrap();
    let seconds: u64 = env("SECONDS", "20").parse().unwrap();
    let customer = env("CUSTOMER_ID", "01a21a70-0000-7000-8000-00000000c001");

    let _ = rustls::crypto::ring::default_provider().install_default();
    let arrivals: Arrivals = Arc::default();
    let data = web::Data::new(arrivals.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .route("/hooks", web::post().to(receive))
    })
    .workers(1)
    // SIGTERM (the bench stopping a receiver) ends the process, not only the server.
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());

    let client = reqwest::Client::new();
    // Receiver only: subscribe to every event type and answer for this many seconds (a
    // healthy merchant while another tool loads the API).
    if let Ok(serve_for) = std::env::var("RECEIVE_FOR_SECONDS") {
        let subscribed = client
            .post(format!("{base}/v1/webhook_endpoints"))
            .bearer_auth(&key)
            .json(
                &json!({"url": format!("http://127.0.0.1:{port}/hooks"), "enabled_events": ["*"]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(subscribed.status(), 201);
        tokio::time::sleep(Duration::from_secs(serve_for.parse().unwrap())).await;
        println!(
            "received events of {} orders",
            arrivals.lock().unwrap().len()
        );
        return;
    }
    let endpoint = client
        .post(format!("{base}/v1/webhook_endpoints"))
        .bearer_auth(&key)
        .json(&json!({"url": format!("http://127.0.0.1:{port}/hooks"),
                      "enabled_events": ["order.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(endpoint.status(), 201, "{:?}", endpoint.text().await);
    let hanging = std::env::var("HANGING").is_ok_and(|v| v == "1");
    if hanging {
        let port = hanging_receiver().await;
        let endpoint = client
            .post(format!("{base}/v1/webhook_endpoints"))
            .bearer_auth(&key)
            .json(&json!({"url": format!("http://127.0.0.1:{port}/hooks"),
                          "enabled_events": ["order.created"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(endpoint.status(), 201);
        println!("a hanging endpoint is subscribed beside the healthy one");
    }

    // 1. Flood: deliveries per second.
    let started = Instant::now();
    let created: Vec<String> = stream::iter(0..orders)
        .map(|_| create(&client, &base, &key, &customer))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let creating = started.elapsed();
    let complete = all_arrived(&arrivals, &created).await;
    assert!(hanging || complete, "not every event arrived");
    let (first, last, arrived) = {
        let seen = arrivals.lock().unwrap();
        let times: Vec<Instant> = created
            .iter()
            .filter_map(|o| seen.get(o).copied())
            .collect();
        (
            times.iter().min().copied(),
            times.iter().max().copied(),
            times.len(),
        )
    };
    let spread = match (first, last) {
        (Some(first), Some(last)) => last.duration_since(first),
        _ => Duration::ZERO,
    };
    println!(
        "flood: {orders} orders created in {:.2} s ({:.0}/s); {arrived} deliveries in {:.2} s = {:.0} deliveries/s; {} missing a minute later",
        creating.as_secs_f64(),
        orders as f64 / creating.as_secs_f64(),
        spread.as_secs_f64(),
        arrived as f64 / spread.as_secs_f64().max(f64::EPSILON),
        orders - arrived
    );

    // 2. Paced: latency from commit (the 201) to receipt.
    let total = rate * seconds;
    let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    let answered: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let mut inflight = Vec::new();
    for _ in 0..total {
        ticks.tick().await;
        let (client, base, key, customer, answered) = (
            client.clone(),
            base.clone(),
            key.clone(),
            customer.clone(),
            answered.clone(),
        );
        inflight.push(tokio::spawn(async move {
            let id = create(&client, &base, &key, &customer).await;
            answered.lock().unwrap().push((id, Instant::now()));
        }));
    }
    for task in inflight {
        task.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    let ids: Vec<String> = answered.iter().map(|(id, _)| id.clone()).collect();
    let complete = all_arrived(&arrivals, &ids).await;
    assert!(hanging || complete, "not every event arrived");
    let seen = arrivals.lock().unwrap();
    let mut latencies: Vec<Duration> = answered
        .iter()
        .filter_map(|(id, at)| seen.get(id).map(|got| got.saturating_duration_since(*at)))
        .collect();
    latencies.sort();
    if latencies.is_empty() {
        println!("paced at {rate}/s for {seconds} s: no delivery arrived within a minute");
        return;
    }
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    println!(
        "paced at {rate}/s for {seconds} s: {} deliveries ({} missing a minute later); commit to receipt p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        ids.len() - latencies.len(),
        ms(at(0.5)),
        ms(at(0.99)),
        ms(*latencies.last().unwrap())
    );
}

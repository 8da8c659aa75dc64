//! Rate limits per API key and per client address, and the pool of its own that the routes
//! needing no key run on: a flood of pay-link opens never takes the keyed calls' connections.

use futures_util::future::join_all;

use crate::helpers::{assert_problem, open_checkout, spawn_app_with};

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_over_its_rate_gets_429_with_when_to_retry() {
    // 1 request a second, 2 at once: the third in a row is refused.
    let app = spawn_app_with(&[
        ("RATE_LIMIT_PER_KEY", "1"),
        ("API_KEY_CACHE_TTL_MS", "60000"),
    ])
    .await;
    let first = app.get("/v1/orders").await;
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "ratelimit-limit"), "2");
    assert_eq!(header(&first, "ratelimit-remaining"), "1");
    assert_eq!(app.get("/v1/orders").await.status(), 200);
    let refused = app.get("/v1/orders").await;
    assert_eq!(header(&refused, "ratelimit-remaining"), "0");
    let retry_after: u64 = header(&refused, "retry-after").parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_problem(refused, 429, "rate_limited").await;

    // Another key has a bucket of its own.
    let other = orderpay::startup::api_keys(&app.store)
        .create("other")
        .await
        .unwrap()
        .token;
    let theirs = app
        .client
        .get(app.url("/v1/orders"))
        .bearer_auth(other)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_over_its_rate_on_routes_without_a_key_gets_429() {
    let app = spawn_app_with(&[("RATE_LIMIT_PER_ADDRESS", "1")]).await;
    let (_, link) = app.order_with_link("+14155550100", "Tea").await;
    let url = link["url"].as_str().unwrap().to_owned();
    let pay = |url: String| async move {
        crate::helpers::no_redirects()
            .get(url)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(pay(url.clone()).await.status(), 200);
    assert_eq!(pay(url.clone()).await.status(), 200);
    let refused = pay(url.clone()).await;
    assert!(header(&refused, "retry-after").parse::<u64>().unwrap() >= 1);
    assert_problem(refused, 429, "rate_limited").await;
    let readyz = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(readyz.status(), 429, "the same address, the same bucket");
    // The keyed API is limited per key, not per address.
    assert_eq!(app.get("/v1/orders").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_pay_link_opens_never_takes_the_keyed_calls_connections() {
    // Two connections for keyed calls, one for the routes without a key, a short wait for a
    // connection: were the pools shared, keyed calls would queue behind the flood and fail.
    let app = spawn_app_with(&[
        ("DATABASE_POOL_SIZE", "2"),
        ("DATABASE_POOL_PER_WORKER", "false"),
        ("DATABASE_PUBLIC_POOL_SIZE", "1"),
        ("DATABASE_ACQUIRE_TIMEOUT_MS", "300"),
        ("RATE_LIMIT_PER_ADDRESS", "0"),
        ("API_KEY_CACHE_TTL_MS", "60000"),
    ])
    .await;
    let (id, link) = app.order_with_link("+14155550100", "Tea").await;
    let url = link["url"].as_str().unwrap().to_owned();
    open_checkout(&url).await;
    let client = crate::helpers::no_redirects();
    let keyed_pool_before = app.served.queries_executed();
    let flood = join_all((0..400).map(|_| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let origin = crate::helpers::origin_of(&url);
            let opened = client.post(url).header("origin", origin).send().await;
            opened.map(|r| r.status().as_u16())
        }
    }));
    let keyed = async {
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(app.get(&format!("/v1/orders/{id}")).await.status().as_u16());
        }
        statuses
    };
    let (flood, keyed) = tokio::join!(flood, keyed);
    let flood: Vec<u16> = flood.into_iter().map(|r| r.unwrap_or(0)).collect();
    let refused = flood.iter().filter(|s| **s == 503).count();
    eprintln!(
        "flood: {} redirected, {refused} answered 503",
        flood.iter().filter(|s| **s == 303).count()
    );
    assert!(
        flood.iter().all(|s| matches!(s, 303 | 503)),
        "the flood gets its checkout or a 503, never a 500: {flood:?}"
    );
    assert!(
        keyed.iter().all(|s| *s == 200),
        "keyed calls all served: {keyed:?}"
    );
    // The keyed calls' pool ran their statements alone (two per order shown), none of the
    // flood's: the routes without a key never took its connections.
    let keyed_pool = app.served.queries_executed() - keyed_pool_before;
    assert_eq!(keyed_pool, 2 * 40, "statements on the keyed calls' pool");
}

/// Made-up keys from one address are refused (429 with `Retry-After`) once that address has
/// failed too often, and from then on its keys are not even looked up: a flood of them
/// cannot reach the database keyed calls need. Another address is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_that_keeps_failing_authentication_is_refused_without_a_query() {
    let app = spawn_app_with(&[
        ("RATE_LIMIT_FAILED_AUTH_PER_MINUTE", "3"),
        ("RATE_LIMIT_TRUSTED_PROXIES", "1"),
    ])
    .await;
    let made_up = "opk_abcdefghijkm_abcdefghijkmnpqrstuvwxyz23456789abcdefghij";
    let from = |address: &'static str, key: String| {
        app.client
            .get(app.url("/v1/orders"))
            .bearer_auth(key)
            .header("x-forwarded-for", address)
            .send()
    };
    for _ in 0..3 {
        let refused = from("203.0.113.7", made_up.to_owned()).await.unwrap();
        assert_problem(refused, 401, "unauthorized").await;
    }
    // Each of the three failures above looked its key up; a limited address's do not. The
    // server's store also counts what its background workers run meanwhile (the webhook
    // sender's polls), so the count is compared with one query per request, not with zero.
    const LIMITED: u64 = 20;
    let before = app.served.queries_executed();
    for _ in 0..LIMITED {
        let limited = from("203.0.113.7", made_up.to_owned()).await.unwrap();
        let retry_after: u64 = header(&limited, "retry-after").parse().unwrap();
        assert!((1..=20).contains(&retry_after), "{retry_after}");
        assert_problem(limited, 429, "rate_limited").await;
    }
    let queries = app.served.queries_executed() - before;
    assert!(
        queries < LIMITED / 4,
        "{queries} queries for {LIMITED} limited requests: their keys were looked up"
    );
    let other = from("198.51.100.9", app.api_key.clone()).await.unwrap();
    assert_eq!(other.status(), 200, "another address is not limited");
}

//! The binary as an operator uses it: help, configuration errors, API keys, serve and stop.

use std::process::Stdio;
use std::time::{Duration, Instant};

use orderpay_postgres::testing::TestDatabase;

use crate::helpers::process::{
    KillOnDrop, api_key, api_key_output, orderpay, serve, serve_with, stop, stop_waiting,
};

#[test]
fn help_lists_the_commands() {
    let out = orderpay("postgres://unused/x")
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for command in ["serve", "migrate", "api-key"] {
        assert!(help.contains(command), "{command} missing from:\n{help}");
    }
}

#[test]
fn bad_configuration_is_reported_by_name_and_exits_2() {
    let out = orderpay("postgres://unused/x")
        .env("PORT", "eighty")
        .env("LOG_FORMAT", "xml")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("PORT=\"eighty\""), "{stderr}");
    assert!(stderr.contains("LOG_FORMAT"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_printed_alone_listed_and_revoked() {
    let db = TestDatabase::new().await;
    let stdout = api_key_output(db.url(), &["--name", "bot"]);
    let key = stdout.trim();
    assert_eq!(
        stdout.lines().count(),
        1,
        "stdout is the key alone: {stdout:?}"
    );
    assert!(key.starts_with("opk_") && key.len() > 40, "{key}");

    let list = orderpay(db.url())
        .args(["api-key", "list"])
        .output()
        .unwrap();
    let listing = String::from_utf8(list.stdout).unwrap();
    assert!(
        listing.contains("bot") && listing.contains("active"),
        "{listing}"
    );
    assert!(!listing.contains(key), "the secret is never listed");
    let id = listing
        .lines()
        .find(|l| l.contains("bot"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();

    let revoke = orderpay(db.url())
        .args(["api-key", "revoke", &id])
        .output()
        .unwrap();
    assert!(revoke.status.success());
    let list = orderpay(db.url())
        .args(["api-key", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8(list.stdout).unwrap().contains("revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_migrates_once_answers_and_stops_cleanly_on_sigterm() {
    let db = TestDatabase::new().await;
    // TestDatabase already migrated; drop it to see serve create and migrate from nothing.
    let fresh_url = orderpay_postgres::testing::with_database_name(
        db.url(),
        &format!("{}_serve", db.url().rsplit('/').next().unwrap()),
    );

    let (child, port, logs) = serve(&fresh_url);
    let text = logs.text();
    assert!(text.contains("created the database"), "{text}");
    assert!(text.contains("applied migration"), "{text}");
    let health = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(stop(child).success());

    let (child, port, logs) = serve(&fresh_url);
    let text = logs.text();
    assert!(
        !text.contains("applied migration"),
        "second start applied again:\n{text}"
    );
    let health = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(stop(child).success());

    orderpay_postgres::database::drop_database(
        &orderpay_postgres::ConnectOptions::parse(&fresh_url).unwrap(),
    )
    .await
    .unwrap();
}

/// Starts three `orderpay serve` at once on `url` and asserts all three become ready.
async fn three_replicas_start_together(url: &str) {
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let url = url.to_owned();
            std::thread::spawn(move || serve(&url))
        })
        .collect();
    let mut children = Vec::new();
    for start in starts {
        let (child, port, _) = start.join().expect("a replica failed to start");
        let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
            .await
            .unwrap();
        assert_eq!(ready.status(), 200);
        children.push(child);
    }
    for child in children {
        assert!(stop(child).success());
    }
}

/// Seen on main: of three replicas started at once on a fresh database, two exited 1 while
/// creating it (`pg_database_datname_index`), and on an existing unmigrated one while
/// migrating (`pg_type_typname_nsp_index`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_started_together_all_become_ready() {
    let db = TestDatabase::new().await;
    let base = db.url().rsplit('/').next().unwrap().to_owned();

    // No database at all.
    let missing = orderpay_postgres::testing::with_database_name(db.url(), &format!("{base}_m"));
    three_replicas_start_together(&missing).await;

    // A database that exists but has never been migrated.
    let empty = orderpay_postgres::testing::with_database_name(db.url(), &format!("{base}_e"));
    let empty_options = orderpay_postgres::ConnectOptions::parse(&empty).unwrap();
    orderpay_postgres::testing::create_empty_database(&empty_options).await;
    three_replicas_start_together(&empty).await;

    for url in [missing, empty] {
        orderpay_postgres::database::drop_database(
            &orderpay_postgres::ConnectOptions::parse(&url).unwrap(),
        )
        .await
        .unwrap();
    }
}

/// Start-up against a server that accepts TCP and never answers: `serve` exits non-zero
/// within its deadlines, saying why, instead of hanging silently.
#[test]
fn serve_against_a_silent_database_exits_saying_why() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let mut child = orderpay(&format!("postgres://postgres@127.0.0.1:{port}/orderpay"))
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("DATABASE_CONNECT_TIMEOUT_MS", "500")
        .env("DATABASE_STARTUP_TIMEOUT_MS", "2000")
        .arg("serve")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Generous: the point is that it ends by itself, not how fast.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("orderpay serve hung against a silent database");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("did not complete a connection within"),
        "{stderr}"
    );
    drop(silent);
}

/// Everything `orderpay serve` logs at `info` while clients send personal data and a key,
/// a directory fails and a request is refused: no phone number, email, key or password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_at_info_hold_no_phone_email_key_or_password() {
    crate::helpers::init_once();
    let db = TestDatabase::new().await;
    // Trust authentication ignores the password, so it can be anything: it must not leak.
    let url = db
        .url()
        .replacen("://postgres@", "://postgres:hunter2pw@", 1);
    assert!(
        url.contains("hunter2pw"),
        "the test URL has the form postgres://postgres@..."
    );
    let key = api_key(&url);
    // A directory that is not there: lookups fail and are logged with their cause.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let directory = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);

    let (child, port, logs) = serve_with(&url, &[("CUSTOMER_DIRECTORY_URL", &directory)]);
    let mut child = KillOnDrop(Some(child));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let send = |method: reqwest::Method, path: &str, body: Option<serde_json::Value>| {
        let mut request = client
            .request(method, format!("{base}{path}"))
            .bearer_auth(&key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let created = send(
        reqwest::Method::POST,
        "/v1/customers",
        Some(serde_json::json!({"phone": "+14155550177", "name": "Ada", "email": "ada.secret@example.com"})),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    let id = created.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let unknown = send(
        reqwest::Method::GET,
        "/v1/customers?phone=%2B14155550188",
        None,
    )
    .await
    .unwrap();
    assert_eq!(unknown.status(), 502, "the directory is down");
    let patched = send(
        reqwest::Method::PATCH,
        &format!("/v1/customers/{id}"),
        Some(serde_json::json!({"email": "not-an-email-0199"})),
    )
    .await
    .unwrap();
    assert_eq!(patched.status(), 422);
    let order = send(
        reqwest::Method::POST,
        "/v1/orders",
        Some(
            serde_json::json!({"customer": {"phone": "+14155550199", "name": "Bo"},
            "currency": "usd", "items": [{"name": "Tea", "quantity": 1, "unit_amount": 100}]}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(order.status(), 201);
    // The customer's pay link and the sandbox's checkout: their paths are capabilities.
    let order_id = order.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = send(
        reqwest::Method::POST,
        &format!("/v1/orders/{order_id}/payment-link"),
        None,
    )
    .await
    .unwrap()
    .json::<serde_json::Value>()
    .await
    .unwrap();
    let pay_url = link["url"].as_str().unwrap().to_owned();
    let checkout = crate::helpers::open_checkout(&pay_url).await;
    let page = client.get(&checkout).send().await.unwrap();
    assert_eq!(page.status(), 200, "{checkout}");
    let token = pay_url.rsplit('/').next().unwrap().to_owned();
    let session = checkout.rsplit('/').next().unwrap().to_owned();
    let refused = client
        .get(format!("{base}/v1/customers"))
        .bearer_auth(format!("{key}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    assert!(stop(child.0.take().unwrap()).success());
    let text = logs.all();
    assert!(
        text.contains("request finished"),
        "no access log at all:\n{text}"
    );
    let secret_part = key.rsplit('_').next().unwrap();
    for secret in [
        "4155550177",
        "4155550188",
        "4155550199",
        "ada.secret",
        "not-an-email-0199",
        secret_part,
        "hunter2pw",
        &token,
        &session,
    ] {
        assert!(
            !text.contains(secret),
            "`{secret}` reached the logs:\n{text}"
        );
    }
}

/// On SIGTERM, `/readyz` turns 503 first (while the server still answers), then requests in
/// flight on every worker finish before the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_readiness_first_and_finishes_requests_in_flight() {
    crate::helpers::init_once();
    let db = TestDatabase::new().await;
    // A directory slow enough that lookups are in flight when the signal comes.
    let directory = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"name": "Ada"}))
                .set_delay(Duration::from_millis(1500)),
        )
        .mount(&directory)
        .await;
    let key = api_key(db.url());
    let directory_url = directory.uri();
    let (child, port, _logs) = serve_with(
        db.url(),
        &[
            ("HTTP_WORKERS", "2"),
            ("SHUTDOWN_DRAIN_MS", "1000"),
            ("CUSTOMER_DIRECTORY_URL", &directory_url),
            ("CUSTOMER_DIRECTORY_TIMEOUT_MS", "10000"),
        ],
    );
    let mut child = KillOnDrop(Some(child));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();

    // Four lookups of unknown phones: each waits on the slow directory, on both workers.
    let in_flight: Vec<_> = (0..4)
        .map(|i| {
            let request = client
                .get(format!(
                    "{base}/v1/customers?phone=%2B1415555{:04}",
                    300 + i
                ))
                .bearer_auth(&key)
                .send();
            tokio::spawn(request)
        })
        .collect();
    // In flight: the directory has all four (it answers after 1.5 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while directory
        .received_requests()
        .await
        .unwrap_or_default()
        .len()
        < 4
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the lookups never reached the directory"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    crate::helpers::process::terminate(child.0.as_ref().unwrap());
    // Readiness turns first, while the server still answers (it drains for 1 s).
    let deadline = std::time::Instant::now() + Duration::from_millis(900);
    loop {
        let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
        if ready.status() == 503 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/readyz still {} while draining",
            ready.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    for request in in_flight {
        let response = request
            .await
            .unwrap()
            .expect("a request in flight was dropped");
        assert_eq!(response.status(), 200);
    }
    let status = stop_waiting(child.0.take().unwrap());
    assert!(status.success(), "{status:?}");
}

/// An image deployed without Stripe keys at a public address would serve a Pay button that
/// takes no money: `serve` refuses to start, saying why and how to ask for the sandbox.
#[test]
fn serve_without_stripe_keys_at_a_public_address_refuses_to_start() {
    let output = orderpay("postgres://postgres@127.0.0.1:1/orderpay")
        .env("PUBLIC_BASE_URL", "https://shop.example.com")
        .arg("serve")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("STRIPE_SECRET_KEY"), "{stderr}");
    assert!(stderr.contains("PAYMENT_PROVIDER=sandbox"), "{stderr}");
    assert!(!stderr.contains("listening"), "{stderr}");
}

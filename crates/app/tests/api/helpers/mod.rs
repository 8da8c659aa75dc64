//! `spawn_app`: the service on a free port against a fresh database, with an API key.

pub(crate) mod pooler;
pub(crate) mod process;

use std::collections::HashMap;
use std::sync::Once;

use reqwest::{Client, RequestBuilder, Response};
use serde_json::Value;

use orderpay::config::{Config, LogFormat};
use orderpay::{Application, startup, telemetry};
use orderpay_postgres::PgStore;
use orderpay_postgres::testing::TestDatabase;

pub struct TestApp {
    pub address: String,
    pub api_key: String,
    pub client: Client,
    pub store: PgStore,
    /// The running server's own store: its query counter says what a request cost.
    pub served: PgStore,
    pub db: TestDatabase,
    /// The settings the app was started with.
    env: HashMap<String, String>,
}

static INIT: Once = Once::new();

/// Installs the TLS crypto provider (reqwest needs one) and, with `TEST_LOG`, logging.
pub fn init_once() {
    INIT.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        if std::env::var("TEST_LOG").is_ok() {
            telemetry::init(LogFormat::Text);
        }
    });
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// The app with extra environment variables (`CUSTOMER_DIRECTORY_URL`, say).
pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    spawn(vars, false).await
}

/// The app behind a transaction-mode PgBouncer (`DATABASE_URL` the pooler's, with
/// `pgbouncer=true`; `DATABASE_DIRECT_URL` the server's), as on Supabase or Neon.
pub async fn spawn_pooled_app_with(vars: &[(&str, &str)]) -> TestApp {
    spawn(vars, true).await
}

async fn spawn(vars: &[(&str, &str)], pooled: bool) -> TestApp {
    init_once();
    let db = TestDatabase::new().await;
    let database_url = if pooled {
        pooler::pooler().url_for(db.url())
    } else {
        db.url().to_string()
    };
    let mut env: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), database_url),
        ("HOST".into(), "127.0.0.1".into()),
        ("PORT".into(), "0".into()),
        ("HTTP_WORKERS".into(), "2".into()),
        ("DEFAULT_PHONE_REGION".into(), "US".into()),
    ]);
    if pooled {
        env.insert("DATABASE_DIRECT_URL".into(), db.url().to_string());
    }
    for (k, v) in vars {
        env.insert(k.to_string(), v.to_string());
    }
    let config = Config::from_map(&env).expect("test configuration");
    let app = Application::build(&config).await.expect("app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let served = app.store();
    tokio::spawn(app.run_until_stopped());
    let store = startup::store(&config).expect("store");
    let api_key = startup::api_keys(&store)
        .create("tests")
        .await
        .expect("api key")
        .token;
    TestApp {
        address,
        api_key,
        client: Client::new(),
        store,
        served,
        db,
        env,
    }
}

impl TestApp {
    /// The configuration the app was started with (for a CLI command against its database).
    pub fn config(&self) -> Config {
        Config::from_map(&self.env).expect("test configuration")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request to `path` with this app's API key.
    pub fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.api_key)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(reqwest::Method::GET, path)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.request(reqwest::Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.request(reqwest::Method::PATCH, path)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn create_customer(&self, phone: &str, name: &str) -> Value {
        let response = self
            .post(
                "/v1/customers",
                &serde_json::json!({"phone": phone, "name": name}),
            )
            .await;
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }

    pub async fn create_order(&self, customer_id: &str, items: Value) -> Value {
        let response = self
            .post(
                "/v1/orders",
                &serde_json::json!({"customer_id": customer_id, "currency": "usd", "items": items}),
            )
            .await;
        assert_eq!(response.status(), 201, "{:?}", response.text().await);
        response.json().await.unwrap()
    }

    /// The order `id` as the API shows it.
    pub async fn order(&self, id: &str) -> Value {
        self.get(&format!("/v1/orders/{id}"))
            .await
            .json()
            .await
            .unwrap()
    }

    /// The types of the order's history entries, oldest first.
    pub async fn event_types(&self, id: &str) -> Vec<String> {
        let events: Value = self
            .get(&format!("/v1/orders/{id}/events"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(events["object"], "list");
        events["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The order's pay link (`{"url", "payment_id", ...}`), asserting it is given.
    pub async fn payment_link(&self, id: &str) -> Value {
        let response = self
            .post(
                &format!("/v1/orders/{id}/payment-link"),
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// A new customer with `phone`, a pending order of two `item`s at 4.50 usd, and its pay
    /// link: the order's id and the link.
    pub async fn order_with_link(&self, phone: &str, item: &str) -> (String, Value) {
        let c = self.create_customer(phone, "Ada").await;
        let o = self
            .create_order(
                c["id"].as_str().unwrap(),
                serde_json::json!([{"name": item, "quantity": 2, "unit_amount": 450}]),
            )
            .await;
        let id = o["id"].as_str().unwrap().to_owned();
        let link = self.payment_link(&id).await;
        (id, link)
    }

    /// How many orders and customers exist, through the API.
    pub async fn counts(&self) -> (usize, usize) {
        let orders: Value = self.get("/v1/orders?limit=100").await.json().await.unwrap();
        let customers: Value = self
            .get("/v1/customers?limit=100")
            .await
            .json()
            .await
            .unwrap();
        (
            orders["data"].as_array().unwrap().len(),
            customers["data"].as_array().unwrap().len(),
        )
    }
}

/// Asserts `response` is problem details with `status` and `code`, and returns the body.
pub async fn assert_problem(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string() && body["type"].is_string());
    body
}

/// The `field`s of a validation problem, in order.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A client that shows redirects instead of following them, as a test of where they lead.
pub fn no_redirects() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `Origin` a browser sends with a form on the page at `url`.
pub fn origin_of(url: &str) -> String {
    let url = url::Url::parse(url).unwrap();
    url.origin().ascii_serialization()
}

/// Opens checkout from the pay link `url`'s page (its form's POST, as a browser sends it)
/// and returns where it leads (panics unless it is a 303).
pub async fn open_checkout(url: &str) -> String {
    let response = no_redirects()
        .post(url)
        .header("origin", origin_of(url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "{url}: {:?}", response.text().await);
    response.headers()["location"].to_str().unwrap().to_owned()
}

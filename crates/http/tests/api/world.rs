//! One service over the in-memory store, driven through actix's test service: no database,
//! no network. `Api` sends requests with the world's key and reads the answers.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use actix_web::body::to_bytes;
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};
use actix_web::web;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use orderpay_domain::api_key::{ApiKeyService, Scope};
use orderpay_domain::customer::CustomerService;
use orderpay_domain::order::{OrderId, OrderService, RandomReferences};
use orderpay_domain::payment::{
    CustomerLinks, EventFeed, EventFeedError, PaymentEventKind, PaymentId, PaymentServices,
    PaymentSettings, ProviderEvent, SessionRef,
};
use orderpay_domain::phone::PhoneRegion;
use orderpay_domain::webhook::{Secrets, UrlPolicy, WebhookEndpointId, WebhookService};
use orderpay_domain::{Clock, SystemClock};
use orderpay_http::limits::{LimitSettings, Limits};
use orderpay_http::{AppState, PublicServices, RouteLinks};
use orderpay_memory::{MemoryStore, SandboxGateway};

pub const BASE: &str = "http://localhost:8080";

/// A feed that trusts the signature `good` and reads bodies of the form
/// `{"id", "payment_id", "order_id"}` as paid completions of 1200 eur.
struct FakeFeed;

impl EventFeed for FakeFeed {
    fn receive(
        &self,
        payload: &[u8],
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ProviderEvent>, EventFeedError> {
        if signature != "good" {
            return Err(EventFeedError::BadSignature("not good".into()));
        }
        let body: Value = serde_json::from_slice(payload)
            .map_err(|e| EventFeedError::Malformed(e.to_string()))?;
        let id = |k: &str| body[k].as_str().unwrap().parse::<uuid::Uuid>().unwrap();
        Ok(Some(ProviderEvent {
            id: body["id"].as_str().unwrap().to_owned(),
            kind: PaymentEventKind::SessionCompleted {
                session: SessionRef {
                    session_id: "cs_1".into(),
                    payment_id: PaymentId::from_uuid(id("payment_id")),
                    order_id: OrderId::from_uuid(id("order_id")),
                },
                paid: true,
                amount: 1200,
                currency: "eur".into(),
                provider_payment_id: Some("pi_1".into()),
            },
            created: now,
        }))
    }
}

/// Secrets that say which endpoint and version they are (the real ones are HMACs).
struct TestSecrets;

impl Secrets for TestSecrets {
    fn secret(&self, endpoint: WebhookEndpointId, version: i32) -> String {
        format!("whsec_test_{endpoint}_{version}")
    }
}

/// An answer: its status, headers and body (JSON, or `Value::String` of anything else).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |v| v.to_str().unwrap_or_default())
    }

    /// The `Location` header with the service's base address taken off.
    pub fn location(&self) -> String {
        let to = self.header("location");
        to.strip_prefix(BASE).unwrap_or(to).to_owned()
    }

    pub fn text(&self) -> &str {
        self.body.as_str().unwrap_or_default()
    }

    /// Asserts a problem-details answer of `status` and `code`, and returns the fields its
    /// `errors` name, in order.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> Vec<String> {
        assert_eq!(
            (self.status, self.body["code"].as_str()),
            (status, Some(code)),
            "{self:?}"
        );
        assert_eq!(self.header("content-type"), "application/problem+json");
        assert_eq!(self.body["status"], status);
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["field"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

type Call = Box<dyn Fn(actix_http::Request) -> Pin<Box<dyn Future<Output = Reply>>>>;

/// The service and a full-access key.
pub struct Api {
    pub state: web::Data<AppState>,
    pub key: String,
    call: Call,
}

/// A world whose national phone numbers are read as US numbers.
pub async fn api() -> Api {
    api_in(Some(PhoneRegion::parse("US").unwrap())).await
}

pub async fn api_in(default_region: Option<PhoneRegion>) -> Api {
    let store = Arc::new(MemoryStore::new());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let customers = CustomerService::new(store.clone(), None, clock.clone());
    let links: Arc<dyn CustomerLinks> = Arc::new(RouteLinks::new(BASE));
    let gateway = Arc::new(SandboxGateway::new(links.clone()));
    let orders = OrderService::new(
        store.clone(),
        Arc::new(RandomReferences),
        gateway.clone(),
        clock.clone(),
    );
    let payments = PaymentServices::new(
        store.clone(),
        store.clone(),
        gateway,
        store.clone(),
        clock.clone(),
        PaymentSettings {
            links,
            checkout_ttl: chrono::TimeDelta::hours(1),
            unknown_payment_grace: chrono::TimeDelta::hours(1),
            merchant: orderpay_domain::merchant::Merchant::new(
                "Tea House",
                None,
                Some("help@teahouse.example"),
            )
            .unwrap(),
        },
    );
    let api_keys = ApiKeyService::new(store.clone(), clock);
    let key = api_keys.create("tests").await.unwrap().token;
    let public = PublicServices {
        payments: payments.clone(),
        orders: orders.clone(),
    };
    // Webhooks out over the same in-memory store: endpoints, the feed and deliveries.
    let outbound = WebhookService::new(
        store.clone(),
        Arc::new(TestSecrets),
        Arc::new(SystemClock),
        UrlPolicy::AllowPrivate,
        chrono::TimeDelta::hours(24),
    );
    let state = web::Data::new(AppState {
        outbound,
        public,
        limits: Limits::new(LimitSettings::NONE),
        form_key: orderpay_http::FormKey::new([7; 32]),
        workers: orderpay_http::WorkerStatus::default(),
        customers,
        orders,
        payments,
        api_keys,
        idempotency: store.clone(),
        idempotency_ttl: chrono::TimeDelta::hours(24),
        sandbox: true,
        webhooks: Some(Arc::new(FakeFeed)),
        default_region,
        readiness: Arc::new(|| Box::pin(async { Ok(()) })),
        shutting_down: Arc::new(AtomicBool::new(false)),
        metrics: None,
    });
    let app = Rc::new(test::init_service(orderpay_http::app(state.clone())).await);
    let call: Call = Box::new(move |request| {
        let app = app.clone();
        Box::pin(async move {
            let response = test::call_service(&*app, request).await;
            let (status, headers) = (response.status().as_u16(), response.headers().clone());
            let bytes = to_bytes(response.into_body())
                .await
                .map_err(Into::into)
                .unwrap();
            let body = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            Reply {
                status,
                headers,
                body,
            }
        })
    });
    Api { state, key, call }
}

impl Api {
    /// Sends `request` as it is: no key added.
    pub async fn send(&self, request: TestRequest) -> Reply {
        (self.call)(request.to_request()).await
    }

    /// Sends `request` with the world's key.
    pub async fn keyed(&self, request: TestRequest) -> Reply {
        self.send(request.insert_header(("authorization", format!("Bearer {}", self.key))))
            .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.keyed(TestRequest::get().uri(path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.keyed(TestRequest::post().uri(path).set_json(body))
            .await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.keyed(TestRequest::patch().uri(path).set_json(body))
            .await
    }

    /// A POST without a body.
    pub async fn post_empty(&self, path: &str) -> Reply {
        self.keyed(TestRequest::post().uri(path)).await
    }

    /// A key restricted to `scopes`.
    pub async fn restricted_key(&self, scopes: &[&str]) -> String {
        let scopes = scopes.iter().map(|s| Scope::parse(s).unwrap()).collect();
        self.state
            .api_keys
            .create_restricted("restricted", Some(scopes))
            .await
            .unwrap()
            .token
    }

    pub async fn customer(&self, phone: &str, name: &str) -> Value {
        let reply = self
            .post("/v1/customers", &json!({"phone": phone, "name": name}))
            .await;
        assert_eq!(reply.status, 201, "{reply:?}");
        reply.body
    }

    /// A pending order of 12.00 eur (two teas at 6.00) for the customer with `phone`.
    pub async fn order(&self, phone: &str) -> Value {
        let reply = self
            .post(
                "/v1/orders",
                &json!({"customer": {"phone": phone, "name": "Ada"}, "currency": "eur",
                        "items": [{"name": "Tea", "quantity": 2, "unit_amount": 600}]}),
            )
            .await;
        assert_eq!(reply.status, 201, "{reply:?}");
        reply.body
    }

    /// A pending order of 12.00 eur for the customer with `phone`: its id.
    pub async fn order_id(&self, phone: &str) -> String {
        self.order(phone).await["id"].as_str().unwrap().to_owned()
    }

    /// The order's pay link (its path on this service) and the payment behind it.
    pub async fn pay_link(&self, order: &str) -> (String, String) {
        let reply = self
            .post_empty(&format!("/v1/orders/{order}/payment-link"))
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        let url = reply.body["url"].as_str().unwrap();
        (
            url.strip_prefix(BASE).unwrap().to_owned(),
            reply.body["payment_id"].as_str().unwrap().to_owned(),
        )
    }

    /// Opens checkout from the pay link's page (its form's POST, as a browser sends it).
    pub async fn open(&self, link: &str) -> Reply {
        self.send(
            TestRequest::post()
                .uri(link)
                .insert_header(("origin", BASE)),
        )
        .await
    }

    /// Opens checkout from the pay link's page: where it leads.
    pub async fn checkout(&self, link: &str) -> String {
        let reply = self.open(link).await;
        assert_eq!(reply.status, 303, "{reply:?}");
        reply.location()
    }

    /// Opens the pay link and presses Pay in the sandbox: the order is paid.
    pub async fn pay(&self, order: &str) {
        let (link, _) = self.pay_link(order).await;
        let checkout = self.open(&link).await;
        assert_eq!(checkout.status, 303, "{checkout:?}");
        let paid = self
            .send(
                TestRequest::post()
                    .uri(&format!("{}/pay", checkout.location()))
                    .insert_header(("origin", BASE)),
            )
            .await;
        assert_eq!(paid.status, 303, "{paid:?}");
    }

    /// The order's status, as the API shows it.
    pub async fn status_of(&self, order: &str) -> String {
        let reply = self.get(&format!("/v1/orders/{order}")).await;
        reply.body["status"].as_str().unwrap_or("?").to_owned()
    }

    /// How many orders and customers are stored (up to 100 of each).
    pub async fn counts(&self) -> (usize, usize) {
        let orders = self.get("/v1/orders?limit=100").await;
        let customers = self.get("/v1/customers?limit=100").await;
        (ids(&orders.body).len(), ids(&customers.body).len())
    }
}

/// The ids of a list's `data`, in order.
pub fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

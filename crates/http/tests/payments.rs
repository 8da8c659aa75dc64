//! The pay-link, sandbox and webhook handlers, fast: actix's test service over the in-memory
//! store. The same flows run against PostgreSQL in `crates/app/tests/api`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use actix_web::body::to_bytes;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::middleware::from_fn;
use actix_web::{App, test, web};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use orderpay_domain::api_key::ApiKeyService;
use orderpay_domain::customer::CustomerService;
use orderpay_domain::order::{OrderService, RandomReferences};
use orderpay_domain::payment::{
    CustomerLinks, EventFeed, EventFeedError, PaymentEventKind, PaymentId, PaymentServices,
    PaymentSettings, ProviderEvent, SessionRef,
};
use orderpay_domain::webhook::{MockSecrets, MockWebhookRepository, UrlPolicy, WebhookService};
use orderpay_domain::{Clock, SystemClock};
use orderpay_http::limits::{LimitSettings, Limits};
use orderpay_http::{AppState, PublicServices, RouteLinks};
use orderpay_memory::{MemoryStore, SandboxGateway};

const BASE: &str = "http://localhost:8080";

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
                    order_id: orderpay_domain::order::OrderId::from_uuid(id("order_id")),
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

struct World {
    state: web::Data<AppState>,
    key: String,
}

async fn world() -> World {
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
        },
    );
    let api_keys = ApiKeyService::new(store.clone(), clock);
    let key = api_keys.create("tests").await.unwrap().token;
    let public = PublicServices {
        payments: payments.clone(),
        orders: orders.clone(),
    };
    // Webhooks out are not exercised here: no call may reach these.
    let outbound = WebhookService::new(
        Arc::new(MockWebhookRepository::new()),
        Arc::new(MockSecrets::new()),
        Arc::new(SystemClock),
        UrlPolicy::AllowPrivate,
        chrono::TimeDelta::hours(24),
    );
    let state = web::Data::new(AppState {
        outbound,
        public,
        limits: Limits::new(LimitSettings::NONE),
        customers,
        orders,
        payments,
        api_keys,
        idempotency: store.clone(),
        idempotency_ttl: chrono::TimeDelta::hours(24),
        sandbox: true,
        webhooks: Some(Arc::new(FakeFeed)),
        default_region: None,
        readiness: Arc::new(|| Box::pin(async { Ok(()) })),
        shutting_down: Arc::new(AtomicBool::new(false)),
    });
    World { state, key }
}

macro_rules! app {
    ($w:expr) => {
        test::init_service(
            App::new()
                .app_data($w.state.clone())
                .wrap(from_fn(orderpay_http::request_context))
                .configure(orderpay_http::routes),
        )
        .await
    };
}

async fn body(response: ServiceResponse) -> Value {
    let bytes = to_bytes(response.into_body()).await.unwrap();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

async fn call<S>(app: &S, request: test::TestRequest) -> (StatusCode, Value, Option<String>)
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let response = test::call_service(app, request.to_request()).await;
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, body(response).await, location)
}

/// A pending order of 12.00 eur and its pay link.
async fn order_and_link<S>(app: &S, key: &str) -> (String, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let auth = ("authorization", format!("Bearer {key}"));
    let (status, order, _) = call(
        app,
        test::TestRequest::post()
            .uri("/v1/orders")
            .insert_header(auth.clone())
            .set_json(
                json!({"customer": {"phone": "+14155550100", "name": "Ada"}, "currency": "eur",
                             "items": [{"name": "Tea", "quantity": 2, "unit_amount": 600}]}),
            ),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    let (status, link, _) = call(
        app,
        test::TestRequest::post()
            .uri(&format!("/v1/orders/{id}/payment-link"))
            .insert_header(auth),
    )
    .await;
    assert_eq!(status, 200, "{link}");
    (id, link)
}

#[actix_web::test]
async fn the_pay_link_redirects_to_the_sandbox_and_pay_pays() {
    let w = world().await;
    let app = app!(w);
    let (id, link) = order_and_link(&app, &w.key).await;
    let path = link["url"]
        .as_str()
        .unwrap()
        .strip_prefix(BASE)
        .unwrap()
        .to_owned();

    let (status, _, checkout) = call(&app, test::TestRequest::get().uri(&path)).await;
    assert_eq!(status, 303);
    let checkout = checkout.unwrap().strip_prefix(BASE).unwrap().to_owned();
    assert!(checkout.starts_with("/sandbox/checkout/"), "{checkout}");
    let (_, _, again) = call(&app, test::TestRequest::get().uri(&path)).await;
    assert_eq!(
        again.unwrap().strip_prefix(BASE).unwrap(),
        checkout,
        "one session"
    );

    let (status, _, done) = call(
        &app,
        test::TestRequest::post()
            .uri(&format!("{checkout}/pay"))
            .insert_header(("origin", BASE)),
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        done.unwrap(),
        format!("{}/done", link["url"].as_str().unwrap())
    );
    let order = w
        .state
        .orders
        .get(
            id.parse::<uuid::Uuid>()
                .map(orderpay_domain::order::OrderId::from_uuid)
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(order.status().as_str(), "paid");
}

#[actix_web::test]
async fn webhooks_verify_apply_once_and_ask_again_for_unknown_payments() {
    let w = world().await;
    let app = app!(w);
    let (id, link) = order_and_link(&app, &w.key).await;
    let payment = link["payment_id"].as_str().unwrap();
    let event = json!({"id": "evt_1", "payment_id": payment, "order_id": id});
    let deliver = |signature: &'static str, event: Value| {
        test::TestRequest::post()
            .uri("/webhooks/stripe")
            .insert_header(("stripe-signature", signature))
            .set_json(event)
    };

    let (status, problem, _) = call(&app, deliver("bad", event.clone())).await;
    assert_eq!(status, 400);
    assert_eq!(problem["code"], "invalid_signature");
    let (status, body, _) = call(&app, deliver("good", event.clone())).await;
    assert_eq!(
        (status.as_u16(), body["outcome"].as_str()),
        (200, Some("applied"))
    );
    let (_, body, _) = call(&app, deliver("good", event)).await;
    assert_eq!(body["outcome"], "duplicate");

    let unknown = json!({"id": "evt_2", "payment_id": uuid::Uuid::now_v7(), "order_id": id});
    let (status, _, _) = call(&app, deliver("good", unknown)).await;
    assert_eq!(status, 503);
}

/// The answer's status and headers.
async fn headers_of<S>(app: &S, request: test::TestRequest) -> (StatusCode, HeaderMap)
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let response = test::call_service(app, request.to_request()).await;
    (response.status(), response.headers().clone())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .map_or("", |v| v.to_str().unwrap_or_default())
}

#[actix_web::test]
async fn every_page_a_customer_sees_carries_protective_headers() {
    let w = world().await;
    let app = app!(w);
    let (_, link) = order_and_link(&app, &w.key).await;
    let pay = link["url"].as_str().unwrap().strip_prefix(BASE).unwrap();
    let (_, _, checkout) = call(&app, test::TestRequest::get().uri(pay)).await;
    let checkout = checkout.unwrap().strip_prefix(BASE).unwrap().to_owned();
    for page in [
        checkout.clone(),
        format!("{pay}/done"),
        "/pay/not-a-token".to_owned(),
    ] {
        let (status, headers) = headers_of(&app, test::TestRequest::get().uri(&page)).await;
        assert!(
            header(&headers, "content-type").starts_with("text/html"),
            "{page}: {status}"
        );
        let csp = header(&headers, "content-security-policy");
        for directive in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "style-src 'sha256-",
        ] {
            assert!(csp.contains(directive), "{page}: {csp}");
        }
        assert_eq!(header(&headers, "referrer-policy"), "no-referrer", "{page}");
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
        assert_eq!(header(&headers, "cache-control"), "no-store");
    }
    // API answers hold personal data: never cached.
    let (status, headers) = headers_of(
        &app,
        test::TestRequest::get()
            .uri("/v1/customers?phone=%2B14155550100")
            .insert_header(("authorization", format!("Bearer {}", w.key))),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "cache-control"), "no-store");
}

#[actix_web::test]
async fn invisible_formatting_in_names_is_refused_and_emoji_kept() {
    let w = world().await;
    let app = app!(w);
    let auth = ("authorization", format!("Bearer {}", w.key));
    let order = |item: &str, customer: &str| {
        test::TestRequest::post()
            .uri("/v1/orders")
            .insert_header(auth.clone())
            .set_json(
                json!({"customer": {"phone": "+14155550111", "name": customer},
                             "currency": "eur",
                             "items": [{"name": item, "quantity": 1, "unit_amount": 600}]}),
            )
    };
    let (status, problem, _) = call(&app, order("Tea\u{202E}gnp.exe", "Ada\u{200B}")).await;
    assert_eq!(status, 422, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["customer.name", "items[0].name"], "{problem}");
    let (_, list, _) = call(
        &app,
        test::TestRequest::get()
            .uri("/v1/orders")
            .insert_header(auth.clone()),
    )
    .await;
    assert_eq!(list["data"], json!([]), "nothing was stored");

    let (status, created, _) = call(&app, order("👩\u{200D}💻 sticker", "Ada")).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["items"][0]["name"], "👩\u{200D}💻 sticker");
}

#[actix_web::test]
async fn sandbox_buttons_refuse_other_sites_and_closed_sessions() {
    let w = world().await;
    let app = app!(w);
    let auth = ("authorization", format!("Bearer {}", w.key));
    let status_of = |id: String| {
        let state = w.state.clone();
        async move {
            let id = orderpay_domain::order::OrderId::from_uuid(id.parse().unwrap());
            state.orders.get(id).await.unwrap().status().as_str()
        }
    };
    let (id, link) = order_and_link(&app, &w.key).await;
    let pay = link["url"]
        .as_str()
        .unwrap()
        .strip_prefix(BASE)
        .unwrap()
        .to_owned();
    let (_, _, checkout) = call(&app, test::TestRequest::get().uri(&pay)).await;
    let checkout = checkout.unwrap().strip_prefix(BASE).unwrap().to_owned();
    let press = |choice: &str, headers: &[(&'static str, &'static str)]| {
        let mut request = test::TestRequest::post().uri(&format!("{checkout}/{choice}"));
        for header in headers {
            request = request.insert_header(*header);
        }
        request
    };

    // Another site's form, or no sign of where it came from: refused, nothing changes.
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("origin", "null"), ("referer", "https://evil.example/page")],
        vec![("origin", "null"), ("sec-fetch-site", "cross-site")],
        vec![],
    ] {
        let (status, _, _) = call(&app, press("pay", &headers)).await;
        assert_eq!(status, 403, "{headers:?}");
    }
    assert_eq!(status_of(id.clone()).await, "pending_payment");

    // Declined on the page itself (a no-referrer page's form sends `Origin: null`)...
    let (status, _, _) = call(
        &app,
        press(
            "decline",
            &[("origin", "null"), ("sec-fetch-site", "same-origin")],
        ),
    )
    .await;
    assert_eq!(status, 303);
    // ...the failed session takes no further choice: Pay there is 409 and pays nothing.
    let (status, _, _) = call(&app, press("pay", &[("origin", BASE)])).await;
    assert_eq!(status, 409);
    assert_eq!(status_of(id.clone()).await, "pending_payment");

    // A cancelled order's session takes no choice either.
    let (_, _, checkout2) = call(&app, test::TestRequest::get().uri(&pay)).await;
    let checkout2 = checkout2.unwrap().strip_prefix(BASE).unwrap().to_owned();
    assert_ne!(checkout2, checkout, "a new attempt");
    let (status, _, _) = call(
        &app,
        test::TestRequest::post()
            .uri(&format!("/v1/orders/{id}/cancel"))
            .insert_header(auth),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = call(
        &app,
        test::TestRequest::post()
            .uri(&format!("{checkout2}/pay"))
            .insert_header(("referer", "http://localhost:8080/sandbox/checkout/x")),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(status_of(id).await, "cancelled");
}

#[actix_web::test]
async fn the_openapi_document_and_the_docs_page_are_served() {
    let w = world().await;
    let app = app!(w);
    let (status, doc, _) = call(&app, test::TestRequest::get().uri("/openapi.json")).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let codes = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap();
    assert!(
        codes.contains(&json!("idempotency_key_reused")),
        "{codes:?}"
    );
    // The answers given before a handler runs are on every operation they apply to.
    let create = &doc["paths"]["/v1/orders"]["post"]["responses"];
    for status in ["400", "401", "403", "413", "415", "429", "503"] {
        assert!(create[status].is_object(), "POST /v1/orders lacks {status}");
    }
    assert!(doc["paths"]["/healthz"]["get"]["responses"]["401"].is_null());

    // Every route of the README's API table is in the document, with its method.
    let readme = include_str!("../../../README.md");
    let table = readme.split("## The API at a glance").nth(1).unwrap();
    let mut routes = 0;
    for row in table.lines().take_while(|l| !l.starts_with("##")) {
        let Some(cell) = row.strip_prefix("| `").and_then(|r| r.split('`').next()) else {
            continue;
        };
        let Some((method, path)) = cell.split_once(' ') else {
            continue;
        };
        let path = path.split('?').next().unwrap();
        let operation = &doc["paths"][path][method.to_ascii_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {path} is not in /openapi.json"
        );
        routes += 1;
    }
    assert!(routes >= 15, "only {routes} routes read from the README");

    // Another method on a documented route: 405 with the methods it takes (RFC 9110).
    let (status, headers) = headers_of(
        &app,
        test::TestRequest::default()
            .method(actix_web::http::Method::TRACE)
            .uri("/healthz"),
    )
    .await;
    assert_eq!(status, 405);
    assert_eq!(header(&headers, "allow"), "GET");
    let (status, headers) = headers_of(
        &app,
        test::TestRequest::delete()
            .uri("/v1/orders")
            .insert_header(("authorization", format!("Bearer {}", w.key))),
    )
    .await;
    assert_eq!(status, 405);
    assert_eq!(header(&headers, "allow"), "GET, POST");

    let (status, _, to) = call(&app, test::TestRequest::get().uri("/docs")).await;
    assert!(
        matches!(status.as_u16(), 200 | 301 | 302 | 303 | 308),
        "{status} {to:?}"
    );
    let response =
        test::call_service(&app, test::TestRequest::get().uri("/docs/").to_request()).await;
    assert_eq!(response.status(), 200);
    let page = to_bytes(response.into_body()).await.unwrap();
    assert!(
        String::from_utf8_lossy(&page).contains("swagger"),
        "the embedded Swagger UI"
    );
}

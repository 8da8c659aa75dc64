//! The service against its own document: every operation in `/openapi.json` is called on the
//! running service (Stripe faked, as in `stripe`) with valid input and with invalid input. Each
//! answer's status must be one the operation documents (2xx/3xx for valid input, 4xx for
//! invalid, never 5xx) and its body must match the schema documented for that status and
//! content type. Valid input comes from the document itself (request examples) and from a
//! fixture table by parameter name; invalid input is derived from each parameter's schema. An
//! operation the table cannot call fails the test, so a new route cannot go unchecked.

mod schema;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::Method;
use serde_json::{Value, json};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{TestApp, no_redirects};
use crate::stripe::{
    WEBHOOK_SECRET, deliver, fake_stripe, order_with_payment, refund_json, session_event,
    stripe_app,
};

/// One call: what is sent, and whether the input is meant to be valid.
struct Case {
    label: String,
    method: Method,
    path: String,
    query: String,
    headers: Vec<(&'static str, String)>,
    body: Option<(&'static str, Vec<u8>)>,
    authorized: bool,
    valid: bool,
}

impl Case {
    fn new(label: impl Into<String>, method: &Method, path: &str, valid: bool) -> Self {
        Case {
            label: label.into(),
            method: method.clone(),
            path: path.to_owned(),
            query: String::new(),
            headers: Vec::new(),
            body: None,
            authorized: true,
            valid,
        }
    }

    fn json(mut self, body: &Value) -> Self {
        self.body = Some(("application/json", serde_json::to_vec(body).unwrap()));
        self
    }
}

/// The orders and customer the calls act on, made through the API.
struct Fixtures {
    values: BTreeMap<&'static str, String>,
    paid_order: String,
    /// One per valid call: a cancelled order cannot be cancelled again.
    cancellable: Vec<String>,
    paid_event: Value,
}

impl Fixtures {
    async fn new(app: &TestApp, stripe: &wiremock::MockServer) -> Self {
        // A receiver for webhooks out, subscribed before the orders so they have deliveries.
        let receiver = wiremock::MockServer::start().await;
        Mock::given(wiremock::matchers::method("POST"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&receiver)
            .await;
        let subscription =
            json!({"url": format!("{}/hooks", receiver.uri()), "enabled_events": ["*"]});
        let endpoint: Value = app
            .post("/v1/webhook_endpoints", &subscription)
            .await
            .json()
            .await
            .unwrap();
        let doomed: Value = app
            .post("/v1/webhook_endpoints", &subscription)
            .await
            .json()
            .await
            .unwrap();
        let endpoint = endpoint["id"].as_str().unwrap().to_owned();
        let (pending, payment) = order_with_payment(app, "+14155550170").await;
        let pending_order = app.order(&pending).await;
        let link = app.payment_link(&pending).await;
        let token = link["url"].as_str().unwrap().rsplit('/').next().unwrap();
        let (paid, paid_payment) = order_with_payment(app, "+14155550171").await;
        let paid_event = session_event(
            "evt_paid",
            "checkout.session.completed",
            &paid,
            &paid_payment,
            json!({}),
        );
        assert_eq!(deliver(&app.address, &paid_event).await.status(), 200);
        // Stripe refunds what it is asked, each refund with an id of its own.
        let intent = format!("pi_{}", &paid_payment[..8]);
        let refunds = AtomicUsize::new(0);
        Mock::given(wiremock::matchers::method("POST"))
            .and(wiremock::matchers::path("/v1/refunds"))
            .respond_with(move |request: &wiremock::Request| {
                let amount = url::form_urlencoded::parse(&request.body)
                    .find(|(k, _)| k == "amount")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let n = refunds.fetch_add(1, Ordering::Relaxed);
                ResponseTemplate::new(200).set_body_json(refund_json(
                    &format!("re_{n}"),
                    amount,
                    &intent,
                ))
            })
            .mount(stripe)
            .await;
        let c = app.create_customer("+14155550172", "Grace").await;
        let mut cancellable = Vec::new();
        for _ in 0..2 {
            let order = app
                .create_order(
                    c["id"].as_str().unwrap(),
                    json!([{"name": "Cake", "quantity": 1, "unit_amount": 300}]),
                )
                .await;
            cancellable.push(order["id"].as_str().unwrap().to_owned());
        }
        let deliveries: Value = app
            .get(&format!(
                "/v1/webhook_endpoints/{endpoint}/deliveries?limit=1"
            ))
            .await
            .json()
            .await
            .unwrap();
        let events: Value = app.get("/v1/events?limit=1").await.json().await.unwrap();
        let values = BTreeMap::from([
            ("endpoint", endpoint),
            ("doomed_endpoint", doomed["id"].as_str().unwrap().to_owned()),
            (
                "delivery",
                deliveries["data"][0]["id"].as_str().unwrap().to_owned(),
            ),
            (
                "event",
                events["data"][0]["id"].as_str().unwrap().to_owned(),
            ),
            ("customer", c["id"].as_str().unwrap().to_owned()),
            ("order", pending),
            ("payment", payment),
            (
                "reference",
                pending_order["reference"].as_str().unwrap().to_owned(),
            ),
            ("token", token.to_owned()),
        ]);
        Fixtures {
            values,
            paid_order: paid,
            cancellable,
            paid_event,
        }
    }

    /// A value the service accepts for the path parameter `name` of `path`, in its `nth` valid
    /// call.
    fn path_value(&self, method: &Method, path: &str, name: &str, nth: usize) -> String {
        let key = match (name, path) {
            ("id", p) if p.starts_with("/v1/webhook_endpoints") && method == Method::DELETE => {
                "doomed_endpoint"
            }
            ("id", p) if p.starts_with("/v1/webhook_endpoints") => "endpoint",
            ("id", p) if p.starts_with("/v1/events") => "event",
            ("delivery_id", _) => "delivery",
            ("id", p) if p.starts_with("/v1/customers") => "customer",
            ("id", p) if p.ends_with("/refunds") || p.ends_with("/clear-flags") => {
                return self.paid_order.clone();
            }
            ("id", p) if p.ends_with("/cancel") => return self.cancellable[nth].clone(),
            ("id", _) => "order",
            (other, _) => other,
        };
        self.values
            .get(key)
            .unwrap_or_else(|| panic!("no valid value for path parameter `{name}` of {path}"))
            .clone()
    }

    /// A value the service accepts for the query parameter `name` of `path`.
    fn query_value(&self, path: &str, name: &str) -> String {
        match name {
            "phone" => "+14155550172".into(),
            "limit" => "2".into(),
            "status" => "paid".into(),
            "customer_id" => self.values["customer"].clone(),
            "type" => "order.paid".into(),
            "starting_after" if path.starts_with("/v1/orders") => self.values["order"].clone(),
            "starting_after" if path.starts_with("/v1/events") => self.values["event"].clone(),
            "starting_after" if path.ends_with("/deliveries") => self.values["delivery"].clone(),
            "starting_after" if path.starts_with("/v1/webhook_endpoints") => {
                self.values["endpoint"].clone()
            }
            "starting_after" => self.values["customer"].clone(),
            other => panic!("no valid value for query parameter `{other}`"),
        }
    }
}

/// A value the parameter's schema refuses (or, with no constraint, the service does).
fn invalid_value(schema: &Value) -> &'static str {
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (Some("integer"), _) => "0.5",
        (_, Some("uuid")) => "not-a-uuid",
        _ if schema.get("pattern").is_some() => "no such value",
        _ if schema.get("maxLength").is_some() => "",
        _ => "12",
    }
}

/// The operations of the document: (path, method, operation).
fn operations(doc: &Value) -> Vec<(String, Method, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            out.push((path.clone(), method, op.clone()));
        }
    }
    out
}

/// The schema a `$ref` or inline schema names, resolved once.
fn resolved<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap_or(schema),
        None => schema,
    }
}

/// The valid and invalid calls of one operation.
fn cases(doc: &Value, fx: &Fixtures, path: &str, method: &Method, op: &Value) -> Vec<Case> {
    let params = op["parameters"].as_array().cloned().unwrap_or_default();
    let concrete_for = |nth: usize| {
        let mut concrete = path.to_owned();
        for p in params.iter().filter(|p| p["in"] == "path") {
            let name = p["name"].as_str().unwrap();
            let value = fx.path_value(method, path, name, nth);
            concrete = concrete.replace(&format!("{{{name}}}"), &value);
        }
        concrete
    };
    let concrete = concrete_for(0);
    // `security: [{}]` says no key is needed; a `bearer` requirement says one is.
    let secured = op["security"][0]["bearer"].is_array();
    let mut out = Vec::new();
    if path == "/webhooks/stripe" {
        // Valid: the paid event again, signed (a duplicate Stripe may send).
        let body = serde_json::to_vec(&fx.paid_event).unwrap();
        let now = chrono::Utc::now().timestamp();
        let mut signed = Case::new("signed event", method, path, true);
        signed.headers.push((
            "stripe-signature",
            orderpay_stripe::signature_header(WEBHOOK_SECRET, &body, now),
        ));
        signed.body = Some(("application/json", body.clone()));
        out.push(signed);
        let mut forged = Case::new("forged signature", method, path, false);
        forged.headers.push((
            "stripe-signature",
            orderpay_stripe::signature_header("whsec_wrong", &body, now),
        ));
        forged.body = Some(("application/json", body));
        out.push(forged);
        return out;
    }
    let example = op["requestBody"]["content"]["application/json"]["schema"]
        .as_object()
        .map(|_| {
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            let schema = match schema.get("oneOf") {
                Some(options) => &options[0],
                None => schema,
            };
            resolved(doc, schema)["example"].clone()
        });
    if let Some(Value::Null) = example {
        panic!("{method} {path}: its request body has no example to send");
    }
    let valid = |label: &str| {
        let case = Case::new(format!("{method} {path} {label}"), method, &concrete, true);
        match &example {
            Some(body) => case.json(&unique_phone(body)),
            None => case,
        }
    };
    // A required query parameter is part of every call as documented.
    let required_query: Vec<String> = params
        .iter()
        .filter(|p| p["in"] == "query" && p["required"] == true)
        .map(|p| {
            let name = p["name"].as_str().unwrap();
            format!("{name}={}", urlencode(&fx.query_value(path, name)))
        })
        .collect();
    let mut documented = valid("as documented");
    documented.query = required_query.join("&");
    out.push(documented);
    for p in &params {
        let name = p["name"].as_str().unwrap();
        let schema = &p["schema"];
        match p["in"].as_str().unwrap() {
            "query" => {
                let mut with = valid(&format!("?{name}"));
                with.query = format!("{name}={}", urlencode(&fx.query_value(path, name)));
                out.push(with);
                let mut bad = valid(&format!("?{name} invalid"));
                bad.valid = false;
                bad.query = format!("{name}={}", urlencode(invalid_value(schema)));
                out.push(bad);
            }
            "path" => {
                let unknown = match name {
                    "reference" => "ZZZZ-ZZZZ".to_owned(),
                    "token" => "0".repeat(40),
                    _ => "01900000-0000-7000-8000-000000000000".to_owned(),
                };
                let real = fx.path_value(method, path, name, 0);
                let mut bad = valid(&format!("unknown {name}"));
                bad.valid = false;
                bad.path = concrete.replace(&real, &unknown);
                out.push(bad);
            }
            "header" if name == "Idempotency-Key" => {
                let mut keyed = valid("with an Idempotency-Key");
                keyed.path = concrete_for(1);
                keyed
                    .headers
                    .push(("idempotency-key", format!("conformance-{path}")));
                out.push(keyed);
                let mut bad = valid("with an over-long Idempotency-Key");
                bad.valid = false;
                bad.headers.push(("idempotency-key", "k".repeat(256)));
                out.push(bad);
            }
            other => panic!("{method} {path}: no cases for the {other} parameter `{name}`"),
        }
    }
    if example.is_some() {
        let mut unknown = valid("with an unknown field");
        unknown.valid = false;
        unknown = unknown.json(&json!({"no_such_field": true}));
        out.push(unknown);
        let mut malformed = valid("with malformed JSON");
        malformed.valid = false;
        malformed.body = Some(("application/json", b"{\"a\": ".to_vec()));
        out.push(malformed);
        let mut form = valid("as a form");
        form.valid = false;
        form.body = Some(("application/x-www-form-urlencoded", b"a=1".to_vec()));
        out.push(form);
    }
    if secured {
        let mut anonymous = valid("without an API key");
        anonymous.valid = false;
        anonymous.authorized = false;
        out.push(anonymous);
    }
    out
}

/// The example with a phone no call has used yet, so that creating a customer twice is two
/// customers, not a conflict.
fn unique_phone(example: &Value) -> Value {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let mut body = example.clone();
    if body.get("phone").is_some() {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        body["phone"] = json!(format!("+1415555{:04}", 8000 + n));
    }
    body
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// What is wrong with the answer to `case`, judged by the operation's document.
async fn judge(doc: &Value, op: &Value, case: &Case, response: reqwest::Response) -> Vec<String> {
    let status = response.status().as_u16();
    let mut wrong = Vec::new();
    // This service's provider is Stripe (faked): the sandbox's test helpers are not there,
    // and a call that is otherwise valid is answered 404.
    let sandbox_only = op["tags"][0] == "test_helpers";
    if sandbox_only && case.valid && status != 404 {
        wrong.push(format!(
            "answered {status}; only the sandbox has test helpers"
        ));
    }
    let expected_class = if sandbox_only {
        [400, 400]
    } else if case.valid {
        [200, 300]
    } else {
        [400, 400]
    };
    if !(expected_class[0]..expected_class[1] + 100).contains(&status) {
        wrong.push(format!(
            "answered {status} to {} input",
            if case.valid { "valid" } else { "invalid" }
        ));
    }
    let Some(documented) = op["responses"].get(status.to_string()) else {
        wrong.push(format!(
            "answered {status}, which the document does not list"
        ));
        return wrong;
    };
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_owned())
        .unwrap_or_default();
    let body = response.bytes().await.unwrap_or_default();
    let Some(contents) = documented["content"].as_object() else {
        return wrong;
    };
    let Some(content) = contents.get(&content_type) else {
        wrong.push(format!(
            "answered {status} as `{content_type}`, documented as {:?}",
            contents.keys().collect::<Vec<_>>()
        ));
        return wrong;
    };
    if content_type.ends_with("json") {
        match serde_json::from_slice::<Value>(&body) {
            Ok(value) => {
                for v in schema::violations(doc, &content["schema"], &value) {
                    wrong.push(format!("{status} body: {v}"));
                }
            }
            Err(e) => wrong.push(format!("{status} body is not JSON: {e}")),
        }
    }
    wrong
}

async fn send(app: &TestApp, case: &Case) -> reqwest::Response {
    let mut url = app.url(&case.path);
    if !case.query.is_empty() {
        url = format!("{url}?{}", case.query);
    }
    let mut request = no_redirects().request(case.method.clone(), url);
    if case.method == Method::POST && case.path.starts_with("/pay/") {
        // The pay link's page posts its own form, as a browser does from a no-referrer page.
        request = request
            .header("origin", "null")
            .header("sec-fetch-site", "same-origin");
    }
    if case.authorized {
        request = request.bearer_auth(&app.api_key);
    }
    for (name, value) in &case.headers {
        request = request.header(*name, value);
    }
    if let Some((content_type, body)) = &case.body {
        request = request
            .header("content-type", *content_type)
            .body(body.clone());
    }
    request.send().await.expect("request sent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_valid_and_invalid_input_as_its_document_says() {
    let stripe = fake_stripe().await;
    let app = stripe_app(&stripe).await;
    let fx = Fixtures::new(&app, &stripe).await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();

    let mut failures = Vec::new();
    let mut calls = 0;
    for (path, method, op) in operations(&doc) {
        let cases = cases(&doc, &fx, &path, &method, &op);
        let takes_input = op["parameters"].as_array().is_some_and(|p| !p.is_empty())
            || op.get("requestBody").is_some()
            || op["security"][0]["bearer"].is_array();
        assert!(
            cases.iter().any(|c| c.valid),
            "{method} {path}: no valid call"
        );
        assert!(
            !takes_input || cases.iter().any(|c| !c.valid),
            "{method} {path}: no invalid call"
        );
        for case in &cases {
            calls += 1;
            let response = send(&app, case).await;
            for wrong in judge(&doc, &op, case, response).await {
                failures.push(format!("{}: {wrong}", case.label));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(calls > 60, "only {calls} calls made");
}

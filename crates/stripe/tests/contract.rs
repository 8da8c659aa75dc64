//! The Stripe gateway keeps the `PaymentGateway` contract (the sandbox keeps the same one),
//! against a fake of Stripe's API that remembers what it was asked as Stripe does: requests
//! by their `Idempotency-Key`, sessions by id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use orderpay_domain::payment::PaymentGateway;
use orderpay_stripe::StripeGateway;
use orderpay_stripe::testing::{checkout_session_json, refund_json};

#[derive(Default)]
struct Remembered {
    /// Answers by idempotency key: a retried request gets the first answer.
    by_key: HashMap<String, Value>,
    sessions: HashMap<String, Value>,
    made: usize,
}

/// Stripe's Checkout Sessions, their expiry, and refunds, with Stripe's idempotency.
#[derive(Clone, Default)]
struct FakeStripe(Arc<Mutex<Remembered>>);

fn form(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn not_found(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({"error": {
        "type": "invalid_request_error", "code": "resource_missing",
        "message": format!("No such checkout.session: '{id}'")}}))
}

impl Respond for FakeStripe {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut seen = self.0.lock().unwrap();
        let key = request
            .headers
            .get("idempotency-key")
            .map(|k| format!("{} {}", request.url.path(), k.to_str().unwrap()));
        if let Some(answer) = key.as_ref().and_then(|k| seen.by_key.get(k)) {
            return ResponseTemplate::new(200).set_body_json(answer.clone());
        }
        let path: Vec<&str> = request.url.path().trim_matches('/').split('/').collect();
        let answer = match (request.method.as_str(), path.as_slice()) {
            ("POST", ["v1", "checkout", "sessions"]) => {
                seen.made += 1;
                let id = format!("cs_test_{}", seen.made);
                let expires_at: i64 = form(request)["expires_at"].parse().unwrap();
                let session = checkout_session_json(&id, expires_at);
                seen.sessions.insert(id, session.clone());
                session
            }
            ("POST", ["v1", "checkout", "sessions", id, "expire"]) => {
                let Some(session) = seen.sessions.get_mut(*id) else {
                    return not_found(id);
                };
                session["status"] = json!("expired");
                session.clone()
            }
            ("GET", ["v1", "checkout", "sessions", id]) => match seen.sessions.get(*id) {
                Some(session) => session.clone(),
                None => return not_found(id),
            },
            ("POST", ["v1", "refunds"]) => {
                seen.made += 1;
                let form = form(request);
                let amount: i64 = form["amount"].parse().unwrap();
                refund_json(
                    &format!("re_{}", seen.made),
                    amount,
                    &form["payment_intent"],
                )
            }
            _ => {
                return ResponseTemplate::new(400).set_body_json(json!({"error": {
                "type": "invalid_request_error", "message": "not faked"}}));
            }
        };
        if let Some(key) = key {
            seen.by_key.insert(key, answer.clone());
        }
        ResponseTemplate::new(200).set_body_json(answer)
    }
}

#[tokio::test]
async fn the_stripe_gateway_keeps_the_gateway_contract() {
    orderpay_domain::contract::run_gateway(async || {
        let stripe = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(FakeStripe::default())
            .mount(&stripe)
            .await;
        let gateway =
            StripeGateway::new("sk_test_contract", &stripe.uri(), Duration::from_secs(5)).unwrap();
        WithFake {
            gateway,
            _stripe: stripe,
        }
    })
    .await;
}

/// A gateway and the fake Stripe it talks to, kept alive with it.
struct WithFake {
    gateway: StripeGateway,
    _stripe: MockServer,
}

impl AsRef<dyn PaymentGateway> for WithFake {
    fn as_ref(&self) -> &(dyn PaymentGateway + 'static) {
        &self.gateway
    }
}

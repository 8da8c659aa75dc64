//! Money at the Stripe boundary, against a fake that behaves as Stripe does where it matters:
//! its own units per currency, idempotency keys that replay the first answer and refuse other
//! parameters, and answers that can be lost on the way back.
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wiremock::Respond;

use super::*;
use crate::helpers::no_redirects;
use orderpay_stripe::testing::refund_json;

/// Stripe's idempotency: a key's first answer is replayed for the same parameters, and any
/// other parameters under it are refused with `idempotency_error` (400). Parameters are
/// compared as Stripe reads them, as a set of fields (async-stripe writes metadata from a
/// `HashMap`, whose order differs from one request to the next). `lose_first` answers
/// the first request 500 after Stripe did the work, as a cut connection would leave it.
struct StripeLike {
    seen: Mutex<HashMap<String, Vec<(String, String)>>>,
    lose_first: AtomicBool,
    answer: fn(&Request) -> ResponseTemplate,
}

impl Respond for StripeLike {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let key = request
            .headers
            .get("idempotency-key")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let mut params: Vec<(String, String)> = form(request).into_iter().collect();
        params.sort();
        let mut seen = self.seen.lock().unwrap();
        if let Some(first) = seen.get(&key)
            && first != &params
        {
            return ResponseTemplate::new(400).set_body_json(json!({"error": {
                "type": "idempotency_error",
                "message": "Keys for idempotent requests can only be used with the same parameters they were first used with."}}));
        }
        seen.insert(key, params);
        if self.lose_first.swap(false, Ordering::SeqCst) {
            return ResponseTemplate::new(500)
                .set_body_json(json!({"error": {"type": "api_error", "message": "lost"}}));
        }
        (self.answer)(request)
    }
}

fn form(request: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A session for the payment in the request's metadata, expiring when the request says.
fn session_answer(request: &Request) -> ResponseTemplate {
    let form = form(request);
    let id = format!("cs_test_{}", form["metadata[payment_id]"].replace('-', ""));
    let expires_at: i64 = form["expires_at"].parse().unwrap();
    ResponseTemplate::new(200).set_body_json(orderpay_stripe::testing::checkout_session_json(
        &id, expires_at,
    ))
}

/// A refund of the amount asked, whose id follows from the key (a replay answers the same).
fn refund_answer(request: &Request) -> ResponseTemplate {
    let form = form(request);
    let key = request.headers["idempotency-key"].to_str().unwrap();
    let id = format!("re_{}", key.replace('-', "_"));
    let amount: i64 = form["amount"].parse().unwrap();
    ResponseTemplate::new(200)
        .set_body_json(refund_json(&id, amount, &form["payment_intent"]))
        // Slow enough that two refunds at once would overlap without serialising.
        .set_delay(Duration::from_millis(300))
}

async fn stripe_like(lose_first_checkout: bool) -> MockServer {
    stripe_losing(lose_first_checkout, false).await
}

/// As `stripe_like`, choosing which first answer is lost: a checkout's, a refund's.
async fn stripe_losing(checkout: bool, refund: bool) -> MockServer {
    let stripe = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/v1/checkout/sessions"))
        .respond_with(StripeLike {
            seen: Mutex::default(),
            lose_first: AtomicBool::new(checkout),
            answer: session_answer,
        })
        .mount(&stripe)
        .await;
    Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/v1/refunds"))
        .respond_with(StripeLike {
            seen: Mutex::default(),
            lose_first: AtomicBool::new(refund),
            answer: refund_answer,
        })
        .mount(&stripe)
        .await;
    stripe
}

/// A new order in `currency` with one line of `unit_amount`, as created (or refused).
async fn order_in(
    app: &TestApp,
    phone: &str,
    currency: &str,
    unit_amount: i64,
) -> reqwest::Response {
    app.post(
        "/v1/orders",
        &json!({"customer": {"phone": phone, "name": "Ada"}, "currency": currency,
                "items": [{"name": "Tea", "quantity": 1, "unit_amount": unit_amount}]}),
    )
    .await
}

/// The session request Stripe received for `payment`.
async fn checkout_form(stripe: &MockServer, payment: &str) -> HashMap<String, String> {
    stripe
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v1/checkout/sessions")
        .map(form)
        .find(|f| f["metadata[payment_id]"] == payment)
        .expect("a session request for the payment")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isk_and_mga_reach_stripe_in_its_units_and_their_payments_come_back_in_iso() {
    let stripe = stripe_like(false).await;
    let app = stripe_app(&stripe).await;
    // (currency, ISO minor units, Stripe's units): 5,000 kr and 10.00 Ar.
    for (phone, currency, iso, at_stripe) in [
        ("+14155550101", "isk", 5000, 500_000),
        ("+14155550102", "mga", 1000, 10),
        ("+14155550103", "jpy", 1200, 1200),
    ] {
        let order: Value = order_in(&app, phone, currency, iso)
            .await
            .json()
            .await
            .unwrap();
        let id = order["id"].as_str().unwrap();
        let link = app.payment_link(id).await;
        let payment = link["payment_id"].as_str().unwrap();
        open_checkout(link["url"].as_str().unwrap()).await;
        let sent = checkout_form(&stripe, payment).await;
        assert_eq!(
            sent["line_items[0][price_data][unit_amount]"],
            at_stripe.to_string(),
            "{currency}"
        );
        // Stripe's event carries its own units: the order is paid for exactly its total.
        let completed = session_event(
            &format!("evt_{currency}"),
            "checkout.session.completed",
            id,
            payment,
            json!({"amount_total": at_stripe, "currency": currency}),
        );
        assert_eq!(deliver(&app.address, &completed).await.status(), 200);
        let paid = app.order(id).await;
        assert_eq!(paid["status"], "paid", "{currency}: {paid}");
        assert_eq!(paid["payment"]["amount_received"], iso, "{currency}");
        assert_eq!(paid["flags"], json!([]), "{currency}");
    }
    // Charged 50 kr for a 5,000 kr order (the old bug, seen from Stripe's side): not paid.
    let order: Value = order_in(&app, "+14155550104", "isk", 5000)
        .await
        .json()
        .await
        .unwrap();
    let id = order["id"].as_str().unwrap();
    let link = app.payment_link(id).await;
    let payment = link["payment_id"].as_str().unwrap();
    let short = session_event(
        "evt_isk_short",
        "checkout.session.completed",
        id,
        payment,
        json!({"amount_total": 5000, "currency": "isk"}),
    );
    deliver(&app.address, &short).await;
    let flagged = app.order(id).await;
    assert_eq!(flagged["status"], "pending_payment");
    assert_eq!(flagged["flags"], json!(["amount_mismatch"]));
    // Flagged: no second checkout (and no second charge) until a person clears the flag.
    let refused = app
        .post(&format!("/v1/orders/{id}/payment-link"), &json!({}))
        .await;
    let problem = assert_problem(refused, 409, "order_flagged").await;
    assert_eq!(problem["flags"], json!(["amount_mismatch"]));
    let page = reqwest::get(link["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(page.status(), 200, "a page saying so, not a checkout");
    assert!(page.text().await.unwrap().contains("On hold: "));
    // Lifting the guard is a money decision: the bot's ordinary scopes do not allow it.
    let bot = orderpay::startup::api_keys(&app.store)
        .create_restricted(
            "bot",
            Some(
                [
                    "orders:read",
                    "orders:write",
                    "payments:write",
                    "customers:write",
                ]
                .into_iter()
                .map(|s| orderpay_domain::api_key::Scope::parse(s).unwrap())
                .collect(),
            ),
        )
        .await
        .unwrap()
        .token;
    let by_bot = app
        .client
        .post(app.url(&format!("/v1/orders/{id}/clear-flags")))
        .bearer_auth(&bot)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(by_bot, 403, "insufficient_scope").await;
    assert_eq!(problem["required_scope"], "orders:clear_flags");
    let bad = app
        .post(
            &format!("/v1/orders/{id}/clear-flags"),
            &json!({"flags": ["nonsense"]}),
        )
        .await;
    let problem = assert_problem(bad, 422, "validation_failed").await;
    assert_eq!(crate::helpers::fields(&problem), ["flags[0]"]);
    let cleared = app
        .post(
            &format!("/v1/orders/{id}/clear-flags"),
            &json!({"flags": ["amount_mismatch"]}),
        )
        .await;
    assert_eq!(cleared.status(), 200);
    assert_eq!(cleared.json::<Value>().await.unwrap()["flags"], json!([]));
    assert_eq!(
        app.event_types(id).await.last().unwrap(),
        "order.flag_cleared"
    );
    // The history says who cleared it: the key that asked.
    let history: Value = app
        .get(&format!("/v1/orders/{id}/events"))
        .await
        .json()
        .await
        .unwrap();
    let entry = history["data"].as_array().unwrap().last().unwrap().clone();
    let key_id = app.api_key.split('_').nth(1).map(str::to_owned);
    let keys = orderpay::startup::api_keys(&app.store)
        .list()
        .await
        .unwrap();
    let tests_key = keys
        .iter()
        .find(|k| Some(&k.prefix) == key_id.as_ref())
        .unwrap();
    assert_eq!(
        entry["actor"],
        format!("api_key:{}", tests_key.id),
        "{entry}"
    );
    assert_eq!(entry["reason"], "amount_mismatch");
    let again = app
        .post(&format!("/v1/orders/{id}/payment-link"), &json!({}))
        .await;
    assert_eq!(again.status(), 200, "payable again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_is_409_while_a_delayed_payment_is_processing() {
    let stripe = stripe_like(false).await;
    let app = stripe_app(&stripe).await;
    let (id, payment) = order_with_payment(&app, "+14155550171").await;
    let completed = session_event(
        "evt_debit",
        "checkout.session.completed",
        &id,
        &payment,
        json!({"payment_status": "unpaid"}),
    );
    assert_eq!(deliver(&app.address, &completed).await.status(), 200);
    assert_eq!(app.order(&id).await["payment"]["status"], "processing");
    let cancel = app
        .post(&format!("/v1/orders/{id}/cancel"), &json!({}))
        .await;
    assert_problem(cancel, 409, "payment_processing").await;
    assert_eq!(app.order(&id).await["status"], "pending_payment");
    // The answer asks for a retry later: it is not kept as the key's answer, so the retry
    // with the same key runs again instead of replaying the 409 for a day.
    for attempt in 0..2 {
        let keyed = app
            .request(reqwest::Method::POST, &format!("/v1/orders/{id}/cancel"))
            .header("idempotency-key", "cancel-while-processing")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert!(
            !keyed.headers().contains_key("idempotent-replayed"),
            "attempt {attempt} was a replay"
        );
        assert_problem(keyed, 409, "payment_processing").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amounts_stripe_cannot_express_are_refused_at_creation_naming_the_field() {
    let stripe = stripe_like(false).await;
    let app = stripe_app(&stripe).await;
    for (currency, unit_amount) in [("mga", 1050), ("kwd", 5125), ("bhd", 1001)] {
        let response = order_in(&app, "+14155550111", currency, unit_amount).await;
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(
            crate::helpers::fields(&problem),
            ["items[0].unit_amount"],
            "{currency}: {problem}"
        );
    }
    let (orders, _) = app.counts().await;
    assert_eq!(orders, 0, "nothing stored");
    for (currency, unit_amount) in [("mga", 1000), ("kwd", 5120), ("isk", 5)] {
        let response = order_in(&app, "+14155550111", currency, unit_amount).await;
        assert_eq!(response.status(), 201, "{currency} {unit_amount}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_currency_stripe_does_not_take_or_a_total_under_its_minimum_is_refused_at_the_link() {
    let stripe = stripe_like(false).await;
    let app = stripe_app(&stripe).await;
    // The pay link of a new one-line order, as answered.
    let link_of = async |phone: &str, currency: &str, unit_amount: i64| {
        let order: Value = order_in(&app, phone, currency, unit_amount)
            .await
            .json()
            .await
            .unwrap();
        let path = format!("/v1/orders/{}/payment-link", order["id"].as_str().unwrap());
        app.post(&path, &json!({})).await
    };
    let response = link_of("+14155550121", "usn", 1000).await;
    let problem = assert_problem(response, 422, "currency_not_supported_by_provider").await;
    assert_eq!(problem["currency"], "usn");
    let response = link_of("+14155550122", "usd", 30).await;
    let problem = assert_problem(response, 422, "amount_below_provider_minimum").await;
    assert_eq!(problem["minimum_amount"], 50);
    assert!(
        stripe.received_requests().await.unwrap().is_empty(),
        "Stripe was never asked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_from_stripe_does_not_kill_the_pay_link() {
    let stripe = stripe_like(true).await;
    let app = stripe_app(&stripe).await;
    let (_, link) = app.order_with_link("+14155550131", "Tea").await;
    let url = link["url"].as_str().unwrap();
    // Stripe made the session, the answer was lost: the customer is asked to try again.
    let first = no_redirects()
        .post(url)
        .header("origin", crate::helpers::origin_of(url))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 503);
    // A second later (a fresh `now` would change the request's bytes): the same request,
    // replayed by Stripe, and the customer reaches the checkout.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let to = open_checkout(url).await;
    assert!(
        to.starts_with("https://checkout.stripe.com/c/pay/cs_test_"),
        "{to}"
    );
    let sessions: Vec<_> = stripe
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/checkout/sessions")
        .collect();
    assert_eq!(sessions.len(), 2);
    assert_eq!(
        form(&sessions[0]),
        form(&sessions[1]),
        "the same parameters under one key"
    );
}

/// A paid order of 9.00 usd, through Stripe: its id and PaymentIntent.
async fn paid_order(app: &TestApp, phone: &str) -> (String, String) {
    let (id, payment) = order_with_payment(app, phone).await;
    let completed = session_event(
        "evt_paid",
        "checkout.session.completed",
        &id,
        &payment,
        json!({}),
    );
    assert_eq!(deliver(&app.address, &completed).await.status(), 200);
    (id, format!("pi_{}", &payment[..8]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_partial_refund_refunds_once() {
    let stripe = stripe_like(false).await;
    let app = stripe_app(&stripe).await;
    let (id, _) = paid_order(&app, "+14155550141").await;
    for _ in 0..2 {
        let response = app
            .post(&format!("/v1/orders/{id}/refunds"), &json!({"amount": 300}))
            .await;
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
    }
    let order = app.order(&id).await;
    assert_eq!(order["amount_refunded"], 300, "{order}");
    let keys: Vec<String> = stripe
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/refunds")
        .map(|r| r.headers["idempotency-key"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        keys[0], keys[1],
        "a retry reaches Stripe as the same request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refunds_of_one_payment_add_up() {
    let stripe = stripe_like(false).await;
    let app = stripe_app(&stripe).await;
    let (id, _) = paid_order(&app, "+14155550151").await;
    let path = format!("/v1/orders/{id}/refunds");
    let (three, two) = (json!({"amount": 300}), json!({"amount": 200}));
    let (a, b) = tokio::join!(app.post(&path, &three), app.post(&path, &two));
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let order = app.order(&id).await;
    assert_eq!(order["amount_refunded"], 500, "{order}");
    assert_eq!(order["status"], "partially_refunded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_for_an_unknown_payment_is_retried_while_young_then_ignored() {
    let stripe = stripe_like(false).await;
    let app = stripe_app(&stripe).await;
    let (order, _) = order_with_payment(&app, "+14155550161").await;
    let stranger = uuid::Uuid::now_v7().to_string();
    let mut event = session_event(
        "evt_young",
        "checkout.session.completed",
        &order,
        &stranger,
        json!({}),
    );
    assert_eq!(
        deliver(&app.address, &event).await.status(),
        503,
        "maybe a race: again later"
    );
    event["id"] = json!("evt_old");
    event["created"] = json!(chrono::Utc::now().timestamp() - 3601);
    let response = deliver(&app.address, &event).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap()["outcome"],
        "ignored"
    );
    assert_eq!(app.order(&order).await["status"], "pending_payment");
}

async fn refund_with_key(app: &TestApp, id: &str, key: &str, amount: i64) -> reqwest::Response {
    app.request(reqwest::Method::POST, &format!("/v1/orders/{id}/refunds"))
        .header("idempotency-key", key)
        .json(&json!({"amount": amount}))
        .send()
        .await
        .unwrap()
}

/// The refund keys Stripe saw, in order.
async fn refund_keys(stripe: &MockServer) -> Vec<String> {
    stripe
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/refunds")
        .map(|r| r.headers["idempotency-key"].to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_retried_with_its_key_after_a_lost_answer_refunds_once() {
    let stripe = stripe_losing(false, true).await;
    let app = stripe_app(&stripe).await;
    let (id, _) = paid_order(&app, "+14155550181").await;
    // Stripe refunded, its answer was lost: the client is told to retry.
    let lost = refund_with_key(&app, &id, "refund-1", 300).await;
    assert_problem(lost, 502, "payment_provider_unavailable").await;
    let retried = refund_with_key(&app, &id, "refund-1", 300).await;
    assert_eq!(retried.status(), 200);
    let again = refund_with_key(&app, &id, "refund-1", 300).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(app.order(&id).await["amount_refunded"], 300);
    let keys = refund_keys(&stripe).await;
    assert_eq!(
        keys.len(),
        2,
        "the lost one and its retry; the replay never reached Stripe"
    );
    assert_eq!(keys[0], keys[1], "one refund at Stripe");
    assert!(
        keys[0].contains("-key-"),
        "derived from the client's key: {}",
        keys[0]
    );

    // Two refunds of the same amount, told apart by their keys: both are made.
    let second = refund_with_key(&app, &id, "refund-2", 300).await;
    assert_eq!(second.status(), 200);
    assert_eq!(app.order(&id).await["amount_refunded"], 600);
}

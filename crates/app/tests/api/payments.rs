//! The payment flow through the sandbox provider, over HTTP against PostgreSQL: pay links,
//! checkout redirects, Pay and Decline, history, and the races around them.

use std::collections::HashSet;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, no_redirects, open_checkout, spawn_app};

pub(crate) async fn new_order(app: &TestApp) -> Value {
    let c = app.create_customer("+14155550100", "Ada").await;
    app.create_order(
        c["id"].as_str().unwrap(),
        json!([{"name": "Tea", "quantity": 2, "unit_amount": 450}]),
    )
    .await
}

/// The path of an absolute URL on the app.
fn path_of(app: &TestApp, url: &str) -> String {
    url.strip_prefix(&app.address)
        .unwrap_or_else(|| panic!("{url} is not on {}", app.address))
        .to_owned()
}

/// A new pending order's id and its pay link's URL.
async fn order_and_link(app: &TestApp) -> (String, String) {
    let (id, link) = app.order_with_link("+14155550100", "Tea").await;
    (id, link["url"].as_str().unwrap().to_owned())
}

/// Posts the sandbox's Pay or Decline for the checkout page at `checkout_url`.
async fn sandbox(app: &TestApp, checkout_url: &str, choice: &str) -> reqwest::Response {
    // As a browser posts the page's own form: from the page's origin.
    let origin = checkout_url.split("/sandbox/").next().unwrap();
    no_redirects()
        .post(format!("{checkout_url}/{choice}"))
        .header("origin", origin)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{choice} on {}: {e}", path_of(app, checkout_url)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_pays_through_the_stable_pay_link() {
    let app = spawn_app().await;
    let o = new_order(&app).await;
    let id = o["id"].as_str().unwrap();

    let link = app.payment_link(id).await;
    assert_eq!(link["object"], "payment_link");
    let url = link["url"].as_str().unwrap().to_owned();
    assert!(url.contains("/pay/"), "{url}");
    let token = url.rsplit('/').next().unwrap();
    assert_eq!(token.len(), 40, "160 bits, hex");
    assert!(!token.contains(&o["reference"].as_str().unwrap().replace('-', "")));
    assert_eq!(
        app.payment_link(id).await["url"],
        url.as_str(),
        "the same link again"
    );

    let checkout = open_checkout(&url).await;
    assert!(checkout.contains("/sandbox/checkout/"), "{checkout}");
    assert_eq!(
        open_checkout(&url).await,
        checkout,
        "the open session again"
    );
    let page = reqwest::get(&checkout).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("$9.00") && html.contains("Tea"), "{html}");
    assert!(!html.contains("<script"), "no script needed");

    let paid = sandbox(&app, &checkout, "pay").await;
    assert_eq!(paid.status(), 303);
    let done = paid.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(done, format!("{url}/done"));
    let done_page = reqwest::get(&done).await.unwrap().text().await.unwrap();
    assert!(done_page.contains("Payment received"), "{done_page}");

    let after = app.order(id).await;
    assert_eq!(after["status"], "paid");
    assert_eq!(after["payment"]["status"], "succeeded");
    assert_eq!(after["payment"]["amount_received"], 900);
    assert_eq!(
        app.event_types(id).await,
        [
            "order.created",
            "order.payment_link_created",
            "payment.session_opened",
            "order.paid"
        ]
    );
    // Nothing left to pay: the API says so, and so does the link.
    let again = app
        .post(&format!("/v1/orders/{id}/payment-link"), &json!({}))
        .await;
    assert_problem(again, 409, "order_already_paid").await;
    let page = reqwest::get(&url).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<h1>Paid: $9.00 to orderpay demo shop</h1>")
    );
    // Pressing Pay again (a second tab) changes nothing.
    sandbox(&app, &checkout, "pay").await;
    let types = app.event_types(id).await;
    assert_eq!(types.iter().filter(|t| *t == "order.paid").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declining_leaves_the_order_payable_with_a_new_session() {
    let app = spawn_app().await;
    let (id, url) = order_and_link(&app).await;
    let id = id.as_str();
    let first = open_checkout(&url).await;

    let declined = sandbox(&app, &first, "decline").await;
    assert_eq!(declined.status(), 303);
    assert_eq!(
        declined.headers()["location"].to_str().unwrap(),
        format!("{url}?returned")
    );
    assert_eq!(app.order(id).await["status"], "pending_payment");

    let second = open_checkout(&url).await;
    assert_ne!(second, first, "a fresh session after a failed one");
    sandbox(&app, &second, "pay").await;
    assert_eq!(app.order(id).await["status"], "paid");
    assert_eq!(
        app.event_types(id).await,
        [
            "order.created",
            "order.payment_link_created",
            "payment.session_opened",
            "payment.failed",
            "payment.session_opened",
            "order.paid"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_opens_leave_one_open_session() {
    let app = spawn_app().await;
    let (id, url) = order_and_link(&app).await;
    let id = id.as_str();
    let targets: HashSet<String> = join_all((0..20).map(|_| open_checkout(&url)))
        .await
        .into_iter()
        .collect();
    assert_eq!(targets.len(), 1, "{targets:?}");
    let types = app.event_types(id).await;
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "payment.session_opened")
            .count(),
        1
    );
}

/// The sandbox's page of a cancelled order takes no payment (a real provider's money that
/// arrives all the same is flagged: `stripe::webhooks`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_orders_checkout_takes_no_payment() {
    let app = spawn_app().await;
    let (id, url) = order_and_link(&app).await;
    let id = id.as_str();
    let checkout = open_checkout(&url).await;
    let cancelled = app
        .post(&format!("/v1/orders/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(cancelled.status(), 200);

    // The customer still had the page open and presses Pay.
    let pressed = sandbox(&app, &checkout, "pay").await;
    assert_eq!(pressed.status(), 409);
    let after = app.order(id).await;
    assert_eq!(after["status"], "cancelled");
    assert_ne!(
        after["payment"]["status"], "succeeded",
        "no money was taken"
    );

    let link = app
        .post(&format!("/v1/orders/{id}/payment-link"), &json!({}))
        .await;
    assert_problem(link, 409, "order_cancelled").await;
    let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(page.contains("cancelled"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_pay_links_and_sessions_are_plain_404_pages() {
    let app = spawn_app().await;
    for path in [
        "/pay/0123456789abcdef0123456789abcdef01234567",
        "/pay/not-a-token",
        "/sandbox/checkout/sbx_cs_nothing",
    ] {
        let response = reqwest::get(app.url(path)).await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
    }
    let missing = app
        .post(
            "/v1/orders/01a21a43-f48a-7512-a62a-33f588cf96cf/payment-link",
            &json!({}),
        )
        .await;
    assert_problem(missing, 404, "not_found").await;
}

/// Pays `id` through its pay link and the sandbox's Pay button.
pub(crate) async fn pay(app: &TestApp, id: &str) {
    let url = app.payment_link(id).await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let checkout = open_checkout(&url).await;
    sandbox(app, &checkout, "pay").await;
    assert_eq!(app.order(id).await["status"], "paid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_then_full_refunds_and_an_over_refund_is_422() {
    let app = spawn_app().await;
    let o = new_order(&app).await;
    let id = o["id"].as_str().unwrap();
    let refunds = format!("/v1/orders/{id}/refunds");

    let unpaid = app.post(&refunds, &json!({})).await;
    assert_problem(unpaid, 409, "order_not_paid").await;
    pay(&app, id).await;

    let too_much = app.post(&refunds, &json!({"amount": 901})).await;
    let problem = assert_problem(too_much, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "amount");
    let bad = app
        .post(&refunds, &json!({"amount": -1, "reason": "changed_mind"}))
        .await;
    let problem = assert_problem(bad, 422, "validation_failed").await;
    assert_eq!(crate::helpers::fields(&problem), ["amount", "reason"]);
    assert_eq!(app.order(id).await["amount_refunded"], 0, "nothing changed");

    let partial = app
        .post(
            &refunds,
            &json!({"amount": 300, "reason": "requested_by_customer"}),
        )
        .await;
    assert_eq!(partial.status(), 200);
    let partial: Value = partial.json().await.unwrap();
    assert_eq!(partial["status"], "partially_refunded");
    assert_eq!(partial["amount_refunded"], 300);
    let over = app.post(&refunds, &json!({"amount": 601})).await;
    assert_problem(over, 422, "validation_failed").await;
    let rest = app.post(&refunds, &json!({})).await;
    let rest: Value = rest.json().await.unwrap();
    assert_eq!(rest["status"], "refunded");
    assert_eq!(rest["amount_refunded"], 900);
    let nothing_left = app.post(&refunds, &json!({})).await;
    assert_problem(nothing_left, 409, "order_not_paid").await;
    let types = app.event_types(id).await;
    assert_eq!(
        &types[types.len() - 2..],
        ["order.partially_refunded", "order.refunded"]
    );
}

//! The Stripe gateway against a local fake of Stripe's API (wiremock): the exact form fields,
//! metadata and idempotency key it sends, and what it makes of the answers.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use orderpay_domain::customer::CustomerId;
use orderpay_domain::order::{Order, OrderCustomer, OrderReference, order_of};
use orderpay_domain::payment::{
    CheckoutRequest, GatewayError, Payment, PaymentGateway, PaymentProvider,
};
use orderpay_stripe::StripeGateway;
use orderpay_stripe::testing::checkout_session_json;

fn order() -> Order {
    let new = order_of(
        OrderCustomer::Id(CustomerId::generate()),
        "usd",
        &[("Tea & cake", 2, 450), ("Scone", 1, 325)],
        Default::default(),
    )
    .unwrap();
    Order::create(
        new,
        CustomerId::generate(),
        OrderReference::parse("K7M2-Q9XD").unwrap(),
        Utc::now(),
    )
}

fn request(order: Order) -> CheckoutRequest {
    let payment = Payment::start(&order, PaymentProvider::Stripe, Utc::now());
    CheckoutRequest {
        success_url: "https://pay.example.com/pay/abc/done".into(),
        cancel_url: "https://pay.example.com/pay/abc".into(),
        expires_at: Utc.timestamp_opt(1_900_000_000, 0).unwrap(),
        idempotency_key: format!("orderpay-checkout-{}", payment.id()),
        order,
        merchant: orderpay_domain::merchant::Merchant::new(
            "Tea House",
            None,
            Some("+44 20 7946 0958"),
        )
        .unwrap(),
        payment,
    }
}

fn form(request: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&request.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn a_checkout_session_is_opened_for_exactly_the_order_with_its_idempotency_key() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(header("authorization", "Bearer sk_test_orderpay"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(checkout_session_json("cs_test_1", 1_900_000_000)),
        )
        .expect(1)
        .mount(&stripe)
        .await;
    let gateway =
        StripeGateway::new("sk_test_orderpay", &stripe.uri(), Duration::from_secs(5)).unwrap();
    let request = request(order());

    let session = gateway.open_checkout(&request).await.unwrap();

    assert_eq!(session.id, "cs_test_1");
    assert_eq!(session.url, "https://checkout.stripe.com/c/pay/cs_test_1");
    assert_eq!(session.expires_at.timestamp(), 1_900_000_000);
    let sent = &stripe.received_requests().await.unwrap()[0];
    assert_eq!(
        sent.headers["idempotency-key"].to_str().unwrap(),
        request.idempotency_key
    );
    assert!(sent.headers.contains_key("stripe-version"));
    let form = form(sent);
    let expect = [
        ("mode", "payment".to_owned()),
        ("line_items[0][price_data][currency]", "usd".to_owned()),
        ("line_items[0][price_data][unit_amount]", "450".to_owned()),
        (
            "line_items[0][price_data][product_data][name]",
            "Tea & cake".to_owned(),
        ),
        ("line_items[0][quantity]", "2".to_owned()),
        ("line_items[1][price_data][unit_amount]", "325".to_owned()),
        ("line_items[1][quantity]", "1".to_owned()),
        ("metadata[order_id]", request.order.id().to_string()),
        ("metadata[payment_id]", request.payment.id().to_string()),
        ("metadata[reference]", "K7M2-Q9XD".to_owned()),
        (
            "payment_intent_data[metadata][payment_id]",
            request.payment.id().to_string(),
        ),
        ("client_reference_id", request.order.id().to_string()),
        ("expires_at", "1900000000".to_owned()),
        (
            "success_url",
            "https://pay.example.com/pay/abc/done".to_owned(),
        ),
        ("cancel_url", "https://pay.example.com/pay/abc".to_owned()),
        // Whom the customer pays, where Stripe takes it: the text above the Pay button, and
        // the PaymentIntent's description (on receipts and in the Dashboard).
        (
            "custom_text[submit][message]",
            "Paying Tea House for order K7M2-Q9XD. Questions: +44 20 7946 0958".to_owned(),
        ),
        (
            "payment_intent_data[description]",
            "Tea House order K7M2-Q9XD".to_owned(),
        ),
    ];
    for (key, value) in expect {
        assert_eq!(field(&form, key), Some(value.as_str()), "{key} in {form:?}");
    }
    assert_eq!(
        field(&form, "line_items[2][quantity]"),
        None,
        "exactly the order's items"
    );
}

#[tokio::test]
async fn a_refusal_is_rejected_and_an_outage_is_unavailable() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": {"type": "invalid_request_error", "message": "Invalid currency"}
        })))
        .mount(&stripe)
        .await;
    let gateway = StripeGateway::new("sk_test_x", &stripe.uri(), Duration::from_secs(5)).unwrap();
    let err = gateway.open_checkout(&request(order())).await.unwrap_err();
    assert!(
        matches!(err, GatewayError::Rejected(ref m) if m.contains("Invalid currency")),
        "{err:?}"
    );

    let down = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&down)
        .await;
    let gateway = StripeGateway::new("sk_test_x", &down.uri(), Duration::from_secs(5)).unwrap();
    let err = gateway.open_checkout(&request(order())).await.unwrap_err();
    assert!(matches!(err, GatewayError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn expiring_a_session_posts_to_its_expire_endpoint() {
    let stripe = MockServer::start().await;
    let mut expired = checkout_session_json("cs_test_2", 1_900_000_000);
    expired["status"] = json!("expired");
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions/cs_test_2/expire"))
        .respond_with(ResponseTemplate::new(200).set_body_json(expired))
        .expect(1)
        .mount(&stripe)
        .await;
    let gateway = StripeGateway::new("sk_test_x", &stripe.uri(), Duration::from_secs(5)).unwrap();
    gateway.expire_checkout("cs_test_2").await.unwrap();
}

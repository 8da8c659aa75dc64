//! The pay link opens a Stripe Checkout Session; cancelling expires it first.
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pay_link_opens_a_stripe_session_and_a_signed_completion_pays_the_order() {
    let stripe = fake_stripe().await;
    let app = stripe_app(&stripe).await;
    let (id, payment) = order_with_payment(&app, "+14155550100").await;
    let link: Value = app
        .post(&format!("/v1/orders/{id}/payment-link"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let to = open_checkout(link["url"].as_str().unwrap()).await;
    assert!(
        to.starts_with("https://checkout.stripe.com/c/pay/cs_test_"),
        "{to}"
    );
    let sent = &stripe.received_requests().await.unwrap()[0];
    assert_eq!(
        sent.headers["idempotency-key"].to_str().unwrap(),
        format!("orderpay-checkout-{payment}")
    );

    let completed = session_event(
        "evt_1",
        "checkout.session.completed",
        &id,
        &payment,
        json!({}),
    );
    let response = deliver(&app.address, &completed).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap()["outcome"],
        "applied"
    );
    let paid = app.order(&id).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["payment"]["status"], "succeeded");
    // The same event again, and an expiry after it: nothing changes.
    assert_eq!(
        deliver(&app.address, &completed)
            .await
            .json::<Value>()
            .await
            .unwrap()["outcome"],
        "duplicate"
    );
    let expired = session_event(
        "evt_2",
        "checkout.session.expired",
        &id,
        &payment,
        json!({}),
    );
    assert_eq!(deliver(&app.address, &expired).await.status(), 200);
    assert_eq!(app.order(&id).await["status"], "paid");
    assert_eq!(
        app.event_types(&id).await,
        [
            "order.created",
            "order.payment_link_created",
            "payment.session_opened",
            "order.paid"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_expires_the_open_stripe_session_first() {
    let stripe = fake_stripe().await;
    let app = stripe_app(&stripe).await;
    let (id, session) = order_with_open_session(&app, "+14155550100").await;

    // Stripe is down: the order is not cancelled (its session could still take money).
    let outage = Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(format!(
            "/v1/checkout/sessions/{session}/expire"
        )))
        .respond_with(ResponseTemplate::new(500))
        .mount_as_scoped(&stripe)
        .await;
    let refused = app
        .post(&format!("/v1/orders/{id}/cancel"), &json!({}))
        .await;
    assert_problem(refused, 502, "payment_provider_unavailable").await;
    assert_eq!(app.order(&id).await["status"], "pending_payment");
    drop(outage);

    Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(format!(
            "/v1/checkout/sessions/{session}/expire"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            orderpay_stripe::testing::checkout_session_json(&session, 1_900_000_000),
        ))
        .expect(1)
        .mount(&stripe)
        .await;
    let cancelled = app
        .post(&format!("/v1/orders/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(cancelled.status(), 200);
    assert_eq!(app.order(&id).await["status"], "cancelled");
}

/// How many payments the database holds.
async fn payment_rows(app: &TestApp) -> i64 {
    let (client, connection) = tokio_postgres::connect(app.db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .query_one("SELECT count(*) FROM payments", &[])
        .await
        .unwrap()
        .get(0)
}

/// A link-preview crawler fetches the link as iMessage's does (a GET, its user agent, no
/// cookies, no scripts): it reads whom and what for, and nothing is opened. The customer's
/// tap then opens one session, whose checkout names the merchant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_preview_crawler_reads_the_link_and_opens_nothing() {
    let stripe = fake_stripe().await;
    let app = stripe_app_with(
        &stripe,
        &[
            ("MERCHANT_NAME", "Tea House"),
            ("MERCHANT_LOGO_URL", "https://cdn.example.com/tea.png"),
            ("MERCHANT_SUPPORT_CONTACT", "+44 20 7946 0958"),
        ],
    )
    .await;
    let (_, link) = app.order_with_link("+14155550100", "Tea").await;
    let url = link["url"].as_str().unwrap();
    let payments = payment_rows(&app).await;

    let crawler = reqwest::Client::builder()
        .user_agent("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0")
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = crawler.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for tag in [
        "<meta property=\"og:title\" content=\"Pay $9.00 to Tea House\">",
        "<meta property=\"og:site_name\" content=\"Tea House\">",
        "<meta property=\"og:image\" content=\"https://cdn.example.com/tea.png\">",
        &format!("<meta property=\"og:url\" content=\"{url}\">"),
        "<meta name=\"twitter:card\" content=\"summary\">",
    ] {
        assert!(html.contains(tag), "{tag} missing from {html}");
    }
    assert!(
        html.contains("<a href=\"tel:+442079460958\">+44 20 7946 0958</a>"),
        "{html}"
    );
    assert_eq!(payment_rows(&app).await, payments, "no payment row made");
    assert!(
        stripe.received_requests().await.unwrap().is_empty(),
        "Stripe was never called"
    );

    // The customer's tap: the page's own POST opens one session, for Tea House.
    let to = open_checkout(url).await;
    assert!(to.starts_with("https://checkout.stripe.com/c/pay/"), "{to}");
    let sent = stripe.received_requests().await.unwrap();
    assert_eq!(sent.len(), 1);
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&sent[0].body)
        .into_owned()
        .collect();
    let field = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    assert!(
        field("payment_intent_data[description]")
            .is_some_and(|d| d.starts_with("Tea House order ")),
        "{form:?}"
    );
    assert!(
        field("custom_text[submit][message]")
            .is_some_and(|m| m.starts_with("Paying Tea House for order ")),
        "{form:?}"
    );
}

//! The pay link, the sandbox's checkout and Stripe's webhook, over the in-memory store. The
//! same flows run against PostgreSQL in `crates/app/tests/api`.

use actix_web::test::TestRequest;
use serde_json::{Value, json};

use crate::world::{BASE, api};

#[actix_web::test]
async fn the_pay_link_redirects_to_the_sandbox_and_pay_pays() {
    let api = api().await;
    let id = &api.order_id("+14155550100").await;
    let (link, _) = api.pay_link(id).await;

    let checkout = api.checkout(&link).await;
    assert!(checkout.starts_with("/sandbox/checkout/"), "{checkout}");
    let again = api.checkout(&link).await;
    assert_eq!(again, checkout, "one session");

    let done = api
        .send(
            TestRequest::post()
                .uri(&format!("{checkout}/pay"))
                .insert_header(("origin", BASE)),
        )
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(done.location(), format!("{link}/done"));
    assert_eq!(api.status_of(id).await, "paid");
    let shown = api.get(&format!("/v1/orders/{id}")).await;
    assert_eq!(shown.body["payment"]["status"], "succeeded", "{shown:?}");
}

#[actix_web::test]
async fn the_link_is_the_same_every_time_while_the_order_awaits_payment() {
    let api = api().await;
    let id = &api.order_id("+14155550100").await;
    let first = api.pay_link(id).await;
    let second = api.pay_link(id).await;
    assert_eq!(first, second, "same link, same payment");
    assert!(first.0.starts_with("/pay/"), "{first:?}");
}

#[actix_web::test]
async fn no_link_for_a_paid_or_cancelled_order() {
    let api = api().await;
    let paid = api.order("+14155550100").await;
    let paid = paid["id"].as_str().unwrap();
    api.pay(paid).await;
    api.post_empty(&format!("/v1/orders/{paid}/payment-link"))
        .await
        .problem(409, "order_already_paid");

    let cancelled = api.order("+14155550101").await;
    let cancelled = cancelled["id"].as_str().unwrap();
    assert_eq!(
        api.post_empty(&format!("/v1/orders/{cancelled}/cancel"))
            .await
            .status,
        200
    );
    api.post_empty(&format!("/v1/orders/{cancelled}/payment-link"))
        .await
        .problem(409, "order_cancelled");
}

#[actix_web::test]
async fn a_paid_orders_link_shows_a_page_saying_so_and_opens_no_checkout() {
    let api = api().await;
    let order = api.order("+14155550100").await;
    let id = order["id"].as_str().unwrap();
    let (link, _) = api.pay_link(id).await;
    api.pay(id).await;
    let page = api.send(TestRequest::get().uri(&link)).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(
        page.text().contains(order["reference"].as_str().unwrap()),
        "{}",
        page.text()
    );
    assert!(
        page.text().to_lowercase().contains("paid"),
        "{}",
        page.text()
    );
}

#[actix_web::test]
async fn an_unknown_pay_token_is_a_404_page() {
    let api = api().await;
    for token in ["not-a-token", "AAAAAAAAAAAAAAAAAAAAAA", "%00"] {
        let page = api
            .send(TestRequest::get().uri(&format!("/pay/{token}")))
            .await;
        assert_eq!(page.status, 404, "{token}: {page:?}");
        assert!(page.header("content-type").starts_with("text/html"));
    }
}

#[actix_web::test]
async fn declining_in_the_sandbox_leaves_the_order_payable_with_a_new_attempt() {
    let api = api().await;
    let id = &api.order_id("+14155550100").await;
    let (link, first_payment) = api.pay_link(id).await;
    let checkout = api.checkout(&link).await;
    let declined = api
        .send(
            TestRequest::post()
                .uri(&format!("{checkout}/decline"))
                .insert_header(("origin", BASE)),
        )
        .await;
    // Back to the link's page, told not to go straight back to checkout.
    assert_eq!(
        (declined.status, declined.location()),
        (303, format!("{link}?returned"))
    );
    assert_eq!(api.status_of(id).await, "pending_payment");
    let (_, second_payment) = api.pay_link(id).await;
    assert_ne!(
        second_payment, first_payment,
        "a failed payment is not reused"
    );
    let next = api.checkout(&link).await;
    assert_ne!(next, checkout, "a new session");
    let history = api.get(&format!("/v1/orders/{id}/events")).await;
    let types: Vec<&str> = history.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"payment.failed"), "{types:?}");
}

fn deliver(signature: &'static str, event: &Value) -> TestRequest {
    TestRequest::post()
        .uri("/webhooks/stripe")
        .insert_header(("stripe-signature", signature))
        .set_json(event)
}

#[actix_web::test]
async fn webhooks_verify_apply_once_and_ask_again_for_unknown_payments() {
    let api = api().await;
    let id = &api.order_id("+14155550100").await;
    let (_, payment) = api.pay_link(id).await;
    let event = json!({"id": "evt_1", "payment_id": payment, "order_id": id});

    api.send(deliver("bad", &event))
        .await
        .problem(400, "invalid_signature");
    let applied = api.send(deliver("good", &event)).await;
    assert_eq!(
        (applied.status, applied.body["outcome"].as_str()),
        (200, Some("applied"))
    );
    let again = api.send(deliver("good", &event)).await;
    assert_eq!(again.body["outcome"], "duplicate");
    assert_eq!(api.status_of(id).await, "paid");

    let unknown = json!({"id": "evt_2", "payment_id": uuid::Uuid::now_v7(), "order_id": id});
    assert_eq!(api.send(deliver("good", &unknown)).await.status, 503);
}

#[actix_web::test]
async fn every_page_a_customer_sees_carries_protective_headers() {
    let api = api().await;
    let order = api.order("+14155550100").await;
    let (pay, _) = api.pay_link(order["id"].as_str().unwrap()).await;
    let checkout = api.checkout(&pay).await;
    for page in [
        pay.clone(),
        checkout,
        format!("{pay}/done"),
        "/pay/not-a-token".to_owned(),
    ] {
        let reply = api.send(TestRequest::get().uri(&page)).await;
        assert!(
            reply.header("content-type").starts_with("text/html"),
            "{page}: {reply:?}"
        );
        let csp = reply.header("content-security-policy");
        for directive in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "style-src 'sha256-",
        ] {
            assert!(csp.contains(directive), "{page}: {csp}");
        }
        assert_eq!(reply.header("referrer-policy"), "no-referrer", "{page}");
        assert_eq!(reply.header("x-content-type-options"), "nosniff");
        assert_eq!(reply.header("cache-control"), "no-store");
        assert_eq!(reply.header("vary"), "Accept-Language", "{page}");
    }
    // API answers hold personal data: never cached.
    let lookup = api.get("/v1/customers?phone=%2B14155550100").await;
    assert_eq!(lookup.status, 200);
    assert_eq!(lookup.header("cache-control"), "no-store");
}

#[actix_web::test]
async fn sandbox_buttons_refuse_other_sites_and_closed_sessions() {
    let api = api().await;
    let order = api.order("+14155550100").await;
    let id = order["id"].as_str().unwrap();
    let (pay, _) = api.pay_link(id).await;
    let checkout = api.checkout(&pay).await;
    let press = |choice: &str, headers: &[(&'static str, &'static str)]| {
        let mut request = TestRequest::post().uri(&format!("{checkout}/{choice}"));
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
        assert_eq!(
            api.send(press("pay", &headers)).await.status,
            403,
            "{headers:?}"
        );
    }
    assert_eq!(api.status_of(id).await, "pending_payment");

    // Declined on the page itself (a no-referrer page's form sends `Origin: null`)...
    let declined = api
        .send(press(
            "decline",
            &[("origin", "null"), ("sec-fetch-site", "same-origin")],
        ))
        .await;
    assert_eq!(declined.status, 303);
    // ...the failed session takes no further choice: Pay there is 409 and pays nothing.
    assert_eq!(
        api.send(press("pay", &[("origin", BASE)])).await.status,
        409
    );
    assert_eq!(api.status_of(id).await, "pending_payment");

    // A cancelled order's session takes no choice either.
    let checkout2 = api.checkout(&pay).await;
    assert_ne!(checkout2, checkout, "a new attempt");
    assert_eq!(
        api.post_empty(&format!("/v1/orders/{id}/cancel"))
            .await
            .status,
        200
    );
    let late = api
        .send(
            TestRequest::post()
                .uri(&format!("{checkout2}/pay"))
                .insert_header(("referer", "http://localhost:8080/sandbox/checkout/x")),
        )
        .await;
    assert_eq!(late.status, 409);
    assert_eq!(api.status_of(id).await, "cancelled");
}

/// The pay page's own form opens checkout in every browser that can pay: with
/// `Sec-Fetch-Site` or without it (Safari before 16.4 sends none, and the page's form carries
/// `Origin: null` and no `Referer`), by the proof the page puts in its form. Other sites are
/// refused whatever they send, and a proof of another link proves nothing.
#[actix_web::test]
async fn the_pay_form_works_without_sec_fetch_site_by_its_proof_and_other_sites_stay_out() {
    let api = api().await;
    let (link, _) = api.pay_link(&api.order_id("+14155550100").await).await;
    let (other, _) = api.pay_link(&api.order_id("+14155550101").await).await;
    let proof_on = |page: &str| {
        let at = page
            .find("name=\"proof\" value=\"")
            .expect("the form's proof")
            + 20;
        page[at..at + 32].to_owned()
    };
    let page = api.send(TestRequest::get().uri(&link)).await;
    let proof = proof_on(page.text());
    let other_proof = proof_on(api.send(TestRequest::get().uri(&other)).await.text());
    let submit = |headers: &[(&'static str, &'static str)], body: String| {
        let mut request = TestRequest::post()
            .uri(&link)
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(body);
        for header in headers {
            request = request.insert_header(*header);
        }
        api.send(request)
    };
    let with = format!("proof={proof}");
    // Safari before 16.4: Origin null, no Referer, no Sec-Fetch-Site.
    let old_safari = [("origin", "null")];
    assert_eq!(submit(&old_safari, with.clone()).await.status, 303);
    assert_eq!(
        submit(&[], with.clone()).await.status,
        303,
        "no headers at all"
    );
    // A browser with Sec-Fetch-Site: same-origin needs no proof.
    let modern = [("origin", "null"), ("sec-fetch-site", "same-origin")];
    assert_eq!(submit(&modern, String::new()).await.status, 303);
    // Refused: no proof, another link's proof, a forged one, or another site whatever it sends.
    for (headers, body) in [
        (&old_safari[..], String::new()),
        (&old_safari[..], format!("proof={other_proof}")),
        (&old_safari[..], format!("proof={}", "0".repeat(32))),
        (&old_safari[..], "proof=nothex".to_owned()),
        (&[("origin", "https://evil.example")][..], with.clone()),
        (
            &[("origin", "null"), ("sec-fetch-site", "cross-site")][..],
            with.clone(),
        ),
        (&[("referer", "https://evil.example/x")][..], with.clone()),
    ] {
        assert_eq!(
            submit(headers, body.clone()).await.status,
            403,
            "{headers:?} {body}"
        );
    }
}

/// A bot's tests pay and decline through the test helpers, with the history (and so the
/// events) a customer's payment makes, and no HTML scraped.
#[actix_web::test]
async fn test_helpers_pay_and_decline_as_a_customer_would() {
    let api = api().await;
    let history = |id: String| {
        let api = &api;
        async move {
            let events = api.get(&format!("/v1/orders/{id}/events")).await.body;
            events["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["type"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let paid = api.order_id("+14155550100").await;
    let reply = api
        .post_empty(&format!("/v1/test_helpers/orders/{paid}/pay"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["status"], "paid");
    assert_eq!(reply.body["payment"]["status"], "succeeded");
    assert_eq!(
        history(paid.clone()).await,
        [
            "order.created",
            "order.payment_link_created",
            "payment.session_opened",
            "order.paid"
        ]
    );
    api.post_empty(&format!("/v1/test_helpers/orders/{paid}/pay"))
        .await
        .problem(409, "order_already_paid");

    let declined = api.order_id("+14155550101").await;
    let reply = api
        .post_empty(&format!("/v1/test_helpers/orders/{declined}/decline"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["status"], "pending_payment");
    assert_eq!(reply.body["payment"]["status"], "failed");
    assert_eq!(
        history(declined.clone()).await.last().unwrap(),
        "payment.failed"
    );
    let again = api
        .post_empty(&format!("/v1/test_helpers/orders/{declined}/pay"))
        .await;
    assert_eq!(
        again.body["status"], "paid",
        "payable again after a decline"
    );
    api.post_empty("/v1/test_helpers/orders/01900000-0000-7000-8000-000000000000/pay")
        .await
        .problem(404, "not_found");
}

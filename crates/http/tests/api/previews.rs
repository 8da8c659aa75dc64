//! The pay link in a chat: what a link-preview crawler reads (and that it opens nothing), the
//! page a person lands on (continuing to checkout by itself), the merchant on every page, the
//! customer's language, the QR code, and pages a strict HTML parser finds no error in. The
//! crawler against Stripe's fake and PostgreSQL, and the real browser, are in
//! `crates/app/tests/api`.

use actix_web::test::TestRequest;
use base64::Engine;
use html5ever::tendril::TendrilSink;
use markup5ever_rcdom::RcDom;
use sha2::{Digest, Sha256};

use crate::world::{Api, BASE, Reply, api};

const WHATSAPP: &str = "WhatsApp/2.23.20.0 A";
const CHROME: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";

async fn read(api: &Api, link: &str, agent: &str) -> Reply {
    api.send(
        TestRequest::get()
            .uri(link)
            .insert_header(("user-agent", agent)),
    )
    .await
}

/// The `content` of the `<meta>` whose `property` or `name` is `key`, as the page writes it.
fn meta<'a>(page: &'a str, key: &str) -> Option<&'a str> {
    ["property", "name"].iter().find_map(|attr| {
        let start = page.find(&format!("<meta {attr}=\"{key}\" content=\""))?;
        let rest = &page[start..];
        let value = &rest[rest.find("content=\"")? + 9..];
        value.split('"').next()
    })
}

/// The history of order `id`, by type.
async fn history(api: &Api, id: &str) -> Vec<String> {
    let reply = api.get(&format!("/v1/orders/{id}/events")).await;
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn a_crawler_reads_what_is_asked_and_of_whom_and_opens_nothing() {
    let api = api().await;
    let order = api.order("+14155550100").await;
    let id = order["id"].as_str().unwrap();
    let reference = order["reference"].as_str().unwrap();
    let (link, _) = api.pay_link(id).await;
    let before = (
        history(&api, id).await,
        api.get(&format!("/v1/orders/{id}")).await.body,
    );

    for _ in 0..3 {
        let page = read(&api, &link, WHATSAPP).await;
        assert_eq!(page.status, 200, "{page:?}");
        let html = page.text();
        let title = "Pay 12,00\u{a0}€ to Tea House";
        assert_eq!(meta(html, "og:title"), Some(title), "{html}");
        assert_eq!(meta(html, "twitter:title"), Some(title), "{html}");
        let description = format!("Order {reference} · 2 items");
        assert_eq!(meta(html, "og:description"), Some(description.as_str()));
        assert_eq!(meta(html, "og:url"), Some(format!("{BASE}{link}").as_str()));
        assert_eq!(meta(html, "og:site_name"), Some("Tea House"));
        assert_eq!(meta(html, "twitter:card"), Some("summary"));
        assert_eq!(meta(html, "og:image"), None, "no logo configured");
        assert!(html.contains(&format!("<link rel=\"canonical\" href=\"{BASE}{link}\">")));
        assert!(html.contains(&format!("<title>{title}</title>")), "{html}");
        assert!(
            !html.contains("<script>"),
            "no script for a known crawler: {html}"
        );
        assert_eq!(page.header("x-robots-tag"), "noindex, nofollow");
    }
    // Read three times, by a crawler and by a HEAD: nothing opened, nothing recorded.
    let head = api
        .send(
            TestRequest::default()
                .method(actix_web::http::Method::HEAD)
                .uri(&link),
        )
        .await;
    assert_eq!(head.status, 200);
    let after = (
        history(&api, id).await,
        api.get(&format!("/v1/orders/{id}")).await.body,
    );
    assert_eq!(before, after);
    assert_eq!(
        after.0,
        ["order.created", "order.payment_link_created"],
        "no session opened"
    );
}

#[actix_web::test]
async fn a_person_continues_to_checkout_by_the_pages_own_post() {
    let api = api().await;
    let id = &api.order_id("+14155550100").await;
    let (link, _) = api.pay_link(id).await;

    let page = read(&api, &link, CHROME).await;
    let html = page.text();
    // The form that opens checkout, and the script that submits it: allowed by its hash.
    assert!(
        html.contains(&format!(
            "<form id=\"pay\" method=\"post\" action=\"{link}\">"
        )),
        "{html}"
    );
    let script = html
        .split("<script>")
        .nth(1)
        .and_then(|s| s.split("</script>").next())
        .expect("a person's page continues by itself");
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script));
    let csp = page.header("content-security-policy");
    assert!(
        csp.contains(&format!("script-src 'sha256-{hash}'")),
        "{csp}"
    );
    assert!(
        csp.contains("form-action 'self' https://checkout.stripe.com"),
        "{csp}"
    );
    assert!(
        script.contains("'navigate'"),
        "not on Back or reload: {script}"
    );
    assert_eq!(history(&api, id).await.len(), 2, "reading opened nothing");

    // The POST, from another site or from nowhere: refused, nothing opened.
    for origin in [Some("https://evil.example"), None] {
        let mut request = TestRequest::post().uri(&link);
        if let Some(origin) = origin {
            request = request.insert_header(("origin", origin));
        }
        assert_eq!(api.send(request).await.status, 403, "{origin:?}");
    }
    assert_eq!(history(&api, id).await.len(), 2);

    // From the page itself: to checkout, the same session each time.
    let checkout = api.checkout(&link).await;
    assert!(checkout.starts_with("/sandbox/checkout/"), "{checkout}");
    assert_eq!(api.checkout(&link).await, checkout);
    assert_eq!(history(&api, id).await.len(), 3, "one session opened");

    // Back from checkout without paying: the page, and no automatic return to checkout.
    let back = read(&api, &format!("{link}?returned"), CHROME).await;
    assert!(
        back.text().contains("You left checkout without paying"),
        "{}",
        back.text()
    );
    assert!(!back.text().contains("<script>"), "{}", back.text());
    assert!(
        back.text().contains("<form id=\"pay\""),
        "the button is still there"
    );
}

#[actix_web::test]
async fn a_paid_or_cancelled_orders_preview_says_so_and_offers_no_checkout() {
    let api = api().await;
    let paid = api.order_id("+14155550100").await;
    let (paid_link, _) = api.pay_link(&paid).await;
    api.pay(&paid).await;
    let page = read(&api, &paid_link, WHATSAPP).await;
    assert_eq!(
        meta(page.text(), "og:title"),
        Some("Paid: 12,00\u{a0}€ to Tea House")
    );
    assert!(page.text().contains("This order is paid. Thank you!"));
    assert!(!page.text().contains("<form"), "{}", page.text());
    // A POST all the same (a stale tab): back to the page, nothing opened.
    let again = api.open(&paid_link).await;
    assert_eq!((again.status, again.location()), (303, paid_link.clone()));

    let cancelled = api.order_id("+14155550101").await;
    let (cancelled_link, _) = api.pay_link(&cancelled).await;
    api.post_empty(&format!("/v1/orders/{cancelled}/cancel"))
        .await;
    let page = read(&api, &cancelled_link, CHROME).await;
    assert_eq!(
        meta(page.text(), "og:title"),
        Some("Cancelled: 12,00\u{a0}€ to Tea House")
    );
    assert!(!page.text().contains("<form") && !page.text().contains("<script>"));
}

#[actix_web::test]
async fn pages_speak_the_customers_language_and_name_the_merchant() {
    let api = api().await;
    let order = api.order("+14155550100").await;
    let id = order["id"].as_str().unwrap();
    let (link, _) = api.pay_link(id).await;
    let spanish = api
        .send(
            TestRequest::get()
                .uri(&link)
                .insert_header(("accept-language", "es-MX,es;q=0.9,en;q=0.5")),
        )
        .await;
    let html = spanish.text();
    assert!(
        html.starts_with("<!DOCTYPE html><html lang=\"es\">"),
        "{html}"
    );
    assert_eq!(
        meta(html, "og:title"),
        Some("Pagar 12,00\u{a0}€ a Tea House")
    );
    assert!(html.contains("Pedido "), "{html}");
    let french = read(&api, &link, CHROME).await;
    assert!(
        french
            .text()
            .starts_with("<!DOCTYPE html><html lang=\"en\">")
    );

    // Every page a customer sees names the merchant and how to reach them.
    let checkout = api.checkout(&link).await;
    for page in [
        link.clone(),
        checkout,
        format!("{link}/done"),
        "/pay/nope".into(),
    ] {
        let reply = read(&api, &page, CHROME).await;
        let html = reply.text();
        assert!(
            html.contains("<header class=\"m\"><span>Tea House</span></header>"),
            "{page}: {html}"
        );
        assert!(
            html.contains("<a href=\"mailto:help@teahouse.example\">help@teahouse.example</a>"),
            "{page}: {html}"
        );
    }
}

#[actix_web::test]
async fn the_qr_code_is_the_pay_link_drawn_and_changes_nothing() {
    let api = api().await;
    let id = &api.order_id("+14155550100").await;
    let qr = api.get(&format!("/v1/orders/{id}/payment-link/qr")).await;
    assert_eq!(qr.status, 200, "{qr:?}");
    assert_eq!(qr.header("content-type"), "image/svg+xml");
    assert!(
        qr.text()
            .contains("<svg xmlns=\"http://www.w3.org/2000/svg\"")
    );
    assert_eq!(
        history(&api, id).await,
        ["order.created"],
        "nothing recorded"
    );
    // The same code the pay page shows on wide screens.
    let (link, _) = api.pay_link(id).await;
    let page = read(&api, &link, CHROME).await;
    let inline = base64::engine::general_purpose::STANDARD.encode(qr.text());
    assert!(
        page.text()
            .contains(&format!("src=\"data:image/svg+xml;base64,{inline}\""))
    );

    // Nothing to pay, no code; a key without the pay-link scope, none either.
    let unknown = uuid::Uuid::now_v7();
    api.get(&format!("/v1/orders/{unknown}/payment-link/qr"))
        .await
        .problem(404, "not_found");
    let reader = api.restricted_key(&["orders:read"]).await;
    let refused = api
        .send(
            TestRequest::get()
                .uri(&format!("/v1/orders/{id}/payment-link/qr"))
                .insert_header(("authorization", format!("Bearer {reader}"))),
        )
        .await;
    refused.problem(403, "insufficient_scope");
    api.pay(id).await;
    api.get(&format!("/v1/orders/{id}/payment-link/qr"))
        .await
        .problem(409, "order_already_paid");
}

/// Parse errors a conforming HTML parser reports for `html`, and whether it renders in
/// standards mode (the doctype is right).
fn parse_errors(html: &str) -> Vec<String> {
    let opts = html5ever::ParseOpts {
        tree_builder: html5ever::tree_builder::TreeBuilderOpts {
            exact_errors: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let dom = html5ever::parse_document(RcDom::default(), opts).one(html);
    let mut errors: Vec<String> = dom.errors.borrow().iter().map(|e| e.to_string()).collect();
    if dom.quirks_mode.get() != html5ever::tree_builder::QuirksMode::NoQuirks {
        errors.push(format!("quirks mode: {:?}", dom.quirks_mode.get()));
    }
    errors
}

#[actix_web::test]
async fn every_page_parses_without_an_error() {
    let api = api().await;
    let id = &api.order_id("+14155550100").await;
    let (link, _) = api.pay_link(id).await;
    let mut pages = vec![
        read(&api, &link, CHROME).await,
        read(&api, &link, WHATSAPP).await,
        read(&api, &format!("{link}?returned"), CHROME).await,
        read(&api, "/pay/nope", CHROME).await,
        api.send(TestRequest::post().uri(&link)).await,
    ];
    let checkout = api.checkout(&link).await;
    pages.push(read(&api, &checkout, CHROME).await);
    pages.push(read(&api, &format!("{link}/done"), CHROME).await);
    api.pay(id).await;
    pages.push(read(&api, &link, CHROME).await);
    pages.push(read(&api, &format!("{link}/done"), CHROME).await);
    pages.push(api.open(&format!("{checkout}/pay")).await);
    for page in pages {
        assert!(
            page.header("content-type").starts_with("text/html"),
            "{page:?}"
        );
        let errors = parse_errors(page.text());
        assert!(errors.is_empty(), "{errors:?} in {}", page.text());
    }
    // The check has teeth: a stray end tag and a missing doctype are errors.
    assert!(
        !parse_errors("<!DOCTYPE html><html><head><title>x</title></head><body></p></body></html>")
            .is_empty()
    );
    assert!(!parse_errors("<html><head><title>x</title></head><body></body></html>").is_empty());
}

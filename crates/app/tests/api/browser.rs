//! A person paying in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `.ci/run`) driven over WebDriver. One tap on the pay link
//! lands in the sandbox checkout (the link's page continues by itself); Pay pays, and the
//! link then says the order is paid; Decline returns to the link's page, which stays put
//! until Pay is pressed there. Screenshots go to `target/screenshots/`.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free port, with a fresh profile directory; both go when it drops.
struct Browser {
    driver: Child,
    profile: PathBuf,
    client: Option<Client>,
}

impl Browser {
    async fn start() -> Self {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(tool).exists(),
                "{tool} is missing: this test needs Debian's chromium and chromium-driver \
                 (`apt-get install chromium chromium-driver`; .ci/run installs them)"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile =
            std::env::temp_dir().join(format!("orderpay-chromium-{}", uuid::Uuid::new_v4()));
        let mut browser = Self {
            driver,
            profile,
            client: None,
        };
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", browser.profile.display()),
                ],
            }
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        browser.client = Some(client);
        browser
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("connected")
    }

    async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A new order of mint tea and its pay link's URL.
async fn order_with_link_url(app: &TestApp, phone: &str) -> (String, String) {
    let (id, link) = app.order_with_link(phone, "Mint tea").await;
    (id, link["url"].as_str().unwrap().to_owned())
}

/// Clicks the button `css` picks on the current page.
async fn press(page: &Client, css: &str) {
    page.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Waits until the browser has navigated away from `from` (a form was submitted) and
/// returns where it landed.
async fn leave(page: &Client, from: &url::Url) -> url::Url {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = page.current_url().await.unwrap();
        if &now != from {
            // The new page is loaded once its heading is there.
            page.wait().for_element(Locator::Css("h1")).await.unwrap();
            return now;
        }
        assert!(Instant::now() < deadline, "the browser stayed on {from}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Saves a screenshot of the current page as `target/screenshots/{name}.png`, and says where.
async fn screenshot(page: &Client, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, page.screenshot().await.unwrap()).unwrap();
    let path = path.canonicalize().unwrap();
    println!("screenshot: {}", path.display());
    path
}

/// Waits until the browser is on a page whose path starts with `prefix`, with its heading.
async fn arrive(page: &Client, prefix: &str) -> url::Url {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = page.current_url().await.unwrap();
        if now.path().starts_with(prefix) {
            page.wait().for_element(Locator::Css("h1")).await.unwrap();
            return now;
        }
        assert!(Instant::now() < deadline, "the browser stayed on {now}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn heading(page: &Client) -> String {
    let h1 = page.find(Locator::Css("h1")).await.unwrap();
    h1.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tap_reaches_checkout_pay_pays_and_declining_stays_on_the_link() {
    let app = spawn_app_with(&[("MERCHANT_NAME", "Tea House")]).await;
    let browser = Browser::start().await;
    let page = browser.client();
    page.set_window_size(412, 915).await.unwrap();

    // One tap: the link opens, and the browser is in the sandbox checkout with nothing more.
    let (paid_id, link) = order_with_link_url(&app, "+14155550100").await;
    let tapped = Instant::now();
    page.goto(&link).await.unwrap();
    let checkout = arrive(page, "/sandbox/checkout/").await;
    let took = tapped.elapsed();
    println!("one tap to the sandbox checkout: {} ms", took.as_millis());
    let source = page.source().await.unwrap();
    assert!(
        source.contains("Mint tea") && source.contains("$9.00") && source.contains("Tea House"),
        "{source}"
    );
    // The inline stylesheet is allowed by its hash in the page's Content-Security-Policy.
    let pay_button = page.find(Locator::Css("button.pay")).await.unwrap();
    assert_eq!(
        pay_button.css_value("background-color").await.unwrap(),
        "rgba(26, 127, 55, 1)",
        "the page's style applies under its CSP"
    );
    screenshot(page, "1-one-tap-to-checkout").await;
    press(page, "button.pay").await;
    let done = leave(page, &checkout).await;
    assert_eq!(done.as_str(), format!("{link}/done"));
    assert_eq!(heading(page).await, "Payment received");
    let order = app.order(&paid_id).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(
        app.event_types(&paid_id).await,
        [
            "order.created",
            "order.payment_link_created",
            "payment.session_opened",
            "order.paid"
        ]
    );
    // The link now says the order is paid, and stays there.
    page.goto(&link).await.unwrap();
    assert_eq!(heading(page).await, "Paid: $9.00 to Tea House");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(page.current_url().await.unwrap().as_str(), link);
    screenshot(page, "2-paid-link").await;

    // Decline: back on the link's page, which stays until Pay is pressed there.
    let (declined_id, link) = order_with_link_url(&app, "+14155550101").await;
    page.goto(&link).await.unwrap();
    let first = arrive(page, "/sandbox/checkout/").await;
    press(page, "button.decline").await;
    let back = arrive(page, "/pay/").await;
    assert_eq!(back.query(), Some("returned"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        page.current_url().await.unwrap(),
        back,
        "no automatic return"
    );
    assert_eq!(app.order(&declined_id).await["status"], "pending_payment");
    screenshot(page, "3-back-from-checkout").await;
    press(page, "form#pay button").await;
    let second = arrive(page, "/sandbox/checkout/").await;
    assert_ne!(first, second, "a new session after the declined one");
    // Back from checkout to the link's page: it does not bounce the customer forward again.
    page.back().await.unwrap();
    let again = arrive(page, "/pay/").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        page.current_url().await.unwrap(),
        again,
        "Back stays on the link's page"
    );
    page.forward().await.unwrap();
    arrive(page, "/sandbox/checkout/").await;
    press(page, "button.pay").await;
    leave(page, &second).await;
    assert_eq!(app.order(&declined_id).await["status"], "paid");

    // On a wide screen, the link's page shows its QR code, to pay on a phone.
    let (_, link) = order_with_link_url(&app, "+14155550102").await;
    page.set_window_size(1280, 900).await.unwrap();
    page.goto(&format!("{link}?returned")).await.unwrap();
    let qr = page.find(Locator::Css(".qr img")).await.unwrap();
    assert!(
        qr.is_displayed().await.unwrap(),
        "the QR code shows on a wide screen"
    );
    screenshot(page, "4-wide-screen-qr").await;
    page.set_window_size(412, 915).await.unwrap();
    let qr = page.find(Locator::Css(".qr img")).await.unwrap();
    assert!(!qr.is_displayed().await.unwrap(), "and not on a phone");

    browser.close().await;
}

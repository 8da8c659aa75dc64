//! A person paying in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `.ci/run`) driven over WebDriver. It opens the pay link,
//! clicks Pay on the sandbox page, lands on the success page, and the API shows the order
//! paid; Decline leaves it payable.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_pays_in_a_browser_and_declining_leaves_the_order_payable() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    let page = browser.client();

    // Pay.
    let (paid_id, link) = order_with_link_url(&app, "+14155550100").await;
    page.goto(&link).await.unwrap();
    let checkout = page.current_url().await.unwrap();
    assert!(
        checkout.path().starts_with("/sandbox/checkout/"),
        "{checkout}"
    );
    let source = page.source().await.unwrap();
    assert!(
        source.contains("Mint tea") && source.contains("9.00 USD"),
        "{source}"
    );
    // The inline stylesheet is allowed by its hash in the page's Content-Security-Policy.
    let pay_button = page.find(Locator::Css("button.pay")).await.unwrap();
    assert_eq!(
        pay_button.css_value("background-color").await.unwrap(),
        "rgba(26, 127, 55, 1)",
        "the page's style applies under its CSP"
    );
    press(page, "button.pay").await;
    let done = leave(page, &checkout).await;
    assert_eq!(done.as_str(), format!("{link}/done"));
    let heading = page.find(Locator::Css("h1")).await.unwrap();
    assert_eq!(heading.text().await.unwrap(), "Payment received");
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
    // The link now says the order is paid.
    page.goto(&link).await.unwrap();
    let heading = page.find(Locator::Css("h1")).await.unwrap();
    assert_eq!(heading.text().await.unwrap(), "Already paid");

    // Decline: back to a fresh checkout; the order can still be paid.
    let (declined_id, link) = order_with_link_url(&app, "+14155550101").await;
    page.goto(&link).await.unwrap();
    let first = page.current_url().await.unwrap();
    press(page, "button.decline").await;
    let second = leave(page, &first).await;
    assert!(second.path().starts_with("/sandbox/checkout/"), "{second}");
    assert_ne!(first, second, "a new session after the declined one");
    assert_eq!(app.order(&declined_id).await["status"], "pending_payment");
    press(page, "button.pay").await;
    leave(page, &second).await;
    assert_eq!(app.order(&declined_id).await["status"], "paid");

    browser.close().await;
}

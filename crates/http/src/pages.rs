//! The few HTML pages a customer sees (on a phone, from a chat): small, plain, self-contained,
//! in the customer's language ([`crate::texts`]), each naming the merchant. Built with maud,
//! which escapes every value it is given; HTML that is not escaped is written
//! `PreEscaped(…)`, and the pages hold two: the stylesheet and the pay page's one script, both
//! constants allowed by their hashes in the Content-Security-Policy.

use std::sync::LazyLock;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use base64::Engine;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};

use orderpay_domain::merchant::Merchant;
use orderpay_domain::money::{Amount, Currency};
use orderpay_domain::order::Order;

use crate::texts::{Texts, fill, negotiate};

/// Where Stripe's checkout lives: the pay page's form is answered by a redirect there, which
/// `form-action` must allow.
const PROVIDER_CHECKOUT: &str = "https://checkout.stripe.com";

/// What every page knows: the customer's language and whom they pay.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub t: &'static Texts,
    pub merchant: &'a Merchant,
}

impl<'a> Ctx<'a> {
    /// The language `req` asks for, and `merchant`.
    pub fn of(req: &HttpRequest, merchant: &'a Merchant) -> Self {
        let accept = req
            .headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        Self {
            t: negotiate(accept),
            merchant,
        }
    }

    /// `template` filled with the merchant's name and `values`.
    pub fn say(&self, template: &str, values: &[(&str, &str)]) -> String {
        let mut all = vec![("merchant", self.merchant.name())];
        all.extend_from_slice(values);
        fill(template, &all)
    }

    /// `template` filled for `order`: its total, reference and item count.
    pub fn say_of(&self, template: &str, order: &Order) -> String {
        let count = item_count(order);
        self.say(
            template,
            &[
                ("amount", &money(order.total(), order.currency())),
                ("reference", &order.reference().to_string()),
                ("count", &count.to_string()),
            ],
        )
    }
}

/// The number of things ordered (`3 × tea` is 3).
pub fn item_count(order: &Order) -> u64 {
    order.items().iter().fold(0, |n, item| {
        n.saturating_add(u64::from(item.quantity.get()))
    })
}

/// An amount as people read it in its currency: `$12.25`, `12,25 €`.
pub fn money(amount: Amount, currency: Currency) -> String {
    orderpay_domain::money::display(amount, currency)
}

/// The order's reference, items and total.
pub fn order_summary(ctx: Ctx<'_>, order: &Order) -> Markup {
    html! {
        p.ref { (ctx.t.order) " " b { (order.reference()) } }
        table {
            @for item in order.items() {
                tr {
                    td { (item.quantity.get()) " × " (item.name.as_str()) }
                    td.n { (money(item.amount, order.currency())) }
                }
            }
            tr.t { td { (ctx.t.total) } td.n { (money(order.total(), order.currency())) } }
        }
    }
}

/// What a link preview shows (Open Graph and Twitter card tags).
pub struct Preview {
    pub title: String,
    pub description: String,
    /// The page's canonical address: the pay link.
    pub url: String,
}

/// The pages' one stylesheet, inline (no external asset), allowed by its hash alone.
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.4rem}table{width:100%;border-collapse:collapse;margin:1rem 0}\
td{padding:.4rem 0;border-bottom:1px solid #eee}.n{text-align:right}.t td{font-weight:bold}\
.ref,.small,footer,.m{color:#555}.small,footer{font-size:.9rem}\
.m{display:flex;align-items:center;gap:.6rem;font-weight:600}.m img{max-height:2.5rem;width:auto}\
footer{margin-top:2rem;border-top:1px solid #eee;padding-top:.6rem}\
button,.button{display:block;width:100%;padding:.9rem;margin:.6rem 0;font-size:1.1rem;\
border:0;border-radius:.5rem;text-align:center;text-decoration:none}\
.pay{background:#1a7f37;color:#fff}.decline{background:#eee;color:#222}\
.note{background:#fff8c5;padding:.6rem;border-radius:.4rem}\
.qr{display:none;text-align:center;margin:1.5rem 0}.qr img{width:12rem;height:12rem}\
@media (min-width:48rem){.qr{display:block}}";

/// The pay page's automatic continue: submits its form (a POST, which opens checkout) once,
/// when the page was reached by a new navigation (not Back, not a reload) and is seen (not
/// prerendered, not a background tab). A link-preview crawler runs no script, so it never
/// sends that POST; a person who taps the link lands in checkout with no second tap.
const AUTO_CONTINUE: &str = "(function(){var f=document.getElementById('pay'),\
n=performance.getEntriesByType('navigation')[0],d=false;\
if(!f||(n&&n.type!=='navigate'))return;\
function go(){if(!d&&document.visibilityState==='visible'&&!document.prerendering){d=true;f.submit()}}\
go();document.addEventListener('visibilitychange',go);document.addEventListener('prerenderingchange',go)})()";

fn hash(constant: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(constant))
}

static HASHES: LazyLock<(String, String)> = LazyLock::new(|| (hash(STYLE), hash(AUTO_CONTINUE)));

/// Nothing loads but the stylesheet and script above, images from here, inline (the QR code)
/// and the merchant's logo; no site may frame the page (no clickjacking of a Pay button);
/// forms post only here, and are answered only with a redirect here or to checkout.
fn content_security_policy(merchant: &Merchant) -> String {
    let (style, script) = &*HASHES;
    let logo = merchant
        .logo_origin()
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    format!(
        "default-src 'none'; style-src 'sha256-{style}'; script-src 'sha256-{script}'; \
         img-src 'self' data:{logo}; base-uri 'none'; form-action 'self' {PROVIDER_CHECKOUT}; \
         frame-ancestors 'none'"
    )
}

/// A whole page: the merchant, `title` as heading, `body`, the merchant's support contact.
/// With `preview`, the tags a chat app draws a link preview from; with `auto_continue`, the
/// script that submits the page's `#pay` form. The page's URL may hold a pay token, so no
/// referrer leaves it, and no search engine keeps it.
pub fn page_with(
    ctx: Ctx<'_>,
    status: StatusCode,
    title: &str,
    body: Markup,
    preview: Option<&Preview>,
    auto_continue: bool,
) -> HttpResponse {
    let merchant = ctx.merchant;
    let html = html! {
        (DOCTYPE)
        html lang=(ctx.t.lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                meta name="robots" content="noindex,nofollow";
                title { (title) }
                @if let Some(p) = preview {
                    link rel="canonical" href=(p.url);
                    meta name="description" content=(p.description);
                    meta property="og:type" content="website";
                    meta property="og:site_name" content=(merchant.name());
                    meta property="og:title" content=(p.title);
                    meta property="og:description" content=(p.description);
                    meta property="og:url" content=(p.url);
                    meta name="twitter:card" content="summary";
                    meta name="twitter:title" content=(p.title);
                    meta name="twitter:description" content=(p.description);
                    @if let Some(logo) = merchant.logo_url() {
                        meta property="og:image" content=(logo);
                        meta name="twitter:image" content=(logo);
                    }
                }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header.m {
                    @if let Some(logo) = merchant.logo_url() { img src=(logo) alt=""; }
                    span { (merchant.name()) }
                }
                h1 { (title) }
                (body)
                @if let Some(contact) = merchant.support_contact() {
                    footer {
                        (ctx.t.support) " "
                        @match merchant.support_href() {
                            Some(href) => a href=(href) { (contact) },
                            None => (contact),
                        }
                    }
                }
                @if auto_continue { script { (PreEscaped(AUTO_CONTINUE)) } }
            }
        }
    };
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .insert_header(("content-security-policy", content_security_policy(merchant)))
        .insert_header(("referrer-policy", "no-referrer"))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("x-robots-tag", "noindex, nofollow"))
        // The words follow the request's `Accept-Language`.
        .insert_header(("vary", "Accept-Language"))
        .body(html.into_string())
}

/// A page with no preview tags and no script.
pub fn page(ctx: Ctx<'_>, status: StatusCode, title: &str, body: Markup) -> HttpResponse {
    page_with(ctx, status, title, body, None, false)
}

/// A page of one paragraph.
pub fn message(ctx: Ctx<'_>, status: StatusCode, title: &str, text: &str) -> HttpResponse {
    page(ctx, status, title, html! { p { (text) } })
}

/// A page about an order: its summary, then one paragraph.
pub fn order_page(
    ctx: Ctx<'_>,
    status: StatusCode,
    title: &str,
    order: &Order,
    text: &str,
) -> HttpResponse {
    page(
        ctx,
        status,
        title,
        html! { (order_summary(ctx, order)) p { (text) } },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_the_merchant_named() {
        let merchant = Merchant::new(
            "<i>Tea</i> & Co",
            Some("https://cdn.example.com/logo.png?a=1&b=\"2\""),
            Some("help@tea.example"),
        );
        // A logo address with a quote is refused before it reaches a page.
        assert!(merchant.is_err());
        let merchant = Merchant::new(
            "<i>Tea</i> & Co",
            Some("https://cdn.example.com/logo.png?a=1&b=2"),
            Some("help@tea.example"),
        )
        .unwrap();
        let ctx = Ctx {
            t: &crate::texts::EN,
            merchant: &merchant,
        };
        let escaped = message(ctx, StatusCode::OK, "<b>\"Tea\" & cake</b>", "<script>");
        let csp = escaped.headers().get("content-security-policy").unwrap();
        assert!(
            csp.to_str()
                .unwrap()
                .contains("img-src 'self' data: https://cdn.example.com;"),
            "{csp:?}"
        );
        let body = actix_web::body::MessageBody::try_into_bytes(escaped.into_body()).unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            body.contains("<h1>&lt;b&gt;&quot;Tea&quot; &amp; cake&lt;/b&gt;</h1>"),
            "{body}"
        );
        assert!(body.contains("<p>&lt;script&gt;</p>"), "{body}");
        assert!(
            body.contains("<span>&lt;i&gt;Tea&lt;/i&gt; &amp; Co</span>"),
            "{body}"
        );
        assert!(
            body.contains("src=\"https://cdn.example.com/logo.png?a=1&amp;b=2\""),
            "{body}"
        );
        assert!(
            body.contains("<a href=\"mailto:help@tea.example\">help@tea.example</a>"),
            "{body}"
        );
        assert!(
            !body.contains("<script>"),
            "no script but the pay page's: {body}"
        );
    }
}

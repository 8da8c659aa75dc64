//! The few HTML pages a customer sees (on a phone, from a chat): small, plain, self-contained,
//! no script and no external asset. Built with maud, which escapes every value it is given;
//! HTML that is not escaped is written `PreEscaped(…)`, and the pages hold one: the stylesheet.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use base64::Engine;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};

use orderpay_domain::money::{Amount, Currency};
use orderpay_domain::order::Order;

/// `1200` eur as `12.00 EUR`, `500` jpy as `500 JPY`.
pub fn money(amount: Amount, currency: Currency) -> String {
    let units = amount.minor_units();
    let code = currency.code().to_ascii_uppercase();
    match currency.exponent() {
        0 => format!("{units} {code}"),
        e => {
            let scale = 10i64.pow(u32::from(e));
            format!(
                "{}.{:0width$} {code}",
                units / scale,
                units % scale,
                width = usize::from(e)
            )
        }
    }
}

/// The order's reference, items and total.
pub fn order_summary(order: &Order) -> Markup {
    html! {
        p.ref { "Order " b { (order.reference()) } }
        table {
            @for item in order.items() {
                tr {
                    td { (item.quantity.get()) " × " (item.name.as_str()) }
                    td.n { (money(item.amount, order.currency())) }
                }
            }
            tr.t { td { "Total" } td.n { (money(order.total(), order.currency())) } }
        }
    }
}

/// The pages' one stylesheet, inline (no external asset), allowed by its hash alone.
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.4rem}table{width:100%;border-collapse:collapse;margin:1rem 0}\
td{padding:.4rem 0;border-bottom:1px solid #eee}.n{text-align:right}.t td{font-weight:bold}\
.ref{color:#555}button,.button{display:block;width:100%;padding:.9rem;margin:.6rem 0;font-size:1.1rem;\
border:0;border-radius:.5rem;text-align:center;text-decoration:none}\
.pay{background:#1a7f37;color:#fff}.decline{background:#eee;color:#222}\
.note{background:#fff8c5;padding:.6rem;border-radius:.4rem}";

/// Nothing loads but the stylesheet above; no script runs; no site may frame the page (no
/// clickjacking of a Pay button); forms post only here.
static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
});

/// A whole page: `title` as heading, then `body`. The page's URL may hold a pay token, so no
/// referrer leaves it.
pub fn page(status: StatusCode, title: &str, body: Markup) -> HttpResponse {
    let html = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                title { (title) }
                // The one raw piece: a constant, whose hash the policy above allows.
                style { (PreEscaped(STYLE)) }
            }
            body { h1 { (title) } (body) }
        }
    };
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .insert_header(("content-security-policy", CONTENT_SECURITY_POLICY.as_str()))
        .insert_header(("referrer-policy", "no-referrer"))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(html.into_string())
}

/// A page of one paragraph.
pub fn message(status: StatusCode, title: &str, text: &str) -> HttpResponse {
    page(status, title, html! { p { (text) } })
}

/// A page about an order: its summary, then one paragraph.
pub fn order_page(status: StatusCode, title: &str, order: &Order, text: &str) -> HttpResponse {
    page(status, title, html! { (order_summary(order)) p { (text) } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_money_formatted_by_exponent() {
        let escaped = message(StatusCode::OK, "<b>\"Tea\" & cake</b>", "<script>");
        let body = actix_web::body::MessageBody::try_into_bytes(escaped.into_body()).unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            body.contains("<h1>&lt;b&gt;&quot;Tea&quot; &amp; cake&lt;/b&gt;</h1>"),
            "{body}"
        );
        assert!(body.contains("<p>&lt;script&gt;</p>"), "{body}");
        let eur = Currency::parse("eur").unwrap();
        assert_eq!(money(Amount::new(1205).unwrap(), eur), "12.05 EUR");
        let jpy = Currency::parse("jpy").unwrap();
        assert_eq!(money(Amount::new(500).unwrap(), jpy), "500 JPY");
        let kwd = Currency::parse("kwd").unwrap();
        assert_eq!(money(Amount::new(1005).unwrap(), kwd), "1.005 KWD");
    }
}

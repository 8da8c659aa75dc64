//! The few HTML pages a customer sees (on a phone, from a chat): small, plain, self-contained,
//! no script and no external asset.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use base64::Engine;
use sha2::{Digest, Sha256};

use orderpay_domain::money::{Amount, Currency};
use orderpay_domain::order::Order;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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

/// The order's items and total, as a table.
pub fn order_summary(order: &Order) -> String {
    let rows: String = order
        .items()
        .iter()
        .map(|item| {
            format!(
                "<tr><td>{} × {}</td><td class=n>{}</td></tr>",
                item.quantity.get(),
                escape(item.name.as_str()),
                money(item.amount, order.currency())
            )
        })
        .collect();
    format!(
        "<p class=ref>Order <b>{}</b></p><table>{rows}<tr class=t><td>Total</td><td class=n>{}</td></tr></table>",
        order.reference,
        money(order.total(), order.currency())
    )
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

/// A whole page: `title` as heading, `body` as trusted HTML. The page's URL may hold a pay
/// token, so no referrer leaves it.
pub fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width,initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body><h1>{title}</h1>{body}</body></html>",
        title = escape(title),
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .insert_header(("content-security-policy", CONTENT_SECURITY_POLICY.as_str()))
        .insert_header(("referrer-policy", "no-referrer"))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_money_formatted_by_exponent() {
        assert_eq!(
            escape("<b>\"Tea\" & 'cake'</b>"),
            "&lt;b&gt;&quot;Tea&quot; &amp; &#39;cake&#39;&lt;/b&gt;"
        );
        let eur = Currency::parse("eur").unwrap();
        assert_eq!(money(Amount::new(1205).unwrap(), eur), "12.05 EUR");
        let jpy = Currency::parse("jpy").unwrap();
        assert_eq!(money(Amount::new(500).unwrap(), jpy), "500 JPY");
        let kwd = Currency::parse("kwd").unwrap();
        assert_eq!(money(Amount::new(1005).unwrap(), kwd), "1.005 KWD");
    }
}

//! What a customer opens: the pay link (`/pay/{token}`) and the page after paying.
//!
//! The link is sent in chats, whose apps fetch it to draw a preview before anyone taps it.
//! So reading it (`GET`) changes nothing: it answers a page saying what is asked (`Pay $12.25
//! to Tea House`, with Open Graph tags for the preview) and where the order stands. Checkout
//! is opened by the page's form (`POST`), which a person's browser submits by itself on
//! arrival (a script crawlers do not run), or when they press Pay.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web::{Bytes, Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use maud::html;

use orderpay_domain::order::{Order, OrderStatus, PayToken};
use orderpay_domain::payment::{LinkState, PayLinkError};

use crate::AppState;
use crate::pages::{Ctx, Preview, item_count, message, order_page, order_summary, page_with};
use crate::texts::Texts;

pub(crate) fn see_other(url: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url))
        .insert_header(("cache-control", "no-store"))
        .finish()
}

pub(crate) fn not_found(ctx: Ctx<'_>) -> HttpResponse {
    message(
        ctx,
        StatusCode::NOT_FOUND,
        ctx.t.not_found_title,
        ctx.t.not_found_text,
    )
}

/// The page for an error the customer cannot fix: logged with `what` failed, and a 503.
pub(crate) fn failed(ctx: Ctx<'_>, what: &str, error: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %format!("{error:#}"), "{what}");
    unavailable(ctx)
}

fn unavailable(ctx: Ctx<'_>) -> HttpResponse {
    let mut response = message(
        ctx,
        StatusCode::SERVICE_UNAVAILABLE,
        ctx.t.unavailable_title,
        ctx.t.unavailable_text,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
    response
}

/// Fetchers that draw link previews, or index pages, and may run scripts (iMessage sends
/// `facebookexternalhit` and `Twitterbot`). The automatic continue does not rely on this list
/// (crawlers run no script and send no `POST`); it only keeps the script from those that do.
const PREVIEW_AGENTS: &[&str] = &[
    "facebookexternalhit",
    "facebot",
    "twitterbot",
    "whatsapp/",
    "telegrambot",
    "slackbot",
    "discordbot",
    "linkedinbot",
    "skypeuripreview",
    "googlebot",
    "bingbot",
    "applebot",
    "pinterestbot",
    "redditbot",
    "embedly",
    "iframely",
];

/// Whether `req` comes from a known link-preview or search fetcher.
fn preview_agent(req: &HttpRequest) -> bool {
    let agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    PREVIEW_AGENTS.iter().any(|bot| agent.contains(bot))
}

/// The page title and, for an order with nothing to pay, the paragraph saying why.
fn words(t: &'static Texts, state: &LinkState) -> (&'static str, Option<&'static str>) {
    match state {
        LinkState::Payable => (t.pay_title, None),
        LinkState::Paid => (t.paid_title, Some(t.paid_text)),
        LinkState::Cancelled => (t.cancelled_title, Some(t.cancelled_text)),
        LinkState::Processing => (t.processing_title, Some(t.processing_text)),
        LinkState::NeedsAttention => (t.attention_title, Some(t.attention_text)),
        LinkState::NotChargeable(_) => (t.not_chargeable_title, Some(t.not_chargeable_text)),
    }
}

/// The pay link's page for `order` in `state`: what is asked and of whom, the items, and,
/// while it can be paid, the form that opens checkout (submitted by itself when
/// `auto_continue`) and the link's QR code for wide screens.
fn link_page(
    ctx: Ctx<'_>,
    url: &str,
    proof: &str,
    order: &Order,
    state: &LinkState,
    returned: bool,
    auto_continue: bool,
) -> HttpResponse {
    let t = ctx.t;
    let (title, text) = words(t, state);
    let title = ctx.say_of(title, order);
    let description = match item_count(order) {
        1 => t.description_one,
        _ => t.description_other,
    };
    let preview = Preview {
        title: title.clone(),
        description: ctx.say_of(description, order),
        url: url.to_owned(),
    };
    let payable = *state == LinkState::Payable;
    let action = crate::links::pay_path(order.pay_token().as_str());
    let body = html! {
        (order_summary(ctx, order))
        @if let Some(text) = text { p { (ctx.say(text, &[])) } }
        @if payable {
            @if returned { p.note { (t.returned_note) } }
            form #pay method="post" action=(action) {
                input type="hidden" name=(PROOF_FIELD) value=(proof);
                button.pay type="submit" { (ctx.say_of(t.pay_button, order)) }
            }
            p.small { (t.pay_note) }
            @if let Some(qr) = crate::qr::data_uri(url) {
                div.qr {
                    img src=(qr) alt=(t.qr_alt);
                    p.small { (t.qr_caption) }
                }
            }
        }
    };
    page_with(
        ctx,
        StatusCode::OK,
        &title,
        body,
        Some(&preview),
        payable && auto_continue,
    )
}

/// `GET /pay/{token}`: the pay link's page, read only. A person's browser continues to
/// checkout by itself unless they came back from it (`?returned`).
#[utoipa::path(get, path = "/pay/{token}", tag = "pages",
    params(("token" = String, Path, description = "The pay link's token. `?returned`, where checkout sends a customer back, keeps the page from continuing to checkout by itself")),
    responses((status = 200, description = "What is asked, of whom, and where the order stands, with Open Graph tags; nothing is opened or recorded", content_type = "text/html"),
        (status = 404, description = "An unknown link", content_type = "text/html"),
        (status = 429, description = "Over the rate limit"),
        (status = 503, description = "Payments are not available right now", content_type = "text/html")))]
pub async fn preview(state: Data<AppState>, req: HttpRequest, token: Path<String>) -> HttpResponse {
    let checkout = &state.public.payments.checkout;
    let ctx = Ctx::of(&req, checkout.merchant());
    let Some(token) = PayToken::parse(&token) else {
        return not_found(ctx);
    };
    let returned = req
        .query_string()
        .split('&')
        .any(|pair| pair.split('=').next() == Some("returned"));
    match checkout.preview(&token).await {
        Ok(preview) => link_page(
            ctx,
            &checkout.links().pay(&token),
            &state.form_key.proof(&token),
            &preview.order,
            &preview.state,
            returned,
            !returned && !preview_agent(&req),
        ),
        Err(PayLinkError::NotFound) => not_found(ctx),
        Err(e) => failed(ctx, "reading a pay link failed", &e),
    }
}

/// `POST /pay/{token}`: the customer opens checkout, from the pay link's page. To the open
/// checkout session (opened now when there is none), or back to the page when there is
/// nothing to pay. Refused from other sites (403).
#[utoipa::path(post, path = "/pay/{token}", tag = "pages",
    params(("token" = String, Path, description = "The pay link's token")),
    responses((status = 303, description = "To the open checkout; or back to the link's page when there is nothing to pay"),
        (status = 403, description = "Not sent from the pay link's own page", content_type = "text/html"),
        (status = 404, description = "An unknown link", content_type = "text/html"),
        (status = 429, description = "Over the rate limit"),
        (status = 503, description = "Payments are not available right now", content_type = "text/html")))]
pub async fn open(
    state: Data<AppState>,
    req: HttpRequest,
    token: Path<String>,
    body: Bytes,
) -> HttpResponse {
    let checkout = &state.public.payments.checkout;
    let ctx = Ctx::of(&req, checkout.merchant());
    let Some(token) = PayToken::parse(&token) else {
        return not_found(ctx);
    };
    let proven = state.form_key.proven(&token, &body);
    if !from_own_pages(&req, checkout.links().base(), proven) {
        return forbidden(ctx);
    }
    match checkout.checkout(&token).await {
        Ok(orderpay_domain::payment::CheckoutOutcome::Redirect(url)) => see_other(&url),
        // Paid, cancelled, on hold...: the link's page says which.
        Ok(_) => see_other(&checkout.links().pay(&token)),
        Err(PayLinkError::NotFound) => not_found(ctx),
        Err(e) => failed(ctx, "opening a pay link failed", &e),
    }
}

/// `GET /pay/{token}/done`: where the provider sends the customer after checkout. The order's
/// state comes from the provider's event, which may still be on its way.
#[utoipa::path(get, path = "/pay/{token}/done", tag = "pages",
    params(("token" = String, Path, description = "The pay link's token")),
    responses((status = 200, description = "Where the provider returns the customer", content_type = "text/html"),
        (status = 404, description = "An unknown link", content_type = "text/html"),
        (status = 429, description = "Over the rate limit")))]
pub async fn done(state: Data<AppState>, req: HttpRequest, token: Path<String>) -> HttpResponse {
    let ctx = Ctx::of(&req, state.public.payments.checkout.merchant());
    let Some(token) = PayToken::parse(&token) else {
        return not_found(ctx);
    };
    let t = ctx.t;
    match state.public.orders.get_by_pay_token(&token).await {
        Ok(Some(order)) => {
            let (title, text) = match order.status() {
                OrderStatus::PendingPayment => (t.confirming_title, t.confirming_text),
                OrderStatus::Cancelled => (t.cancelled_title, t.done_cancelled_text),
                _ => (t.received_title, t.received_text),
            };
            order_page(
                ctx,
                StatusCode::OK,
                &ctx.say_of(title, &order),
                &order,
                &ctx.say(text, &[]),
            )
        }
        Ok(None) => not_found(ctx),
        Err(e) => failed(ctx, "reading an order failed", &e),
    }
}

pub(crate) fn forbidden(ctx: Ctx<'_>) -> HttpResponse {
    message(
        ctx,
        StatusCode::FORBIDDEN,
        ctx.t.forbidden_title,
        ctx.t.forbidden_text,
    )
}

/// `scheme://host[:port]` of an absolute URL, as browsers write the `Origin` header.
fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    url.get(..scheme.len() + 3 + host_end)
}

/// Whether a browser sent this POST from the service's own pages: its `Origin` (or, where a
/// browser withholds it, its `Referer`, or `Sec-Fetch-Site`) is `PUBLIC_BASE_URL`'s. A
/// browser that sends none of them (the page's own form carries `Origin: null` under
/// `Referrer-Policy: no-referrer`, and Safari before 16.4 sends no `Sec-Fetch-Site`) is
/// believed when `proven`: the form carried the proof only the page hands out. Another site's
/// form is refused: a page elsewhere must not be able to press Pay for a customer.
pub(crate) fn from_own_pages(req: &HttpRequest, public_base_url: &str, proven: bool) -> bool {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let Some(own) = origin_of(public_base_url) else {
        return false;
    };
    match header("origin") {
        // `null` is what a page with `Referrer-Policy: no-referrer` sends on its own forms.
        Some(origin) if origin != "null" => origin.eq_ignore_ascii_case(own),
        _ => match header("referer") {
            Some(referer) => origin_of(referer).is_some_and(|o| o.eq_ignore_ascii_case(own)),
            None => match header("sec-fetch-site") {
                Some(site) => site == "same-origin",
                None => proven,
            },
        },
    }
}

/// The key of the pay page's form proof: an HMAC of the pay token, written into the page's
/// form and checked when the form comes back. Derived from `WEBHOOK_SIGNING_KEY` by the app,
/// so every replica checks what any replica wrote.
#[derive(Clone)]
pub struct FormKey([u8; 32]);

impl std::fmt::Debug for FormKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FormKey(***)")
    }
}

/// The form field that carries the proof.
const PROOF_FIELD: &str = "proof";

impl FormKey {
    pub fn new(key: [u8; 32]) -> Self {
        Self(key)
    }

    fn mac(&self, token: &PayToken) -> hmac::Hmac<sha2::Sha256> {
        use hmac::{KeyInit, Mac};
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(b"pay form: ");
        mac.update(token.as_str().as_bytes());
        mac
    }

    /// The proof the page for `token` carries in its form.
    fn proof(&self, token: &PayToken) -> String {
        use hmac::Mac;
        hex::encode(&self.mac(token).finalize().into_bytes()[..16])
    }

    /// Whether the form body (`application/x-www-form-urlencoded`) carries the proof for
    /// `token`, compared in constant time.
    fn proven(&self, token: &PayToken, body: &[u8]) -> bool {
        use hmac::Mac;
        let Ok(fields) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) else {
            return false;
        };
        fields
            .iter()
            .find(|(name, _)| name == PROOF_FIELD)
            .and_then(|(_, value)| hex::decode(value).ok())
            .is_some_and(|tag| {
                tag.len() == 16 && self.mac(token).verify_truncated_left(&tag).is_ok()
            })
    }
}

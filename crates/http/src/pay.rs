//! What a customer opens: the pay link (`/pay/{token}`), the page after paying, and the
//! sandbox provider's checkout page with its Pay and Decline buttons.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};

use orderpay_domain::order::PayToken;
use orderpay_domain::payment::{CheckoutOutcome, PayLinkError, PaymentStatus, SandboxOutcome};

use crate::AppState;
use maud::html;

use crate::pages::{message, order_page, order_summary, page};

fn see_other(url: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url))
        .insert_header(("cache-control", "no-store"))
        .finish()
}

fn not_found() -> HttpResponse {
    message(
        StatusCode::NOT_FOUND,
        "Link not found",
        "This payment link is not valid. Check the link you were sent.",
    )
}

fn unavailable() -> HttpResponse {
    let mut response = message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Please try again",
        "Payments are not available right now. Open the link again in a minute.",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
    response
}

/// `GET /pay/{token}`: to the open checkout session, or a page saying there is nothing to pay.
#[utoipa::path(get, path = "/pay/{token}", tag = "pages",
    params(("token" = String, Path, description = "The pay link's token")),
    responses((status = 303, description = "To the open checkout"),
        (status = 200, description = "A page: paid, cancelled, on hold, or not payable online", content_type = "text/html"),
        (status = 404, description = "An unknown link", content_type = "text/html"),
        (status = 429, description = "Over the rate limit"),
        (status = 503, description = "Payments are not available right now", content_type = "text/html")))]
pub async fn open(state: Data<AppState>, token: Path<String>) -> HttpResponse {
    let Some(token) = PayToken::parse(&token) else {
        return not_found();
    };
    match state.public.payments.checkout.checkout(&token).await {
        Ok(CheckoutOutcome::Redirect(url)) => see_other(&url),
        Ok(CheckoutOutcome::Paid(order)) => order_page(
            StatusCode::OK,
            "Already paid",
            &order,
            "This order is paid. Thank you!",
        ),
        Ok(CheckoutOutcome::Cancelled(order)) => order_page(
            StatusCode::OK,
            "Order cancelled",
            &order,
            "This order was cancelled and cannot be paid. Contact the seller if this is unexpected.",
        ),
        Ok(CheckoutOutcome::Processing(order)) => order_page(
            StatusCode::OK,
            "Payment processing",
            &order,
            "Your payment is on its way. You will hear from the seller when it arrives.",
        ),
        Ok(CheckoutOutcome::NeedsAttention(order)) => order_page(
            StatusCode::OK,
            "Payment on hold",
            &order,
            "This order needs the seller's attention before it can be paid. Contact the seller.",
        ),
        Ok(CheckoutOutcome::NotChargeable(order, _)) => order_page(
            StatusCode::OK,
            "Cannot be paid online",
            &order,
            "This order cannot be paid online as it stands. Contact the seller.",
        ),
        Err(PayLinkError::NotFound) => not_found(),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "opening a pay link failed");
            unavailable()
        }
    }
}

/// `GET /pay/{token}/done`: where the provider sends the customer after checkout. The order's
/// state comes from the provider's event, which may still be on its way.
#[utoipa::path(get, path = "/pay/{token}/done", tag = "pages",
    params(("token" = String, Path, description = "The pay link's token")),
    responses((status = 200, description = "Where the provider returns the customer", content_type = "text/html"),
        (status = 404, description = "An unknown link", content_type = "text/html"),
        (status = 429, description = "Over the rate limit")))]
pub async fn done(state: Data<AppState>, token: Path<String>) -> HttpResponse {
    let Some(token) = PayToken::parse(&token) else {
        return not_found();
    };
    match state.public.orders.get_by_pay_token(&token).await {
        Ok(Some(order)) => {
            let (title, text) = match order.status() {
                orderpay_domain::order::OrderStatus::PendingPayment => (
                    "Thank you",
                    "Your payment is being confirmed. You will hear from the seller shortly.",
                ),
                orderpay_domain::order::OrderStatus::Cancelled => (
                    "Order cancelled",
                    "This order was cancelled. Contact the seller.",
                ),
                _ => ("Payment received", "Thank you! Your order is paid."),
            };
            order_page(StatusCode::OK, title, &order, text)
        }
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "reading an order failed");
            unavailable()
        }
    }
}

/// `GET /sandbox/checkout/{session}`: the sandbox provider's checkout page.
pub async fn sandbox_checkout(state: Data<AppState>, session: Path<String>) -> HttpResponse {
    match state.public.payments.checkout.session(&session).await {
        Ok(Some((payment, order))) if payment.status() == PaymentStatus::Open => {
            let action = crate::links::sandbox_checkout_path(&session);
            page(
                StatusCode::OK,
                "Sandbox checkout",
                html! {
                    p.note { "Sandbox: no money moves. Pay and Decline act as a real provider's events would." }
                    (order_summary(&order))
                    form method="post" action={ (action) "/pay" } {
                        button.pay type="submit" { "Pay" }
                    }
                    form method="post" action={ (action) "/decline" } {
                        button.decline type="submit" { "Decline" }
                    }
                },
            )
        }
        Ok(Some((_, order))) => see_other(
            &state
                .public
                .payments
                .checkout
                .links()
                .pay(order.pay_token()),
        ),
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "reading a sandbox session failed");
            unavailable()
        }
    }
}

/// `scheme://host[:port]` of an absolute URL, as browsers write the `Origin` header.
fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    url.get(..scheme.len() + 3 + host_end)
}

/// Whether a browser sent this POST from the service's own pages: its `Origin` (or, where a
/// browser withholds it, its `Referer`, or `Sec-Fetch-Site`) is `PUBLIC_BASE_URL`'s. Another
/// site's form, or a request with none of them, is refused: a page elsewhere must not be
/// able to press Pay for a customer.
fn from_own_pages(req: &HttpRequest, public_base_url: &str) -> bool {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let Some(own) = origin_of(public_base_url) else {
        return false;
    };
    match header("origin") {
        // `null` is what a page with `Referrer-Policy: no-referrer` sends on its own forms.
        Some(origin) if origin != "null" => origin.eq_ignore_ascii_case(own),
        _ => match header("referer") {
            Some(referer) => origin_of(referer).is_some_and(|o| o.eq_ignore_ascii_case(own)),
            None => header("sec-fetch-site") == Some("same-origin"),
        },
    }
}

/// `POST /sandbox/checkout/{session}/pay` and `.../decline`: the customer's choice, applied as
/// the provider's event would be, through the same domain path. Refused from other sites
/// (403), and for a session that no longer takes a choice (409).
pub async fn sandbox_decide(
    state: Data<AppState>,
    req: HttpRequest,
    path: Path<(String, String)>,
) -> HttpResponse {
    let (session_id, choice) = path.into_inner();
    let pay = match choice.as_str() {
        "pay" => true,
        "decline" => false,
        _ => return not_found(),
    };
    if !from_own_pages(&req, state.public.payments.checkout.links().base()) {
        return message(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "This button can only be pressed on the checkout page itself.",
        );
    }
    match state
        .public
        .payments
        .checkout
        .sandbox_choice(&session_id, pay)
        .await
    {
        Ok(Some(SandboxOutcome::Applied(order))) => {
            let links = state.public.payments.checkout.links();
            see_other(&if pay {
                links.paid(order.pay_token())
            } else {
                links.pay(order.pay_token())
            })
        }
        Ok(Some(SandboxOutcome::NotOpen(order))) => order_page(
            StatusCode::CONFLICT,
            "This checkout is closed",
            &order,
            "This checkout no longer takes payment. Open the payment link again.",
        ),
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "applying a sandbox choice failed");
            unavailable()
        }
    }
}

//! What a customer opens: the pay link (`/pay/{token}`), the page after paying, and the
//! sandbox provider's checkout page with its Pay and Decline buttons.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web::{Data, Path};

use orderpay_domain::order::PayToken;
use orderpay_domain::payment::{CheckoutOutcome, PayLinkError, PaymentStatus};

use crate::AppState;
use crate::pages::{escape, order_summary, page};

fn see_other(url: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url))
        .insert_header(("cache-control", "no-store"))
        .finish()
}

fn not_found() -> HttpResponse {
    page(
        StatusCode::NOT_FOUND,
        "Link not found",
        "<p>This payment link is not valid. Check the link you were sent.</p>",
    )
}

fn unavailable() -> HttpResponse {
    let mut response = page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Please try again",
        "<p>Payments are not available right now. Open the link again in a minute.</p>",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
    response
}

/// `GET /pay/{token}`: to the open checkout session, or a page saying there is nothing to pay.
pub async fn open(state: Data<AppState>, token: Path<String>) -> HttpResponse {
    let Some(token) = PayToken::parse(&token) else {
        return not_found();
    };
    match state.payments.checkout(&token).await {
        Ok(CheckoutOutcome::Redirect(url)) => see_other(&url),
        Ok(CheckoutOutcome::Paid(order)) => page(
            StatusCode::OK,
            "Already paid",
            &format!(
                "{}<p>This order is paid. Thank you!</p>",
                order_summary(&order)
            ),
        ),
        Ok(CheckoutOutcome::Cancelled(order)) => page(
            StatusCode::OK,
            "Order cancelled",
            &format!(
                "{}<p>This order was cancelled and cannot be paid. Contact the seller if this is unexpected.</p>",
                order_summary(&order)
            ),
        ),
        Ok(CheckoutOutcome::Processing(order)) => page(
            StatusCode::OK,
            "Payment processing",
            &format!(
                "{}<p>Your payment is on its way. You will hear from the seller when it arrives.</p>",
                order_summary(&order)
            ),
        ),
        Ok(CheckoutOutcome::NeedsAttention(order)) => page(
            StatusCode::OK,
            "Payment on hold",
            &format!(
                "{}<p>This order needs the seller's attention before it can be paid. Contact the seller.</p>",
                order_summary(&order)
            ),
        ),
        Ok(CheckoutOutcome::NotChargeable(order, _)) => page(
            StatusCode::OK,
            "Cannot be paid online",
            &format!(
                "{}<p>This order cannot be paid online as it stands. Contact the seller.</p>",
                order_summary(&order)
            ),
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
pub async fn done(state: Data<AppState>, token: Path<String>) -> HttpResponse {
    let Some(token) = PayToken::parse(&token) else {
        return not_found();
    };
    match state.orders.get_by_pay_token(&token).await {
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
            page(
                StatusCode::OK,
                title,
                &format!("{}<p>{text}</p>", order_summary(&order)),
            )
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
    match state.payments.session(&session).await {
        Ok(Some((payment, order))) if payment.status == PaymentStatus::Open => {
            let action = format!("/sandbox/checkout/{}", escape(&session));
            page(
                StatusCode::OK,
                "Sandbox checkout",
                &format!(
                    "<p class=note>Sandbox: no money moves. Pay and Decline act as a real provider's events would.</p>\
                     {}<form method=post action=\"{action}/pay\"><button class=pay type=submit>Pay</button></form>\
                     <form method=post action=\"{action}/decline\"><button class=decline type=submit>Decline</button></form>",
                    order_summary(&order)
                ),
            )
        }
        Ok(Some((_, order))) => see_other(&state.payments.pay_url(order.pay_token())),
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "reading a sandbox session failed");
            unavailable()
        }
    }
}

/// `POST /sandbox/checkout/{session}/pay` and `.../decline`: the customer's choice, applied as
/// the provider's event would be, through the same domain path.
pub async fn sandbox_decide(state: Data<AppState>, path: Path<(String, String)>) -> HttpResponse {
    let (session_id, choice) = path.into_inner();
    let pay = match choice.as_str() {
        "pay" => true,
        "decline" => false,
        _ => return not_found(),
    };
    match state.payments.sandbox_choice(&session_id, pay).await {
        Ok(Some(order)) => {
            let link = state.payments.pay_url(order.pay_token());
            see_other(&if pay { format!("{link}/done") } else { link })
        }
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "applying a sandbox choice failed");
            unavailable()
        }
    }
}

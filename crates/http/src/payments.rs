//! `/v1/orders/{id}/payment-link` (and its QR code) and `/v1/orders/{id}/events`.

use actix_web::web::{Bytes, Data, Path};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};

use orderpay_domain::payment::RefundInput;

use crate::orders::order_id;
use crate::problem::Problem;
use crate::requests::{ClearFlagsRequest, RefundRequest};
use crate::views::{ListView, OrderEventView, OrderView, PaymentLinkView};
use crate::{AppState, body, idempotency};

/// The order's pay link: the same URL every time while it awaits payment.
#[utoipa::path(post, path = "/v1/orders/{id}/payment-link", tag = "payments",
    params(("id" = uuid::Uuid, Path, description = "The order's id"), ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes a retry safe: up to 255 visible ASCII characters")),
    responses((status = 200, description = "The order's pay link: the same URL every time while unpaid", body = crate::views::PaymentLinkView),
        (status = 404, description = "No such order (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 409, description = "`order_already_paid`, `order_cancelled`, `order_flagged`, `idempotency_key_in_use`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 422, description = "`currency_not_supported_by_provider`, `amount_below_provider_minimum`, `idempotency_key_reused`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 502, description = "The payment provider failed", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn payment_link(
    state: Data<AppState>,
    id: Path<String>,
) -> Result<HttpResponse, Problem> {
    let link = state.payments.checkout.pay_link(order_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(PaymentLinkView::from(&link)))
}

/// The QR code of the order's pay link, as SVG. Reading it changes nothing: no payment is
/// opened and nothing is recorded (`POST .../payment-link` does that).
#[utoipa::path(get, path = "/v1/orders/{id}/payment-link/qr", tag = "payments",
    params(("id" = uuid::Uuid, Path, description = "The order's id")),
    responses((status = 200, description = "The pay link's QR code", content_type = "image/svg+xml", body = String),
        (status = 404, description = "No such order (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 409, description = "`order_already_paid`, `order_cancelled`, `order_flagged`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 422, description = "`currency_not_supported_by_provider`, `amount_below_provider_minimum`", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn payment_link_qr(
    state: Data<AppState>,
    id: Path<String>,
) -> Result<HttpResponse, Problem> {
    let url = state.payments.checkout.pay_link_url(order_id(&id)?).await?;
    let svg = crate::qr::svg(&url)
        .ok_or_else(|| Problem::internal(&"a pay link too long for a QR code"))?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("content-disposition", "inline; filename=\"pay-link.svg\""))
        .body(svg))
}

/// `POST /v1/orders/{id}/refunds` `{"amount"?, "reason"?}`: all that is left, or part.
#[utoipa::path(post, path = "/v1/orders/{id}/refunds", tag = "payments",
    params(("id" = uuid::Uuid, Path, description = "The order's id"), ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes a retry safe: up to 255 visible ASCII characters")), request_body(content = Option<crate::requests::RefundRequest>),
    responses((status = 200, description = "The order, refunded in part or whole", body = crate::views::OrderView),
        (status = 404, description = "No such order (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 409, description = "`order_not_paid`, `refund_in_progress`, `idempotency_key_in_use`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 422, description = "More than is left, invalid fields, `idempotency_key_reused`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 502, description = "The payment provider failed or refused", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn refund(
    state: Data<AppState>,
    req: HttpRequest,
    id: Path<String>,
    body: Bytes,
) -> Result<HttpResponse, Problem> {
    let id = order_id(&id)?;
    // An empty body asks for a full refund.
    let (amount, reason) = body::parse_optional(&req, &body, |r: RefundRequest, v| r.parse(v))?;
    let request_key = idempotency::claimed_key(&req).map(|k| idempotency::provider_key(&k));
    let order = state
        .payments
        .money
        .refund(
            id,
            RefundInput {
                amount,
                reason,
                request_key,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(OrderView::from(&order)))
}

/// `POST /v1/orders/{id}/clear-flags` `{"flags"?: ["amount_mismatch", ...]}`: a person dealt
/// with what the flags say; all of them when none are named.
#[utoipa::path(post, path = "/v1/orders/{id}/clear-flags", tag = "orders",
    params(("id" = uuid::Uuid, Path, description = "The order's id"), ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes a retry safe: up to 255 visible ASCII characters")), request_body(content = Option<crate::requests::ClearFlagsRequest>),
    responses((status = 200, description = "The order, its flags cleared", body = crate::views::OrderView),
        (status = 404, description = "No such order (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 409, description = "`idempotency_key_in_use`, or the operation's own conflict", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 422, description = "Invalid fields (`validation_failed`), or `idempotency_key_reused`", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn clear_flags(
    state: Data<AppState>,
    req: HttpRequest,
    id: Path<String>,
    body: Bytes,
) -> Result<HttpResponse, Problem> {
    let id = order_id(&id)?;
    let flags = body::parse_optional(&req, &body, |r: ClearFlagsRequest, v| r.parse(v))?;
    let actor = req
        .extensions()
        .get::<orderpay_domain::api_key::ApiKey>()
        .map(|key| format!("api_key:{}", key.id))
        .ok_or_else(|| Problem::internal(&"clear-flags ran without an API key"))?;
    let order = state.payments.money.clear_flags(id, &flags, &actor).await?;
    Ok(HttpResponse::Ok().json(OrderView::from(&order)))
}

/// The order's history, oldest first.
#[utoipa::path(get, path = "/v1/orders/{id}/events", tag = "orders",
    params(("id" = uuid::Uuid, Path, description = "The order's id")),
    responses((status = 200, description = "The order's history, oldest first", body = crate::openapi::OrderEventList),
        (status = 404, description = "No such order (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn events(state: Data<AppState>, id: Path<String>) -> Result<HttpResponse, Problem> {
    let history = state.orders.history(order_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(ListView::all(&history, |e| OrderEventView::from(e))))
}

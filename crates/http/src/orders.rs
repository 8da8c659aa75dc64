//! `/v1/orders`: create, get, get by reference, list, cancel.

use actix_web::web::{Bytes, Data, Path};
use actix_web::{HttpRequest, HttpResponse};

use actix_web::http::StatusCode;
use orderpay_domain::customer::CustomerId;
use orderpay_domain::order::{
    CreateOrderError, Order, OrderFilter, OrderId, OrderReference, OrderStatus,
};

use crate::problem::Problem;
use crate::query::Query;
use crate::requests::CreateOrderRequest;
use crate::views::{ListView, OrderView};
use crate::{AppState, body, idempotency};

pub(crate) fn order_id(raw: &str) -> Result<OrderId, Problem> {
    uuid::Uuid::parse_str(raw)
        .map(OrderId::from_uuid)
        .map_err(|_| Problem::not_found("order"))
}

/// An order for a customer given by id, or by phone (found or created in the same call). The server computes each line's amount and the total.
#[utoipa::path(post, path = "/v1/orders", tag = "orders",
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes a retry safe: up to 255 visible ASCII characters")), request_body = crate::requests::CreateOrderRequest,
    responses((status = 201, description = "Created (or, with `Idempotent-Replayed: true`, the first answer to this key)", body = crate::views::OrderView),
        (status = 409, description = "`idempotency_key_in_use`, or the operation's own conflict", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 422, description = "Invalid fields (`validation_failed`), or `idempotency_key_reused`", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn create(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, Problem> {
    let new = body::parse(&req, &body, |r: CreateOrderRequest, v| {
        r.parse(state.default_region, v)
    })?;
    let Some(keyed) = idempotency::keyed_request(&req) else {
        let order = state.orders.create(new).await?;
        return Ok(HttpResponse::Created().json(OrderView::from(&order)));
    };
    // The key is claimed, and the answer stored, by the statement that stores the order:
    // never one without the other, and no round trip more than without a key.
    let render = |order: &Order| {
        idempotency::stored(
            StatusCode::CREATED,
            "application/json",
            serde_json::to_string(&OrderView::from(order)).unwrap_or_default(),
        )
    };
    let order = match state
        .orders
        .create_answered(new, Some((&keyed, &render)))
        .await
    {
        Ok(order) => order,
        Err(CreateOrderError::KeyTaken(claim)) => {
            return Ok(idempotency::taken_answer(&claim, &state));
        }
        Err(e) => return Err(e.into()),
    };
    let mut response = HttpResponse::Created().json(OrderView::from(&order));
    response.extensions_mut().insert(idempotency::AnswerStored);
    Ok(response)
}

/// The order with its latest payment.
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders",
    params(("id" = uuid::Uuid, Path, description = "The order's id")),
    responses((status = 200, description = "The order with its latest payment", body = crate::views::OrderView),
        (status = 404, description = "No such order (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn get(state: Data<AppState>, id: Path<String>) -> Result<HttpResponse, Problem> {
    let (order, payment) = state.orders.get_with_payment(order_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(OrderView::with_payment(&order, payment.as_ref())))
}

/// The order with this reference, however a person typed it: any case, with or without the hyphen, look-alikes forgiven.
#[utoipa::path(get, path = "/v1/orders/by-reference/{reference}", tag = "orders",
    params(("reference" = String, Path, description = "As a person typed it: any case, hyphen optional, look-alikes forgiven")),
    responses((status = 200, description = "The order", body = crate::views::OrderView),
        (status = 404, description = "No such order (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn get_by_reference(
    state: Data<AppState>,
    reference: Path<String>,
) -> Result<HttpResponse, Problem> {
    let reference = OrderReference::parse(&reference).map_err(|why| {
        Problem::new(
            crate::problem::Code::NotFound,
            format!("no such order: {why}"),
        )
    })?;
    let order = state.orders.get_by_reference(&reference).await?;
    Ok(HttpResponse::Ok().json(OrderView::from(&order)))
}

/// Orders, newest first, by customer and/or status.
#[utoipa::path(get, path = "/v1/orders", tag = "orders",
    params(("customer_id" = Option<uuid::Uuid>, Query, description = "Only this customer's orders"),
        ("status" = Option<crate::schemas::OrderStatus>, Query, description = "Only orders in this status"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 10"),
        ("starting_after" = Option<uuid::Uuid>, Query, description = "The last id of the previous page")),
    responses((status = 200, description = "A page of orders, newest first", body = crate::openapi::OrderList),
        (status = 422, description = "Invalid query parameters", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn list(state: Data<AppState>, req: HttpRequest) -> Result<HttpResponse, Problem> {
    let mut query = Query::parse(&req, &["customer_id", "status", "limit", "starting_after"]);
    let customer_id = query.uuid("customer_id").map(CustomerId::from_uuid);
    let status = match query.get("status").map(str::to_owned) {
        Some(raw) => query.violations.check("status", OrderStatus::parse(&raw)),
        None => None,
    };
    let page = query.page();
    query.finish()?;
    let filter = OrderFilter {
        customer_id,
        status,
    };
    let page = state.orders.list(filter, page).await?;
    Ok(HttpResponse::Ok().json(ListView::of(&page, |o| OrderView::from(o))))
}

/// Cancels an order awaiting payment, closing its open checkout at the provider first.
#[utoipa::path(post, path = "/v1/orders/{id}/cancel", tag = "orders",
    params(("id" = uuid::Uuid, Path, description = "The order's id"), ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes a retry safe: up to 255 visible ASCII characters")),
    responses((status = 200, description = "The order, cancelled", body = crate::views::OrderView),
        (status = 404, description = "No such order (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 409, description = "`order_already_paid`, `order_already_cancelled`, `payment_processing`, `idempotency_key_in_use`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 422, description = "`idempotency_key_reused`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 502, description = "Stripe did not close the session (`payment_provider_unavailable`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn cancel(state: Data<AppState>, id: Path<String>) -> Result<HttpResponse, Problem> {
    let order = state.payments.money.cancel(order_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(OrderView::from(&order)))
}

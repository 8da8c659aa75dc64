//! `/v1/webhook_endpoints`: subscribe, read, change, delete, rotate the secret, and see and
//! retry deliveries.

use actix_web::web::{Bytes, Data, Path};
use actix_web::{HttpRequest, HttpResponse};

use orderpay_domain::webhook::{DeliveryId, WebhookEndpointId};

use crate::problem::Problem;
use crate::query::Query;
use crate::requests::{CreateWebhookEndpointRequest, UpdateWebhookEndpointRequest};
use crate::views::{DeletedView, DeliveryView, ListView, SecretView, WebhookEndpointView};
use crate::{AppState, body, idempotency};

fn endpoint_id(raw: &str) -> Result<WebhookEndpointId, Problem> {
    uuid::Uuid::parse_str(raw)
        .map(WebhookEndpointId::from_uuid)
        .map_err(|_| Problem::not_found("webhook endpoint"))
}

/// Subscribes a URL to event types (or `*`). The answer carries the endpoint's signing secret, shown this once.
#[utoipa::path(post, path = "/v1/webhook_endpoints", tag = "webhooks",
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes a retry safe: up to 255 visible ASCII characters")),
    request_body = crate::requests::CreateWebhookEndpointRequest,
    responses((status = 201, description = "Subscribed; `secret` is shown this once", body = crate::schemas::CreatedWebhookEndpoint),
        (status = 409, description = "`idempotency_key_in_use`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (a URL that is not https, or private, in production), or `idempotency_key_reused`", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn create(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, Problem> {
    let new = body::parse(&req, &body, |r: CreateWebhookEndpointRequest, v| {
        r.parse(state.outbound.url_policy(), v)
    })?;
    let (endpoint, secret) = state.outbound.create(new).await?;
    let mut response =
        HttpResponse::Created().json(WebhookEndpointView::of(&endpoint, Some(secret)));
    response
        .extensions_mut()
        .insert(idempotency::CarriesSecret::of(&endpoint));
    Ok(response)
}

/// The webhook endpoints, newest first.
#[utoipa::path(get, path = "/v1/webhook_endpoints", tag = "webhooks",
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 10"),
        ("starting_after" = Option<uuid::Uuid>, Query, description = "The last id of the previous page")),
    responses((status = 200, description = "Endpoints, newest first", body = crate::openapi::WebhookEndpointList),
        (status = 422, description = "Invalid query parameters", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn list(state: Data<AppState>, req: HttpRequest) -> Result<HttpResponse, Problem> {
    let mut query = Query::parse(&req, &["limit", "starting_after"]);
    let page = query.page();
    query.finish()?;
    let page = state.outbound.list(page).await?;
    Ok(HttpResponse::Ok().json(ListView::of(&page, |e| WebhookEndpointView::of(e, None))))
}

/// The endpoint (never its secret).
#[utoipa::path(get, path = "/v1/webhook_endpoints/{id}", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "The endpoint's id")),
    responses((status = 200, description = "The endpoint (without its secret)", body = crate::views::WebhookEndpointView),
        (status = 404, description = "No such endpoint (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn get(state: Data<AppState>, id: Path<String>) -> Result<HttpResponse, Problem> {
    let endpoint = state.outbound.get(endpoint_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpointView::of(&endpoint, None)))
}

/// Changes the URL, the event types, the status or the description; enabling an endpoint forgets its failures.
#[utoipa::path(patch, path = "/v1/webhook_endpoints/{id}", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "The endpoint's id")),
    request_body = crate::requests::UpdateWebhookEndpointRequest,
    responses((status = 200, description = "The endpoint as changed; enabling it forgets its failures", body = crate::views::WebhookEndpointView),
        (status = 404, description = "No such endpoint (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn update(
    state: Data<AppState>,
    req: HttpRequest,
    id: Path<String>,
    body: Bytes,
) -> Result<HttpResponse, Problem> {
    let id = endpoint_id(&id)?;
    let changes = body::parse(&req, &body, |r: UpdateWebhookEndpointRequest, v| {
        r.parse(state.outbound.url_policy(), v)
    })?;
    let endpoint = state.outbound.update(id, changes).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpointView::of(&endpoint, None)))
}

/// Removes the endpoint with its deliveries.
#[utoipa::path(delete, path = "/v1/webhook_endpoints/{id}", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "The endpoint's id")),
    responses((status = 200, description = "Deleted, with its pending deliveries", body = crate::views::DeletedView),
        (status = 404, description = "No such endpoint (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn delete(state: Data<AppState>, id: Path<String>) -> Result<HttpResponse, Problem> {
    let id = endpoint_id(&id)?;
    state.outbound.delete(id).await?;
    Ok(HttpResponse::Ok().json(DeletedView {
        id: id.to_string(),
        object: "webhook_endpoint",
        deleted: true,
    }))
}

/// A new signing secret; the previous one keeps signing beside it for `WEBHOOK_SECRET_OVERLAP_HOURS`.
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/rotate_secret", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "The endpoint's id"), ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes a retry safe: up to 255 visible ASCII characters")),
    responses((status = 200, description = "The new secret; the old one also signs until `WEBHOOK_SECRET_OVERLAP_HOURS` pass", body = crate::views::SecretView),
        (status = 404, description = "No such endpoint (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`idempotency_key_in_use`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`idempotency_key_reused`", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn rotate_secret(
    state: Data<AppState>,
    id: Path<String>,
) -> Result<HttpResponse, Problem> {
    let (endpoint, secret) = state.outbound.rotate_secret(endpoint_id(&id)?).await?;
    let mut response = HttpResponse::Ok().json(SecretView { secret });
    response
        .extensions_mut()
        .insert(idempotency::CarriesSecret::of(&endpoint));
    Ok(response)
}

/// The endpoint's deliveries, newest first, with their last attempt.
#[utoipa::path(get, path = "/v1/webhook_endpoints/{id}/deliveries", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "The endpoint's id"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 10"),
        ("starting_after" = Option<uuid::Uuid>, Query, description = "The last id of the previous page")),
    responses((status = 200, description = "Deliveries, newest first, each with its last attempt and its next", body = crate::openapi::DeliveryList),
        (status = 404, description = "No such endpoint (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query parameters", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn deliveries(
    state: Data<AppState>,
    req: HttpRequest,
    id: Path<String>,
) -> Result<HttpResponse, Problem> {
    let id = endpoint_id(&id)?;
    let mut query = Query::parse(&req, &["limit", "starting_after"]);
    let page = query.page();
    query.finish()?;
    let page = state.outbound.deliveries(id, page).await?;
    Ok(HttpResponse::Ok().json(ListView::of(&page, |d| DeliveryView::from(d))))
}

/// Sends the delivery again now, whatever its status.
#[utoipa::path(post, path = "/v1/webhook_endpoints/{id}/deliveries/{delivery_id}/retry", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "The endpoint's id"), ("delivery_id" = uuid::Uuid, Path, description = "The delivery's id"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes a retry safe: up to 255 visible ASCII characters")),
    responses((status = 200, description = "Due now: the sender sends it at once", body = crate::views::DeliveryView),
        (status = 404, description = "No such endpoint or delivery (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`idempotency_key_in_use`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`idempotency_key_reused`", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn retry(
    state: Data<AppState>,
    path: Path<(String, String)>,
) -> Result<HttpResponse, Problem> {
    let (endpoint, delivery) = path.into_inner();
    let endpoint = endpoint_id(&endpoint)?;
    let delivery = uuid::Uuid::parse_str(&delivery)
        .map(DeliveryId::from_uuid)
        .map_err(|_| Problem::not_found("delivery"))?;
    let delivery = state.outbound.retry(endpoint, delivery).await?;
    Ok(HttpResponse::Ok().json(DeliveryView::from(&delivery)))
}

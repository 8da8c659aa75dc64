//! `/v1/customers`: create, look up by phone, get, update, list.

use actix_web::web::{Bytes, Data, Path};
use actix_web::{HttpRequest, HttpResponse};

use orderpay_domain::customer::CustomerId;
use orderpay_domain::phone::PhoneNumber;

use crate::problem::Problem;
use crate::query::Query;
use crate::requests::{CustomerPatchRequest, CustomerRequest};
use crate::views::{CustomerView, ListView};
use crate::{AppState, body};

pub(crate) fn customer_id(raw: &str) -> Result<CustomerId, Problem> {
    uuid::Uuid::parse_str(raw)
        .map(CustomerId::from_uuid)
        .map_err(|_| Problem::not_found("customer"))
}

#[utoipa::path(post, path = "/v1/customers", tag = "customers",
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[ -~]+$", description = "Makes a retry safe: up to 255 visible ASCII characters")), request_body = crate::requests::CustomerRequest,
    responses((status = 201, description = "Created", body = crate::views::CustomerView),
        (status = 409, description = "`customer_exists` (with `existing_customer_id`), or `idempotency_key_in_use`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 422, description = "Invalid fields, or `idempotency_key_reused`", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn create(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, Problem> {
    let new = body::parse(&req, &body, |r: CustomerRequest, v| {
        r.parse(state.default_region, "", v)
    })?;
    let customer = state.customers.create(new).await?;
    Ok(HttpResponse::Created().json(CustomerView::from(&customer)))
}

/// `GET /v1/customers?phone=...` looks one customer up; without `phone` it lists them.
#[utoipa::path(get, path = "/v1/customers", tag = "customers",
    params(("phone" = Option<String>, Query, description = "Look one customer up by phone (database, then directory)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 10"),
        ("starting_after" = Option<uuid::Uuid>, Query, description = "The last id of the previous page")),
    responses((status = 200, description = "The customer (with `phone`), or a page of customers", body = crate::openapi::CustomerOrList),
        (status = 404, description = "No customer has this phone (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 422, description = "Invalid query parameters", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 502, description = "The customer directory failed (`directory_unavailable`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn list_or_lookup(
    state: Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let mut query = Query::parse(&req, &["phone", "limit", "starting_after"]);
    if let Some(raw) = query.get("phone").map(str::to_owned) {
        // An unencoded `+` arrives as a space: `?phone=+1415...` means `+1415...`.
        let raw = match raw.strip_prefix(' ') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => format!("+{rest}"),
            _ => raw,
        };
        let phone = query
            .violations
            .check("phone", PhoneNumber::parse(&raw, state.default_region));
        query.finish()?;
        let Some(phone) = phone else {
            return Err(Problem::internal(&"phone parsed without a value"));
        };
        let customer = state.customers.find_by_phone(&phone).await?;
        return Ok(HttpResponse::Ok().json(CustomerView::from(&customer)));
    }
    let page = query.page();
    query.finish()?;
    let page = state.customers.list(page).await?;
    Ok(HttpResponse::Ok().json(ListView::of(&page, |c| CustomerView::from(c))))
}

#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "The customer's id")),
    responses((status = 200, description = "The customer", body = crate::views::CustomerView),
        (status = 404, description = "No such customer (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn get(state: Data<AppState>, id: Path<String>) -> Result<HttpResponse, Problem> {
    let customer = state.customers.get(customer_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(CustomerView::from(&customer)))
}

#[utoipa::path(patch, path = "/v1/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "The customer's id")), request_body = crate::requests::CustomerPatchRequest,
    responses((status = 200, description = "The customer as changed", body = crate::views::CustomerView),
        (status = 404, description = "No such customer (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 422, description = "Invalid fields", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn update(
    state: Data<AppState>,
    req: HttpRequest,
    id: Path<String>,
    body: Bytes,
) -> Result<HttpResponse, Problem> {
    let id = customer_id(&id)?;
    let changes = body::parse(&req, &body, |r: CustomerPatchRequest, v| r.parse(v))?;
    let customer = state.customers.update(id, changes).await?;
    Ok(HttpResponse::Ok().json(CustomerView::from(&customer)))
}

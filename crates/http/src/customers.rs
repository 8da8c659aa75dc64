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

/// A customer by phone (stored in E.164), name and optional email. `409 customer_exists`, naming `existing_customer_id`, when the phone is taken.
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

/// The `phone` of a lookup, as a person or a URL wrote it: an unencoded `+` arrives as a
/// space (`?phone=+1415...` means `+1415...`). Reports a missing or invalid one in `query`.
fn phone_of(query: &mut Query, state: &AppState) -> Option<PhoneNumber> {
    let Some(raw) = query.get("phone").map(str::to_owned) else {
        query.violations.add("phone", "is required");
        return None;
    };
    let raw = match raw.strip_prefix(' ') {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => format!("+{rest}"),
        _ => raw,
    };
    query
        .violations
        .check("phone", PhoneNumber::parse(&raw, state.default_region))
}

/// The customer with `phone`: from the database, else from the customer directory (then
/// stored).
async fn look_up(state: &AppState, phone: Option<PhoneNumber>) -> Result<HttpResponse, Problem> {
    let Some(phone) = phone else {
        return Err(Problem::internal(&"phone parsed without a value"));
    };
    let customer = state.customers.find_by_phone(&phone).await?;
    Ok(HttpResponse::Ok().json(CustomerView::from(&customer)))
}

/// Look a customer up by phone: the database first, then the customer directory, where one is
/// configured (what it answers is stored, so the next lookup is local).
#[utoipa::path(get, path = "/v1/customers/lookup", tag = "customers",
    params(("phone" = String, Query, description = "E.164 (`+14155550100`), or national form in `DEFAULT_PHONE_REGION`")),
    responses((status = 200, description = "The customer", body = crate::views::CustomerView),
        (status = 404, description = "No customer has this phone (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 422, description = "No phone, or not a phone number", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 502, description = "The customer directory failed (`directory_unavailable`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn lookup(state: Data<AppState>, req: HttpRequest) -> Result<HttpResponse, Problem> {
    let mut query = Query::parse(&req, &["phone"]);
    let phone = phone_of(&mut query, &state);
    query.finish()?;
    look_up(&state, phone).await
}

/// A page of customers, newest first.
///
/// With `phone` (deprecated: use `GET /v1/customers/lookup`), this looks one customer up and
/// answers that customer, not a list; `limit` and `starting_after` are then refused.
#[utoipa::path(get, path = "/v1/customers", tag = "customers",
    params(("phone" = Option<String>, Query, deprecated, description = "Deprecated: use `GET /v1/customers/lookup`. Answers the one customer with this phone instead of a list"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100"),
        ("starting_after" = Option<uuid::Uuid>, Query, description = "The last id of the previous page")),
    responses((status = 200, description = "A page of customers (or, with the deprecated `phone`, the customer)", body = crate::openapi::CustomerOrList),
        (status = 404, description = "No customer has this phone (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 422, description = "Invalid query parameters", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 502, description = "The customer directory failed (`directory_unavailable`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn list_or_lookup(
    state: Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let mut query = Query::parse(&req, &["phone", "limit", "starting_after"]);
    if query.get("phone").is_some() {
        // A lookup answers one customer: a page's parameters would be ignored, so they are
        // refused instead.
        for paging in ["limit", "starting_after"] {
            if query.get(paging).is_some() {
                query.violations.add(
                    paging,
                    "is not taken with `phone` (a lookup answers one customer)",
                );
            }
        }
        let phone = phone_of(&mut query, &state);
        query.finish()?;
        return look_up(&state, phone).await;
    }
    let page = query.page();
    query.finish()?;
    let page = state.customers.list(page).await?;
    Ok(HttpResponse::Ok().json(ListView::of(&page, |c| CustomerView::from(c))))
}

/// The customer with this id.
#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers",
    params(("id" = uuid::Uuid, Path, description = "The customer's id")),
    responses((status = 200, description = "The customer", body = crate::views::CustomerView),
        (status = 404, description = "No such customer (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn get(state: Data<AppState>, id: Path<String>) -> Result<HttpResponse, Problem> {
    let customer = state.customers.get(customer_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(CustomerView::from(&customer)))
}

/// Changes the name and/or the email (`"email": null` clears it); the phone stays.
#[utoipa::path(patch, path = "/v1/customers/{id}", tag = "customers",
    params(("id" = uuid::Uuid, Path, description = "The customer's id")), request_body = crate::requests::CustomerPatchRequest,
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

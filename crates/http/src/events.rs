//! `/v1/events`: the feed a bot catches up from after downtime, newest first.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};

use orderpay_domain::order::OrderEventType;

use crate::AppState;
use crate::problem::Problem;
use crate::query::Query;
use crate::views::{EventView, ListView, parse_event_id};

/// Every change to every order, newest first: the feed webhooks deliver from.
#[utoipa::path(get, path = "/v1/events", tag = "webhooks",
    params(("type" = Option<crate::schemas::EventType>, Query, description = "Only events of this type"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1 to 100, default 10"),
        ("starting_after" = Option<String>, Query, pattern = "^evt_[0-9a-f]{32}$", description = "The last id of the previous page")),
    responses((status = 200, description = "Events, newest first", body = crate::openapi::EventList),
        (status = 422, description = "Invalid query parameters", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn list(state: Data<AppState>, req: HttpRequest) -> Result<HttpResponse, Problem> {
    let mut query = Query::parse(&req, &["type", "limit", "starting_after"]);
    let kind = match query.get("type").map(str::to_owned) {
        Some(raw) => query.violations.check("type", OrderEventType::parse(&raw)),
        None => None,
    };
    let page = query.page_with(|raw| {
        parse_event_id(raw)
            .map(|id| id.as_uuid())
            .ok_or_else(|| "must be an event id (evt_...)".to_owned())
    });
    query.finish()?;
    let page = state.outbound.events(kind, page).await?;
    Ok(HttpResponse::Ok().json(ListView::of(&page, |e| EventView::from(e))))
}

/// The event, with the order as the change left it.
#[utoipa::path(get, path = "/v1/events/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The event's id (`evt_...`)")),
    responses((status = 200, description = "The event, with the order as it was then", body = crate::schemas::Event),
        (status = 404, description = "No such event (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn get(state: Data<AppState>, id: Path<String>) -> Result<HttpResponse, Problem> {
    let id = parse_event_id(&id).ok_or_else(|| Problem::not_found("event"))?;
    let event = state.outbound.event(id).await?;
    Ok(HttpResponse::Ok().json(EventView::from(&event)))
}

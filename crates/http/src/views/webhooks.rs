//! What the webhook endpoints, events and deliveries look like on the wire, and the event as
//! deliveries send it (the same JSON as `GET /v1/events/{id}`).

use serde::Serialize;
use utoipa::ToSchema;

use orderpay_domain::order::OrderEventId;
use orderpay_domain::webhook::{Delivery, Event, EventRenderer, WebhookEndpoint};

use super::{OrderView, Timestamp};

/// `evt_` and the event's id in hex: the `webhook-id` of its deliveries.
pub fn event_id(id: OrderEventId) -> String {
    format!("evt_{}", id.as_uuid().simple())
}

/// An event id as the API shows it (`evt_...`), or `None`.
pub fn parse_event_id(raw: &str) -> Option<OrderEventId> {
    let hex = raw.strip_prefix("evt_")?;
    uuid::Uuid::try_parse(hex).ok().map(OrderEventId::from_uuid)
}

#[derive(Serialize, ToSchema)]
pub struct WebhookEndpointView {
    id: String,
    #[schema(value_type = crate::schemas::WebhookEndpointObject, inline)]
    object: &'static str,
    url: String,
    description: Option<String>,
    /// `["*"]`, or the event types delivered.
    #[schema(value_type = Vec<crate::schemas::EnabledEvent>)]
    enabled_events: Vec<&'static str>,
    #[schema(value_type = crate::schemas::EndpointStatus)]
    status: &'static str,
    /// Why orderpay disabled it (no delivery succeeded for too long), if it did.
    disabled_reason: Option<String>,
    /// `whsec_...`: only in the answer that creates the endpoint (its schema is
    /// `CreatedWebhookEndpoint`, where it is required).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    secret: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl WebhookEndpointView {
    pub fn of(e: &WebhookEndpoint, secret: Option<String>) -> Self {
        Self {
            id: e.id.to_string(),
            object: "webhook_endpoint",
            url: e.url.as_str().to_owned(),
            description: e.description.clone(),
            enabled_events: e.enabled_events.names(),
            status: e.status.as_str(),
            disabled_reason: e.disabled_reason.clone(),
            secret,
            created_at: e.created_at.into(),
            updated_at: e.updated_at.into(),
        }
    }
}

/// `POST /v1/webhook_endpoints/{id}/rotate_secret`: the new secret.
#[derive(Serialize, ToSchema)]
pub struct SecretView {
    /// `whsec_...`; the previous one keeps signing beside it for the overlap.
    pub secret: String,
}

/// `DELETE /v1/webhook_endpoints/{id}`.
#[derive(Serialize, ToSchema)]
pub struct DeletedView {
    pub id: String,
    #[schema(value_type = crate::schemas::WebhookEndpointObject, inline)]
    pub object: &'static str,
    pub deleted: bool,
}

/// `{"object": <the order as GET /v1/orders/{id} showed it then>}`.
#[derive(Serialize, ToSchema)]
pub struct EventData {
    object: OrderView,
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    /// `evt_...`, also the `webhook-id` of its deliveries.
    id: String,
    #[schema(value_type = crate::schemas::EventObject, inline)]
    object: &'static str,
    #[serde(rename = "type")]
    #[schema(value_type = crate::schemas::EventType)]
    kind: &'static str,
    created_at: Timestamp,
    data: EventData,
}

impl From<&Event> for EventView {
    fn from(e: &Event) -> Self {
        Self {
            id: event_id(e.id),
            object: "event",
            kind: e.kind.as_str(),
            created_at: e.created_at.into(),
            data: EventData {
                object: OrderView::with_payment(&e.order, e.payment.as_ref()),
            },
        }
    }
}

/// Deliveries send an event as the feed shows it.
pub struct EventJson;

impl EventRenderer for EventJson {
    fn id(&self, event: &Event) -> String {
        event_id(event.id)
    }

    fn render(&self, event: &Event) -> String {
        serde_json::to_string(&EventView::from(event)).unwrap_or_default()
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    id: String,
    #[schema(value_type = crate::schemas::DeliveryObject, inline)]
    object: &'static str,
    /// `evt_...`
    event_id: String,
    #[schema(value_type = crate::schemas::EventType)]
    event_type: &'static str,
    #[schema(value_type = crate::schemas::DeliveryStatus)]
    status: &'static str,
    attempts: u32,
    /// The last attempt's HTTP status; `null` when there was no answer.
    response_status: Option<u16>,
    /// The start of the last answer (at most 1024 characters).
    response_body: Option<String>,
    /// Why the last attempt got no answer.
    error: Option<String>,
    duration_ms: Option<i64>,
    last_attempt_at: Option<Timestamp>,
    /// When a pending delivery is next tried.
    next_attempt_at: Option<Timestamp>,
    created_at: Timestamp,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        let last = d.last_attempt.as_ref();
        Self {
            id: d.id.to_string(),
            object: "webhook_delivery",
            event_id: event_id(d.event_id),
            event_type: d.event_type.as_str(),
            status: d.status.as_str(),
            attempts: d.attempts,
            response_status: last.and_then(|a| a.status),
            response_body: last.map(|a| a.response.clone()),
            error: last.and_then(|a| a.error.clone()),
            duration_ms: last.map(|a| a.duration.num_milliseconds()),
            last_attempt_at: d.last_attempt_at.map(Into::into),
            next_attempt_at: d.next_attempt_at.map(Into::into),
            created_at: d.created_at.into(),
        }
    }
}

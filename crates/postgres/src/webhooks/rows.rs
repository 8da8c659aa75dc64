//! Webhook endpoints, events and deliveries as rows, to and from the domain's types.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use orderpay_domain::order::{OrderEventId, OrderEventType};
use orderpay_domain::payment::Payment;
use orderpay_domain::store::StoreError;
use orderpay_domain::webhook::{
    Attempt, Delivery, DeliveryId, DeliveryStatus, EndpointStatus, EndpointUrl, Event,
    EventSelection, WebhookEndpoint, WebhookEndpointId,
};

use crate::errors::corrupt;
use crate::orders::{ItemRow, OrderRow, order_of};
use crate::payments::PaymentRow;
use crate::schema::{webhook_deliveries, webhook_endpoints};

#[derive(Queryable, Selectable, Insertable, AsChangeset, QueryableByName)]
#[diesel(table_name = webhook_endpoints, check_for_backend(diesel::pg::Pg))]
#[diesel(treat_none_as_null = true)]
pub(crate) struct EndpointRow {
    pub(super) id: Uuid,
    pub(super) url: String,
    pub(super) description: Option<String>,
    pub(super) enabled_events: Vec<String>,
    pub(super) status: String,
    pub(super) secret_version: i32,
    pub(super) previous_secret_until: Option<DateTime<Utc>>,
    pub(super) failing_since: Option<DateTime<Utc>>,
    pub(super) disabled_reason: Option<String>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
    pub(super) version: i64,
}

impl From<&WebhookEndpoint> for EndpointRow {
    fn from(e: &WebhookEndpoint) -> Self {
        Self {
            id: e.id.as_uuid(),
            url: e.url.as_str().to_owned(),
            description: e.description.clone(),
            enabled_events: e
                .enabled_events
                .names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            status: e.status.as_str().to_owned(),
            secret_version: e.secret_version,
            previous_secret_until: e.previous_secret_until,
            failing_since: e.failing_since,
            disabled_reason: e.disabled_reason.clone(),
            created_at: e.created_at,
            updated_at: e.updated_at,
            version: e.version,
        }
    }
}

impl TryFrom<EndpointRow> for WebhookEndpoint {
    type Error = StoreError;

    fn try_from(row: EndpointRow) -> Result<Self, StoreError> {
        Ok(WebhookEndpoint {
            id: WebhookEndpointId::from_uuid(row.id),
            url: EndpointUrl::from_stored(row.url),
            description: row.description,
            enabled_events: EventSelection::parse(&row.enabled_events)
                .map_err(|e| corrupt("endpoint events", e))?,
            status: EndpointStatus::parse(&row.status)
                .map_err(|e| corrupt("endpoint status", e))?,
            secret_version: row.secret_version,
            previous_secret_until: row.previous_secret_until,
            failing_since: row.failing_since,
            disabled_reason: row.disabled_reason,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        })
    }
}

/// An event from its order's rows as the event left them.
pub(super) fn event_of_rows(
    id: Uuid,
    kind: &str,
    created_at: DateTime<Utc>,
    order: OrderRow,
    items: Vec<ItemRow>,
    payment: Option<PaymentRow>,
) -> Result<Event, StoreError> {
    Ok(Event {
        id: OrderEventId::from_uuid(id),
        kind: OrderEventType::parse(kind).map_err(|e| corrupt("event type", e))?,
        created_at,
        order: order_of(order, items)?,
        payment: payment.map(Payment::try_from).transpose()?,
    })
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries, check_for_backend(diesel::pg::Pg))]
pub(super) struct DeliveryRow {
    pub(super) id: Uuid,
    pub(super) endpoint_id: Uuid,
    pub(super) event_id: Uuid,
    pub(super) status: String,
    pub(super) attempts: i32,
    pub(super) next_attempt_at: Option<DateTime<Utc>>,
    pub(super) last_attempt_at: Option<DateTime<Utc>>,
    pub(super) last_status: Option<i16>,
    pub(super) last_duration_ms: Option<i32>,
    pub(super) last_response: Option<String>,
    pub(super) last_error: Option<String>,
    pub(super) created_at: DateTime<Utc>,
}

pub(super) fn delivery_of((row, kind): (DeliveryRow, String)) -> Result<Delivery, StoreError> {
    let last_attempt = row.last_attempt_at.map(|_| Attempt {
        status: row.last_status.and_then(|s| u16::try_from(s).ok()),
        duration: TimeDelta::milliseconds(i64::from(row.last_duration_ms.unwrap_or(0))),
        response: row.last_response.clone().unwrap_or_default(),
        error: row.last_error.clone(),
    });
    Ok(Delivery {
        id: DeliveryId::from_uuid(row.id),
        endpoint_id: WebhookEndpointId::from_uuid(row.endpoint_id),
        event_id: OrderEventId::from_uuid(row.event_id),
        event_type: OrderEventType::parse(&kind).map_err(|e| corrupt("event type", e))?,
        status: DeliveryStatus::parse(&row.status).map_err(|e| corrupt("delivery status", e))?,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        next_attempt_at: row.next_attempt_at,
        last_attempt_at: row.last_attempt_at,
        last_attempt,
        created_at: row.created_at,
    })
}

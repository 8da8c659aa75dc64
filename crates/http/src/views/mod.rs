//! Response bodies: what clients see, kept apart from the domain types they are made from.

mod webhooks;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use orderpay_domain::Page;
use orderpay_domain::customer::Customer;
use orderpay_domain::order::{LineItem, Order, OrderEvent};
use orderpay_domain::payment::{PayLink, Payment};

pub use webhooks::{
    DeletedView, DeliveryView, EventData, EventJson, EventView, SecretView, WebhookEndpointView,
    parse_event_id,
};

/// A moment as the API writes it: RFC 3339 in UTC, `Z`, with as many fraction digits as it
/// has (chrono's own serde form). Formatted into one string and written once: chrono's
/// `Serialize` goes through `collect_str`, which escapes every character it is handed one
/// at a time (a profile of a lookup put the order's two timestamps at 5% of its CPU).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(DateTime<Utc>);

impl From<DateTime<Utc>> for Timestamp {
    fn from(at: DateTime<Utc>) -> Self {
        Self(at)
    }
}

/// In the document: an RFC 3339 date-time string.
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .into()
    }
}

impl ToSchema for Timestamp {}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    }
}

#[derive(Serialize, ToSchema)]
pub struct CustomerView {
    id: String,
    #[schema(value_type = crate::schemas::CustomerObject, inline)]
    object: &'static str,
    phone: String,
    name: String,
    email: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<&Customer> for CustomerView {
    fn from(c: &Customer) -> Self {
        Self {
            id: c.id.to_string(),
            object: "customer",
            phone: c.phone.as_str().to_owned(),
            name: c.name.as_str().to_owned(),
            email: c.email.as_ref().map(|e| e.as_str().to_owned()),
            created_at: c.created_at.into(),
            updated_at: c.updated_at.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LineItemView {
    name: String,
    quantity: u32,
    unit_amount: i64,
    amount: i64,
}

impl From<&LineItem> for LineItemView {
    fn from(i: &LineItem) -> Self {
        Self {
            name: i.name.as_str().to_owned(),
            quantity: i.quantity.get(),
            unit_amount: i.unit_amount.minor_units(),
            amount: i.amount.minor_units(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OrderView {
    id: String,
    #[schema(value_type = crate::schemas::OrderObject, inline)]
    object: &'static str,
    reference: String,
    customer_id: String,
    #[schema(value_type = crate::schemas::OrderStatus)]
    status: &'static str,
    currency: String,
    total_amount: i64,
    items: Vec<LineItemView>,
    metadata: BTreeMap<String, String>,
    amount_refunded: i64,
    /// Why the order needs a person: `amount_mismatch`, `needs_refund`, `disputed`.
    #[schema(value_type = Vec<crate::schemas::OrderFlag>)]
    flags: Vec<&'static str>,
    /// The latest payment attempt, where the answer carries it (`GET /v1/orders/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<PaymentView>, nullable)]
    payment: Option<Option<PaymentView>>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl OrderView {
    /// The order with its latest payment (`null` when it has none).
    pub fn with_payment(o: &Order, payment: Option<&Payment>) -> Self {
        Self {
            payment: Some(payment.map(PaymentView::from)),
            ..Self::from(o)
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PaymentView {
    id: String,
    #[schema(value_type = crate::schemas::PaymentObject, inline)]
    object: &'static str,
    #[schema(value_type = crate::schemas::PaymentProvider)]
    provider: &'static str,
    #[schema(value_type = crate::schemas::PaymentStatus)]
    status: &'static str,
    amount: i64,
    currency: String,
    amount_received: i64,
    amount_refunded: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<Timestamp>,
    created_at: Timestamp,
}

impl From<&Payment> for PaymentView {
    fn from(p: &Payment) -> Self {
        Self {
            id: p.id().to_string(),
            object: "payment",
            provider: p.provider().as_str(),
            status: p.status().as_str(),
            amount: p.amount().minor_units(),
            currency: p.currency().code().to_owned(),
            amount_received: p.amount_received().minor_units(),
            amount_refunded: p.amount_refunded().minor_units(),
            expires_at: p.session().map(|s| s.expires_at.into()),
            created_at: p.created_at().into(),
        }
    }
}

/// `POST /v1/orders/{id}/payment-link`: the order's stable pay link.
#[derive(Serialize, ToSchema)]
pub struct PaymentLinkView {
    #[schema(value_type = crate::schemas::PaymentLinkObject, inline)]
    object: &'static str,
    url: String,
    payment_id: String,
    /// The payment's status.
    #[schema(value_type = crate::schemas::PaymentStatus)]
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<Timestamp>,
}

impl From<&PayLink> for PaymentLinkView {
    fn from(link: &PayLink) -> Self {
        Self {
            object: "payment_link",
            url: link.url.clone(),
            payment_id: link.payment.id().to_string(),
            status: link.payment.status().as_str(),
            expires_at: link.payment.session().map(|s| s.expires_at.into()),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OrderEventView {
    id: String,
    #[schema(value_type = crate::schemas::OrderEventObject, inline)]
    object: &'static str,
    #[serde(rename = "type")]
    #[schema(value_type = crate::schemas::EventType)]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// Who made the change, where a person decided it: `api_key:<id>` (the key's id, as
    /// `orderpay api-key list` shows it).
    #[serde(skip_serializing_if = "Option::is_none")]
    actor: Option<String>,
    created_at: Timestamp,
}

impl From<&OrderEvent> for OrderEventView {
    fn from(e: &OrderEvent) -> Self {
        Self {
            id: e.id.to_string(),
            object: "order_event",
            kind: e.kind.as_str(),
            payment_id: e.payment_id.map(|p| p.to_string()),
            amount: e.amount.map(|a| a.minor_units()),
            reason: e.reason.clone(),
            actor: e.actor.clone(),
            created_at: e.created_at.into(),
        }
    }
}

impl From<&Order> for OrderView {
    fn from(o: &Order) -> Self {
        Self {
            id: o.id().to_string(),
            object: "order",
            reference: o.reference().to_string(),
            customer_id: o.customer_id().to_string(),
            status: o.status().as_str(),
            currency: o.currency().code().to_owned(),
            total_amount: o.total().minor_units(),
            items: o.items().iter().map(LineItemView::from).collect(),
            metadata: o.metadata().as_map().clone(),
            amount_refunded: o.amount_refunded().minor_units(),
            flags: o.flags().iter().map(|f| f.as_str()).collect(),
            payment: None,
            created_at: o.created_at().into(),
            updated_at: o.updated_at().into(),
        }
    }
}

/// A page of a list, Stripe's shape: `{"object": "list", "data": [...], "has_more": bool}`.
#[derive(Serialize, ToSchema)]
pub struct ListView<T> {
    #[schema(value_type = crate::schemas::ListObject, inline)]
    object: &'static str,
    data: Vec<T>,
    has_more: bool,
}

impl<T> ListView<T> {
    pub fn of<D>(page: &Page<D>, view: impl Fn(&D) -> T) -> Self {
        Self {
            object: "list",
            data: page.data.iter().map(view).collect(),
            has_more: page.has_more,
        }
    }

    /// A whole list, in one answer (an order's history).
    pub fn all<D>(items: &[D], view: impl Fn(&D) -> T) -> Self {
        Self {
            object: "list",
            data: items.iter().map(view).collect(),
            has_more: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_read_exactly_as_chronos_own_serde_form() {
        let whole = Utc.with_ymd_and_hms(2026, 11, 27, 1, 53, 11).unwrap();
        for nanos in [0, 1, 146_752_000, 146_752_123, 500_000_000, 999_999_999] {
            let at = whole + chrono::TimeDelta::nanoseconds(nanos);
            assert_eq!(
                serde_json::to_string(&Timestamp::from(at)).unwrap(),
                serde_json::to_string(&at).unwrap(),
                "{nanos} ns"
            );
        }
    }
}

//! Schemas the document needs and no Rust type of this crate has: each fixed set of values the
//! domain has (an order's status, an event's type, ...) as a string enum made from the
//! domain's own list, so a generated client's types say exactly what the API does; and the
//! constant `object` of each resource.

use utoipa::openapi::schema::{Schema, Type};
use utoipa::openapi::{ObjectBuilder, RefOr};
use utoipa::{PartialSchema, ToSchema};

use orderpay_domain::order as orders;
use orderpay_domain::payment as payments;
use orderpay_domain::webhook as webhooks;

/// A string schema of exactly `values`.
fn one_of(values: Vec<&'static str>, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .into()
}

/// Defines string enums, each from a domain list.
macro_rules! value_sets {
    ($($(#[doc = $doc:literal])+ $name:ident = $values:expr;)*) => {$(
        $(#[doc = $doc])+
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                one_of($values, concat!($($doc),+).trim())
            }
        }

        impl ToSchema for $name {}
    )*

        /// Every value set, by schema name, with its values (for the tests).
        pub fn value_sets() -> Vec<(&'static str, Vec<&'static str>)> {
            vec![$((stringify!($name), $values)),*]
        }
    };
}

value_sets! {
    /// Where an order stands.
    OrderStatus = orders::OrderStatus::ALL.map(orders::OrderStatus::as_str).to_vec();
    /// Why an order needs a person before it can be paid again or closed.
    OrderFlag = orders::OrderFlag::ALL.map(orders::OrderFlag::as_str).to_vec();
    /// Where one attempt to pay stands.
    PaymentStatus = payments::PaymentStatus::ALL.map(payments::PaymentStatus::as_str).to_vec();
    /// Who takes the money.
    PaymentProvider = payments::PaymentProvider::ALL.map(payments::PaymentProvider::as_str).to_vec();
    /// Why a refund is made, as providers accept it.
    RefundReason = payments::RefundReason::ALL.map(payments::RefundReason::as_str).to_vec();
    /// What happened to an order: each entry of its history, and each event delivered.
    EventType = orders::OrderEventType::ALL.map(orders::OrderEventType::as_str).to_vec();
    /// An event type an endpoint receives, or `*` for all of them.
    EnabledEvent = std::iter::once("*")
        .chain(orders::OrderEventType::ALL.map(orders::OrderEventType::as_str))
        .collect();
    /// Whether an endpoint receives deliveries.
    EndpointStatus = webhooks::EndpointStatus::ALL.map(webhooks::EndpointStatus::as_str).to_vec();
    /// Where a delivery stands.
    DeliveryStatus = webhooks::DeliveryStatus::ALL.map(webhooks::DeliveryStatus::as_str).to_vec();
    /// What a restricted API key may do.
    Scope = orderpay_domain::api_key::Scope::ALL
        .map(orderpay_domain::api_key::Scope::as_str)
        .to_vec();
}

/// Defines the `object` constants: one-value enums, inlined where used.
macro_rules! objects {
    ($($name:ident = $value:literal;)*) => {$(
        #[doc = concat!("`\"", $value, "\"`")]
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                one_of(vec![$value], "What kind of object this is")
            }
        }

        impl ToSchema for $name {}
    )*};
}

objects! {
    CustomerObject = "customer";
    OrderObject = "order";
    PaymentObject = "payment";
    PaymentLinkObject = "payment_link";
    OrderEventObject = "order_event";
    ListObject = "list";
    WebhookEndpointObject = "webhook_endpoint";
    EventObject = "event";
    DeliveryObject = "webhook_delivery";
}

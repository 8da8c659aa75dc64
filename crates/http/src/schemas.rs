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

/// The name of the schema of events of one type: `order.paid` is `OrderPaidEvent`.
pub fn event_schema_name(kind: orders::OrderEventType) -> String {
    let mut name = String::new();
    for word in kind.as_str().split(['.', '_']) {
        let mut letters = word.chars();
        if let Some(first) = letters.next() {
            name.extend(first.to_uppercase());
            name.push_str(letters.as_str());
        }
    }
    name.push_str("Event");
    name
}

/// An event: one of the event types' schemas, which its `type` says (a discriminated union).
pub struct Event;

impl PartialSchema for Event {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::{Discriminator, OneOfBuilder};
        let mut union = OneOfBuilder::new();
        let mut discriminator = Discriminator::new("type");
        for kind in orders::OrderEventType::ALL {
            let reference = format!("#/components/schemas/{}", event_schema_name(kind));
            union = union.item(utoipa::openapi::Ref::new(reference.clone()));
            discriminator
                .mapping
                .insert(kind.as_str().to_owned(), reference);
        }
        union
            .description(Some("An event: which one, its `type` says."))
            .discriminator(Some(discriminator))
            .into()
    }
}

impl ToSchema for Event {}

/// Events as a union discriminated by `type`, and the `webhooks` section: one schema per
/// event type (its `type` a constant), `Event` the one of them its `type` names, and for each
/// type the request a merchant's endpoint receives (Standard Webhooks headers, the event as
/// its body). A generated client then types what `verify()` returns, and narrows it by `type`.
pub struct EventsAndWebhooks;

impl utoipa::Modify for EventsAndWebhooks {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{
            HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
        };
        use utoipa::openapi::request_body::RequestBodyBuilder;
        use utoipa::openapi::{ContentBuilder, Ref, Required, ResponseBuilder};

        let components = openapi.components.get_or_insert_with(Default::default);
        let mut webhooks = utoipa::openapi::Paths::new();
        for kind in orders::OrderEventType::ALL {
            let name = event_schema_name(kind);
            let schema = ObjectBuilder::new()
                .description(Some(format!("An `{}` event.", kind.as_str())))
                .property(
                    "id",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .description(Some("`evt_…`: also the `webhook-id` of its deliveries")),
                )
                .required("id")
                .property("object", EventObject::schema())
                .required("object")
                .property("type", one_of(vec![kind.as_str()], "The event's type"))
                .required("type")
                .property("created_at", crate::views::Timestamp::schema())
                .required("created_at")
                .property("data", Ref::from_schema_name("EventData"))
                .required("data");
            components.schemas.insert(name.clone(), schema.into());
            let reference = format!("#/components/schemas/{name}");

            let header = |name: &str, description: &str| {
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Header)
                    .required(Required::True)
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .description(Some(description))
                    .build()
            };
            let operation = OperationBuilder::new()
                .operation_id(Some(format!("webhook_{}", kind.as_str().replace('.', "_"))))
                .summary(Some(format!(
                    "`{}`, delivered to an endpoint",
                    kind.as_str()
                )))
                .description(Some(
                    "Sent to each enabled endpoint subscribed to this type (or `*`), signed by \
                     the Standard Webhooks scheme with the endpoint's secret; retried on the \
                     schedule until a 2xx answer.",
                ))
                .tag("webhooks")
                .parameter(header(
                    "webhook-id",
                    "The event's id (`evt_…`): the same on every retry",
                ))
                .parameter(header(
                    "webhook-timestamp",
                    "Unix seconds when this attempt was signed",
                ))
                .parameter(header(
                    "webhook-signature",
                    "`v1,<base64 HMAC-SHA256>`, one per secret in use (space-separated)",
                ))
                .request_body(Some(
                    RequestBodyBuilder::new()
                        .required(Some(Required::True))
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::new(reference)))
                                .build(),
                        )
                        .build(),
                ))
                .response(
                    "200",
                    ResponseBuilder::new()
                        .description("Received (any 2xx is)")
                        .build(),
                )
                .response(
                    "default",
                    ResponseBuilder::new()
                        .description("Not received: delivered again on the retry schedule")
                        .build(),
                )
                .security(utoipa::openapi::security::SecurityRequirement::default())
                .build();
            webhooks.paths.insert(
                kind.as_str().to_owned(),
                PathItem::new(HttpMethod::Post, operation),
            );
        }
        openapi.webhooks = Some(webhooks);
    }
}

/// The answer that creates a webhook endpoint: the endpoint, and its secret (shown this once).
pub struct CreatedWebhookEndpoint;

impl PartialSchema for CreatedWebhookEndpoint {
    fn schema() -> RefOr<Schema> {
        utoipa::openapi::schema::AllOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name(
                "WebhookEndpointView",
            ))
            .item(
                ObjectBuilder::new()
                    .property(
                        "secret",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .description(Some(
                                "`whsec_…`: shown this once; rotate_secret makes a new one",
                            )),
                    )
                    .required("secret"),
            )
            .into()
    }
}

impl ToSchema for CreatedWebhookEndpoint {}

/// The request that creates an order says its customer one way: `customer_id` or
/// `customer`, never both, never neither.
pub(crate) fn one_customer(schema: &mut Schema) {
    use utoipa::openapi::schema::{AllOfBuilder, OneOfBuilder};
    let base = std::mem::take(schema);
    let id = ObjectBuilder::new()
        .property(
            "customer_id",
            ObjectBuilder::new().schema_type(Type::String).format(Some(
                utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Uuid),
            )),
        )
        .required("customer_id");
    let by_phone = ObjectBuilder::new()
        .property(
            "customer",
            utoipa::openapi::Ref::from_schema_name("CustomerRequest"),
        )
        .required("customer");
    // The example travels to the whole, where tools look for it.
    #[allow(deprecated)]
    let example = match &base {
        Schema::Object(object) => object.example.clone(),
        _ => None,
    };
    let mut whole = AllOfBuilder::new()
        .item(base)
        .item(
            OneOfBuilder::new()
                .item(id)
                .item(by_phone)
                .description(Some("The customer: by id, or by phone (found or created)")),
        )
        .build();
    #[allow(deprecated)]
    {
        whole.example = example;
    }
    *schema = Schema::AllOf(whole);
}

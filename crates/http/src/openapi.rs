//! The OpenAPI 3.1 document, generated from the handlers' annotations, the request and
//! response types and the error catalogue (never written by hand), served at
//! `/openapi.json`; and `/docs`, Swagger UI with its assets embedded in the binary.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, schema::Type};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::problem::Code;
use crate::schemas::EventsAndWebhooks;
use crate::views::{CustomerView, OrderEventView, OrderView};

/// RFC 9457 problem details, as every error is answered.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema: built by the problem module, never from this type
pub struct ProblemBody {
    #[schema(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    code: ErrorCode,
    detail: String,
    /// For `validation_failed`: every offending field, with its JSON path.
    errors: Option<Vec<FieldProblemBody>>,
    /// For `customer_exists`: the customer who has the phone number.
    #[schema(value_type = Option<uuid::Uuid>)]
    existing_customer_id: Option<String>,
    /// For `insufficient_scope`: the scope the request needs.
    #[schema(value_type = Option<crate::schemas::Scope>)]
    required_scope: Option<String>,
    /// For `amount_below_provider_minimum`: the provider's minimum, in minor units.
    minimum_amount: Option<i64>,
    /// For `order_flagged`: why the order is on hold.
    #[schema(value_type = Option<Vec<crate::schemas::OrderFlag>>)]
    flags: Option<Vec<String>>,
    /// For `currency_not_supported_by_provider` and `amount_below_provider_minimum`.
    currency: Option<String>,
    /// For the conflicts of an order's status (`order_already_paid`, `order_not_paid`, ...):
    /// where the order stands.
    #[schema(value_type = Option<crate::schemas::OrderStatus>)]
    order_status: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FieldProblemBody {
    /// The JSON path (`items[0].quantity`) or the query parameter.
    field: String,
    message: String,
}

#[cfg(test)]
mod tests {
    /// Every member a problem may carry is in the document's `ProblemBody`, so a generated
    /// client reads `existing_customer_id` or `required_scope` with no cast.
    #[test]
    fn every_problem_member_is_in_the_problem_schema() {
        let document = serde_json::to_value(super::document()).unwrap();
        let properties = &document["components"]["schemas"]["ProblemBody"]["properties"];
        for member in crate::problem::Member::ALL {
            assert!(
                properties[member.as_str()].is_object(),
                "{} is not in ProblemBody",
                member.as_str()
            );
        }
    }

    /// Every fixed set of values the domain has is an enum in the document, with exactly the
    /// domain's values.
    #[test]
    fn every_value_set_is_an_enum_of_the_domains_values() {
        let document = serde_json::to_value(super::document()).unwrap();
        for (name, values) in crate::schemas::value_sets() {
            let schema = &document["components"]["schemas"][name];
            assert_eq!(
                schema["enum"],
                serde_json::json!(values),
                "{name}: {schema}"
            );
        }
    }
}

/// A stable, machine-readable error code: the catalogue's names (`problem::Code::ALL`).
pub struct ErrorCode;

impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Code::ALL.iter().map(|c| c.as_str())))
            .into()
    }
}

impl ToSchema for ErrorCode {}

/// `{"object": "list", "data": [<item>...], "has_more": bool}`, of `item`'s schema.
fn list_of(item: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .property(
            "object",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["list"])),
        )
        .required("object")
        .property(
            "data",
            utoipa::openapi::ArrayBuilder::new()
                .items(utoipa::openapi::Ref::from_schema_name(item)),
        )
        .required("data")
        .property("has_more", ObjectBuilder::new().schema_type(Type::Boolean))
        .required("has_more")
        .into()
}

/// Defines list schemas with names of their own (`ListView<T>`'s would all be `ListView`).
macro_rules! lists {
    ($($name:ident of $item:literal;)*) => {$(
        #[doc = concat!("A list of ", $item, ".")]
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                list_of($item)
            }
        }

        impl ToSchema for $name {}
    )*};
}

lists! {
    OrderList of "OrderView";
    OrderEventList of "OrderEventView";
    CustomerList of "CustomerView";
    WebhookEndpointList of "WebhookEndpointView";
    DeliveryList of "DeliveryView";
    EventList of "Event";
}

/// `GET /v1/customers`: one customer (with `phone`), or a page of them.
pub struct CustomerOrList;

impl PartialSchema for CustomerOrList {
    fn schema() -> RefOr<Schema> {
        utoipa::openapi::OneOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name("CustomerView"))
            .item(utoipa::openapi::Ref::from_schema_name("CustomerList"))
            .into()
    }
}

impl ToSchema for CustomerOrList {}

/// A problem-details answer, for the document.
fn problem(description: &str) -> utoipa::openapi::Response {
    utoipa::openapi::ResponseBuilder::new()
        .description(description)
        .content(
            crate::problem::PROBLEM_JSON,
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name("ProblemBody")))
                .build(),
        )
        .build()
}

/// The answers a request may get before its handler runs, added from one place to every
/// operation they apply to, so none can forget them: an operation with a body (400, 413,
/// 415), and one behind an API key (401, 403, 429, 503).
struct CommonErrors;

const BODY_ERRORS: &[(&str, &str)] = &[
    (
        "400",
        "The body is not valid JSON, or not an object (`malformed_json`)",
    ),
    ("413", "The body is over 64 KiB (`payload_too_large`)"),
    (
        "415",
        "The body is not `application/json` (`unsupported_media_type`)",
    ),
];

const KEY_ERRORS: &[(&str, &str)] = &[
    ("401", "A valid API key is required (`unauthorized`)"),
    ("403", "The API key is restricted (`insufficient_scope`)"),
    ("429", "Over the rate limit (`rate_limited`)"),
    (
        "503",
        "The database does not answer (`service_unavailable`)",
    ),
];

/// Calls `f` with each operation of the document, its method, and the route the table
/// declares for it (`None` for `/openapi.json`, which Swagger UI's service answers).
fn each_operation(
    openapi: &mut utoipa::openapi::OpenApi,
    mut f: impl FnMut(&mut utoipa::openapi::path::Operation, Option<crate::routes::Operation>),
) {
    use actix_web::http::Method;
    for (path, item) in openapi.paths.paths.iter_mut() {
        let operations = [
            (Method::GET, &mut item.get),
            (Method::POST, &mut item.post),
            (Method::PATCH, &mut item.patch),
            (Method::PUT, &mut item.put),
            (Method::DELETE, &mut item.delete),
        ];
        for (method, operation) in operations {
            if let Some(operation) = operation {
                f(operation, crate::routes::operation(&method, path));
            }
        }
    }
}

/// Whether the route needs an API key.
fn keyed(declared: Option<&crate::routes::Operation>) -> bool {
    declared.is_some_and(|op| matches!(op.access, crate::routes::Access::Key(_)))
}

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        each_operation(openapi, |operation, declared| {
            let mut common = Vec::new();
            if operation.request_body.is_some() {
                common.extend_from_slice(BODY_ERRORS);
            }
            if keyed(declared.as_ref()) {
                common.extend_from_slice(KEY_ERRORS);
            }
            for (status, description) in common {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem(description).into());
            }
        });
    }
}

/// Each operation's `operationId`, summary and `security` from the route table: `bearer` with
/// the one scope the route needs (OpenAPI 3.1 lets a non-OAuth scheme list the roles it
/// requires), or none for the routes anyone may call. The document says what the router
/// enforces, from the same place.
struct FromRoutes;

impl Modify for FromRoutes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::SecurityRequirement;
        each_operation(openapi, |operation, declared| {
            if let Some(declared) = &declared {
                operation.operation_id = Some(declared.named.id.to_owned());
                // A handler's doc comment (which utoipa reads as a summary when it is one
                // line) is the operation's description; the table's line is its summary.
                let doc = [operation.summary.take(), operation.description.take()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("\n\n");
                operation.description = (!doc.is_empty()).then_some(doc);
                operation.summary = Some(declared.named.summary.to_owned());
            }
            // `{}`: no key needed (said, so linters know it was not forgotten).
            operation.security = Some(vec![match declared.map(|d| d.access) {
                Some(crate::routes::Access::Key(scope)) => {
                    SecurityRequirement::new("bearer", [scope.as_str()])
                }
                _ => SecurityRequirement::default(),
            }]);
        });
    }
}

/// The headers answers carry, on every answer that carries them: `X-Request-Id` on all;
/// `RateLimit-*` where a limit applies (keyed and public routes); `Retry-After` on 429 and
/// 503; `Idempotent-Replayed` on the success of an operation that takes an `Idempotency-Key`.
/// And a `default` answer (problem details) on every operation that answers problems, for
/// what is not listed (405 on another method, say).
struct AnswerHeaders;

fn header(kind: Type, description: &str) -> utoipa::openapi::header::Header {
    utoipa::openapi::header::HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(kind)))
        .description(Some(description))
        .build()
}

impl Modify for AnswerHeaders {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        each_operation(openapi, |operation, declared| {
            let limited = declared
                .as_ref()
                .is_some_and(|op| !matches!(op.access, crate::routes::Access::Open));
            let idempotent = operation.parameters.iter().flatten().any(
                |p| matches!(p, RefOr::T(p) if p.name.eq_ignore_ascii_case("Idempotency-Key")),
            );
            let answers_problems = operation.responses.responses.values().any(|r| {
                matches!(r, RefOr::T(r) if r.content.contains_key(crate::problem::PROBLEM_JSON))
            });
            if answers_problems {
                operation
                    .responses
                    .responses
                    .entry("default".to_owned())
                    .or_insert_with(|| {
                        problem("An error, as problem details (`code` says which)").into()
                    });
            }
            for (status, response) in operation.responses.responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                response.headers.insert(
                    "X-Request-Id".into(),
                    header(
                        Type::String,
                        "This request's id: yours when you sent a sane one, else a new one. \
                         Quote it when asking about a request.",
                    )
                    .into(),
                );
                if limited {
                    for (name, what) in [
                        (
                            "RateLimit-Limit",
                            "Requests the bucket holds (when a limit applies)",
                        ),
                        ("RateLimit-Remaining", "Requests left in the bucket"),
                        ("RateLimit-Reset", "Seconds until the bucket is full again"),
                    ] {
                        response
                            .headers
                            .insert(name.into(), header(Type::Integer, what).into());
                    }
                }
                if matches!(status.as_str(), "429" | "503") {
                    response.headers.insert(
                        "Retry-After".into(),
                        header(Type::Integer, "Seconds to wait before retrying").into(),
                    );
                }
                if idempotent && status.starts_with('2') {
                    response.headers.insert(
                        "Idempotent-Replayed".into(),
                        header(
                            Type::String,
                            "`true` when this is the stored answer to an earlier request with \
                             the same Idempotency-Key",
                        )
                        .into(),
                    );
                }
            }
        });
    }
}

/// What the derived schemas cannot say: `limit`'s default, and that an order's customer is
/// given one way (`customer_id` or `customer`).
struct Exactness;

impl Modify for Exactness {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        each_operation(openapi, |operation, _| {
            for parameter in operation.parameters.iter_mut().flatten() {
                if let RefOr::T(parameter) = parameter
                    && parameter.name == "limit"
                    && let Some(RefOr::T(Schema::Object(schema))) = &mut parameter.schema
                {
                    schema.default = Some(serde_json::json!(
                        orderpay_domain::pagination::Limit::DEFAULT.get()
                    ));
                }
            }
        });
        if let Some(RefOr::T(schema)) = openapi
            .components
            .as_mut()
            .and_then(|c| c.schemas.get_mut("CreateOrderRequest"))
        {
            crate::schemas::one_customer(schema);
        }
    }
}

/// `Authorization: Bearer <API key>` on everything under `/v1`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key from `orderpay api-key create`, as `Authorization: Bearer opk_…`",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    servers((url = "/", description = "This service: the address this document was read from")),
    info(
        title = "orderpay",
        description = "Orders and payments for businesses that sell over chat and the web: \
                       customers by phone, orders with a short reference, a stable pay link, \
                       Stripe Checkout, signed webhooks applied exactly once."
    ),
    paths(
        crate::customers::create,
        crate::customers::list_or_lookup,
        crate::customers::lookup,
        crate::customers::get,
        crate::customers::update,
        crate::orders::create,
        crate::orders::list,
        crate::orders::get,
        crate::orders::get_by_reference,
        crate::orders::cancel,
        crate::payments::payment_link,
        crate::payments::payment_link_qr,
        crate::payments::refund,
        crate::payments::clear_flags,
        crate::payments::events,
        crate::endpoints::create,
        crate::endpoints::list,
        crate::endpoints::get,
        crate::endpoints::update,
        crate::endpoints::delete,
        crate::endpoints::rotate_secret,
        crate::endpoints::deliveries,
        crate::endpoints::retry,
        crate::events::list,
        crate::events::get,
        crate::test_helpers::pay,
        crate::test_helpers::decline,
        crate::webhooks::stripe,
        crate::pay::preview,
        crate::pay::open,
        crate::pay::done,
        crate::healthz,
        crate::readyz,
        openapi_json,
        docs,
    ),
    components(schemas(
        ProblemBody,
        FieldProblemBody,
        ErrorCode,
        OrderList,
        OrderEventList,
        CustomerList,
        CustomerOrList,
        OrderView,
        OrderEventView,
        CustomerView,
        crate::views::PaymentView,
        crate::views::LineItemView,
        WebhookEndpointList,
        DeliveryList,
        EventList,
        crate::views::WebhookEndpointView,
        crate::views::DeliveryView,
        crate::views::EventData,
        crate::schemas::Event,
        crate::schemas::CreatedWebhookEndpoint,
    )),
    modifiers(
        &BearerAuth,
        &FromRoutes,
        &CommonErrors,
        &AnswerHeaders,
        &EventsAndWebhooks,
        &Exactness
    ),
    tags(
        (name = "customers", description = "Customers, looked up by phone"),
        (name = "orders", description = "Orders, their history and their flags"),
        (name = "payments", description = "Pay links and refunds"),
        (name = "webhooks", description = "Stripe's signed events in; events out, to merchants' endpoints and in a feed"),
        (name = "pages", description = "What a customer opens"),
        (name = "health", description = "For load balancers"),
        (name = "test_helpers", description = "For a bot's own tests: pay or decline as a customer would, while the sandbox is the provider"),
    )
)]
pub struct ApiDoc;

/// This document
///
/// `GET /openapi.json`, as the document describes it ([`serve`] answers it).
#[utoipa::path(get, path = "/openapi.json", tag = "health", operation_id = "openapi_document",
    responses((status = 200, description = "This document", body = serde_json::Value)))]
#[allow(dead_code)] // documents a route another service answers
fn openapi_json() {}

/// `GET /docs`, as the document describes it.
#[utoipa::path(get, path = "/docs", tag = "health",
    responses((status = 308, description = "To `/docs/`, Swagger UI with its assets embedded")))]
#[allow(dead_code)]
fn docs() {}

/// The document as served at `/openapi.json`, serialized once per process. Held as objects
/// it took 5 MB of heap, and Swagger UI kept a copy of those per HTTP worker: most of the
/// process's memory (bench/README.md, "Memory").
static DOCUMENT_JSON: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    serde_json::to_string(&ApiDoc::openapi()).unwrap_or_else(|e| {
        tracing::error!(error = %e, "the OpenAPI document did not serialize");
        String::from("{}")
    })
});

/// The document, generated anew (for tests and tools; the service serves [`serve`]'s text).
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `GET /openapi.json`.
pub async fn serve() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT_JSON.as_str())
}

/// Each documented route pattern's methods, as an `Allow` header says them (`GET, POST`):
/// what a 405 answer lists (RFC 9110), from the same document clients read.
pub fn allowed_methods(route: &str) -> Option<&'static str> {
    static ALLOWED: std::sync::LazyLock<std::collections::HashMap<String, String>> =
        std::sync::LazyLock::new(|| {
            document()
                .paths
                .paths
                .iter()
                .map(|(path, item)| {
                    let methods: Vec<&str> = [
                        ("GET", item.get.is_some()),
                        ("POST", item.post.is_some()),
                        ("PATCH", item.patch.is_some()),
                        ("PUT", item.put.is_some()),
                        ("DELETE", item.delete.is_some()),
                    ]
                    .into_iter()
                    .filter_map(|(m, has)| has.then_some(m))
                    .collect();
                    (path.clone(), methods.join(", "))
                })
                .collect()
        });
    ALLOWED.get(route).map(String::as_str)
}

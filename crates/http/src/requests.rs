//! The request bodies, as types: what the OpenAPI document shows (no other field is allowed:
//! `additionalProperties: false`) and what the handlers read ([`crate::body::parse`]). Each
//! field is a [`Field`], so that every bad one is reported at once with its JSON path; each
//! request converts itself to the domain's values here, through the domain's constructors.

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::ToSchema;

use orderpay_domain::customer::{CustomerChanges, CustomerId, CustomerName, Email, NewCustomer};
use orderpay_domain::money::{Amount, Currency};
use orderpay_domain::order::{
    ItemName, LineItem, Metadata, NewOrder, OrderCustomer, OrderFlag, Quantity,
};
use orderpay_domain::payment::RefundReason;
use orderpay_domain::phone::{PhoneNumber, PhoneRegion};
use orderpay_domain::validation::Violations;
use orderpay_domain::webhook::{
    EndpointChanges, EndpointStatus, EndpointUrl, EventSelection, NewEndpoint, UrlPolicy,
    parse_description,
};

use crate::body::{Expected, Field};

/// A customer, by phone: `POST /v1/customers`, and `customer` in `POST /v1/orders`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"phone": "+14155550100", "name": "Ada", "email": "ada@example.com"}))]
pub struct CustomerRequest {
    /// E.164 (`+14155550100`), or national with `DEFAULT_PHONE_REGION` set.
    #[schema(value_type = String)]
    pub phone: Field<String>,
    /// 1 to 200 characters.
    #[schema(value_type = String)]
    pub name: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Field<String>,
}

impl CustomerRequest {
    /// The customer to create; each bad field reported at `prefix` + its name.
    pub fn parse(
        self,
        region: Option<PhoneRegion>,
        prefix: &str,
        v: &mut Violations,
    ) -> Option<NewCustomer> {
        let phone = self.phone.parsed(&format!("{prefix}phone"), v, |phone| {
            PhoneNumber::parse(&phone, region)
        });
        let name = self.name.parsed(&format!("{prefix}name"), v, |name| {
            CustomerName::parse(&name)
        });
        let email = self
            .email
            .optional_parsed(&format!("{prefix}email"), v, |email| Email::parse(&email));
        Some(NewCustomer {
            phone: phone?,
            name: name?,
            email: email?,
        })
    }
}

/// `PATCH /v1/customers/{id}`: the fields to change; `"email": null` clears the email.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Ada Lovelace", "email": null}))]
pub struct CustomerPatchRequest {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Field<String>,
    #[schema(value_type = Option<String>, nullable)]
    #[serde(default)]
    pub email: Field<String>,
}

impl CustomerPatchRequest {
    /// The changes: only the fields given, so two clients changing different fields at once
    /// both keep their change.
    pub fn parse(self, v: &mut Violations) -> Option<CustomerChanges> {
        let name = self
            .name
            .optional_parsed("name", v, |name| CustomerName::parse(&name));
        let email = match self.email.nullable("email", v) {
            None => Some(None),
            Some(None) => Some(Some(None)),
            Some(Some(email)) => v
                .check("email", Email::parse(&email))
                .map(|e| Some(Some(e))),
        };
        Some(CustomerChanges {
            name: name?,
            email: email?,
        })
    }
}

/// One line of an order.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineItemRequest {
    /// 1 to 250 characters, no invisible formatting characters.
    #[schema(value_type = String)]
    pub name: Field<String>,
    /// 1 to 999,999.
    #[schema(value_type = i64, minimum = 1, maximum = 999_999)]
    pub quantity: Field<i64>,
    /// In the currency's minor unit (cents for usd).
    #[schema(value_type = i64, minimum = 0)]
    pub unit_amount: Field<i64>,
}

impl LineItemRequest {
    /// The line, priced (its amount with checked arithmetic), reported at `path`.
    fn parse(self, path: &str, v: &mut Violations) -> Option<LineItem> {
        let name = self
            .name
            .parsed(&format!("{path}.name"), v, |name| ItemName::parse(&name));
        let quantity = self
            .quantity
            .parsed(&format!("{path}.quantity"), v, Quantity::parse);
        let unit_amount = self
            .unit_amount
            .parsed(&format!("{path}.unit_amount"), v, Amount::new);
        v.check(path, LineItem::new(name?, quantity?, unit_amount?))
    }
}

/// `POST /v1/orders`: for `customer_id`, or for `customer` (found or created by phone).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"customer": {"phone": "+14155550100", "name": "Ada"}, "currency": "usd",
    "items": [{"name": "Tea", "quantity": 2, "unit_amount": 450}], "metadata": {"chat_id": "42"}}))]
pub struct CreateOrderRequest {
    /// An existing customer's id; give this or `customer`.
    #[serde(default)]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub customer_id: Field<uuid::Uuid>,
    /// The customer by phone, found or created; give this or `customer_id`.
    #[serde(default)]
    #[schema(value_type = Option<CustomerRequest>)]
    pub customer: Field<CustomerRequest>,
    /// A lower-case ISO 4217 code.
    #[schema(value_type = String)]
    pub currency: Field<String>,
    /// 1 to 100 lines.
    #[schema(value_type = Vec<LineItemRequest>)]
    pub items: Field<Vec<Field<LineItemRequest>>>,
    /// Up to 50 string pairs (keys up to 40 characters, values up to 500).
    #[serde(default)]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    pub metadata: Field<BTreeMap<String, Field<String>>>,
}

impl CreateOrderRequest {
    /// The order to create, checked as a whole by the domain once every part is valid.
    pub fn parse(self, region: Option<PhoneRegion>, v: &mut Violations) -> Option<NewOrder> {
        let customer = match (self.customer_id.is_given(), self.customer.is_given()) {
            (true, false) => self
                .customer_id
                .required("customer_id", v)
                .map(|id| OrderCustomer::Id(CustomerId::from_uuid(id))),
            (false, true) => self
                .customer
                .required("customer", v)
                .and_then(|customer| customer.parse(region, "customer.", v))
                .map(OrderCustomer::FindOrCreate),
            (true, true) => {
                v.add(
                    "customer_id",
                    "give either customer_id or customer, not both",
                );
                None
            }
            (false, false) => {
                v.add(
                    "customer_id",
                    "give customer_id, or customer with a phone and a name",
                );
                None
            }
        };
        let currency = self
            .currency
            .parsed("currency", v, |currency| Currency::parse(&currency));
        let items = self.items.required("items", v).and_then(|lines| {
            // Too many lines is one answer, not one per line.
            v.check("items", NewOrder::check_line_count(lines.len()))?;
            let parsed: Vec<_> = lines
                .into_iter()
                .enumerate()
                .map(|(i, line)| {
                    let path = format!("items[{i}]");
                    line.required(&path, v)?.parse(&path, v)
                })
                .collect();
            parsed.into_iter().collect::<Option<Vec<_>>>()
        });
        let metadata = metadata(self.metadata, v);
        let (customer, currency, items, metadata) = (customer?, currency?, items?, metadata?);
        match NewOrder::new(customer, currency, items, metadata) {
            Ok(order) => Some(order),
            Err(errors) => {
                v.absorb(errors);
                None
            }
        }
    }
}

/// The order's metadata: string values only, then the domain's bounds.
fn metadata(field: Field<BTreeMap<String, Field<String>>>, v: &mut Violations) -> Option<Metadata> {
    let mut pairs = BTreeMap::new();
    let mut typed = true;
    for (key, value) in field.optional("metadata", v).unwrap_or_default() {
        match value {
            Field::Given(value) => {
                pairs.insert(key, value);
            }
            _ => {
                v.add(format!("metadata.{key}"), String::MUST_BE);
                typed = false;
            }
        }
    }
    let parsed = Metadata::parse(pairs);
    match parsed {
        Ok(metadata) if typed => Some(metadata),
        Ok(_) => None,
        Err(errors) => {
            v.absorb(errors);
            None
        }
    }
}

/// `POST /v1/orders/{id}/refunds`: all that is left (no `amount`), or part.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": 300, "reason": "requested_by_customer"}))]
pub struct RefundRequest {
    #[schema(value_type = Option<i64>, minimum = 1)]
    #[serde(default)]
    pub amount: Field<i64>,
    #[serde(default)]
    #[schema(value_type = Option<crate::schemas::RefundReason>)]
    pub reason: Field<String>,
}

impl RefundRequest {
    /// The amount and the reason, each when given.
    pub fn parse(self, v: &mut Violations) -> Option<(Option<Amount>, Option<RefundReason>)> {
        let amount = self.amount.optional_parsed("amount", v, Amount::new);
        let reason = self
            .reason
            .optional_parsed("reason", v, |reason| RefundReason::parse(&reason));
        Some((amount?, reason?))
    }
}

/// `POST /v1/orders/{id}/clear-flags`: the flags a person dealt with; all when left out.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"flags": ["amount_mismatch"]}))]
pub struct ClearFlagsRequest {
    /// The flags dealt with; all of them when left out.
    #[serde(default)]
    #[schema(value_type = Option<Vec<crate::schemas::OrderFlag>>)]
    pub flags: Field<Vec<Field<String>>>,
}

impl ClearFlagsRequest {
    /// The flags named; none (meaning all) when left out.
    pub fn parse(self, v: &mut Violations) -> Option<Vec<OrderFlag>> {
        let parsed: Vec<_> = self
            .flags
            .optional("flags", v)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, flag)| flag.parsed(&format!("flags[{i}]"), v, |f| OrderFlag::parse(&f)))
            .collect();
        parsed.into_iter().collect()
    }
}

/// Request objects met inside other requests.
impl Expected for CustomerRequest {
    const MUST_BE: &'static str = "must be an object";
}

impl Expected for LineItemRequest {
    const MUST_BE: &'static str = "must be an object";
}

/// `POST /v1/webhook_endpoints`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://bot.example.com/orderpay", "enabled_events": ["order.paid", "order.refunded"], "description": "the shop's bot"}))]
pub struct CreateWebhookEndpointRequest {
    /// In production, `https` to a public host.
    #[schema(value_type = String)]
    pub url: Field<String>,
    /// `["*"]` for every event type, or the types to deliver.
    #[schema(value_type = Vec<crate::schemas::EnabledEvent>)]
    pub enabled_events: Field<Vec<Field<String>>>,
    /// Up to 500 characters.
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    pub description: Field<String>,
}

impl CreateWebhookEndpointRequest {
    pub fn parse(self, policy: UrlPolicy, v: &mut Violations) -> Option<NewEndpoint> {
        let url = self
            .url
            .parsed("url", v, |url| EndpointUrl::parse(&url, policy));
        let events = self
            .enabled_events
            .required("enabled_events", v)
            .and_then(|names| event_selection(names, v));
        let description = self
            .description
            .optional_parsed("description", v, |d| parse_description(&d));
        Some(NewEndpoint {
            url: url?,
            enabled_events: events?,
            description: description?,
        })
    }
}

/// `PATCH /v1/webhook_endpoints/{id}`: the fields to change; `"description": null` clears it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"enabled_events": ["*"], "status": "enabled"}))]
pub struct UpdateWebhookEndpointRequest {
    #[schema(value_type = Option<String>)]
    #[serde(default)]
    pub url: Field<String>,
    #[schema(value_type = Option<Vec<crate::schemas::EnabledEvent>>)]
    #[serde(default)]
    pub enabled_events: Field<Vec<Field<String>>>,
    #[schema(value_type = Option<crate::schemas::EndpointStatus>)]
    #[serde(default)]
    pub status: Field<String>,
    #[schema(value_type = Option<String>, nullable)]
    #[serde(default)]
    pub description: Field<String>,
}

impl UpdateWebhookEndpointRequest {
    pub fn parse(self, policy: UrlPolicy, v: &mut Violations) -> Option<EndpointChanges> {
        let url = self
            .url
            .optional_parsed("url", v, |url| EndpointUrl::parse(&url, policy));
        let events = match self.enabled_events.optional("enabled_events", v) {
            Some(names) => event_selection(names, v).map(Some),
            None => Some(None),
        };
        let status = self
            .status
            .optional_parsed("status", v, |s| EndpointStatus::parse(&s));
        let description = match self.description.nullable("description", v) {
            None => Some(None),
            Some(None) => Some(Some(None)),
            Some(Some(d)) => v
                .check("description", parse_description(&d))
                .map(|d| Some(Some(d))),
        };
        Some(EndpointChanges {
            url: url?,
            enabled_events: events?,
            status: status?,
            description: description?,
        })
    }
}

/// `enabled_events`: strings, then the domain's rules over them.
fn event_selection(names: Vec<Field<String>>, v: &mut Violations) -> Option<EventSelection> {
    let names: Vec<Option<String>> = names
        .into_iter()
        .enumerate()
        .map(|(i, name)| name.required(&format!("enabled_events[{i}]"), v))
        .collect();
    let names: Vec<String> = names.into_iter().collect::<Option<_>>()?;
    v.check("enabled_events", EventSelection::parse(&names))
}

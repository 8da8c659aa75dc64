//! The request bodies, as types: what the OpenAPI document shows (no other field is allowed:
//! `additionalProperties: false`). Each body's field names are
//! the ones its handler reads (`FIELDS`, shared with the reader, so the two cannot drift); a
//! field the reader does not know is refused (422, "is not a known field").

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::ToSchema;

/// A customer, by phone: `POST /v1/customers`, and `customer` in `POST /v1/orders`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"phone": "+14155550100", "name": "Ada", "email": "ada@example.com"}))]
pub struct CustomerRequest {
    /// E.164 (`+14155550100`), or national with `DEFAULT_PHONE_REGION` set.
    pub phone: String,
    /// 1 to 200 characters.
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
}

impl CustomerRequest {
    pub const FIELDS: &[&str] = &["phone", "name", "email"];
}

/// `PATCH /v1/customers/{id}`: the fields to change; `"email": null` clears the email.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Ada Lovelace", "email": null}))]
pub struct CustomerPatchRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[schema(nullable)]
    #[serde(default)]
    pub email: Option<String>,
}

impl CustomerPatchRequest {
    pub const FIELDS: &[&str] = &["name", "email"];
}

/// One line of an order.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineItemRequest {
    /// 1 to 250 characters, no invisible formatting characters.
    pub name: String,
    /// 1 to 999,999.
    #[schema(minimum = 1, maximum = 999_999)]
    pub quantity: i64,
    /// In the currency's minor unit (cents for usd).
    #[schema(minimum = 0)]
    pub unit_amount: i64,
}

impl LineItemRequest {
    pub const FIELDS: &[&str] = &["name", "quantity", "unit_amount"];
}

/// `POST /v1/orders`: for `customer_id`, or for `customer` (found or created by phone).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"customer": {"phone": "+14155550100", "name": "Ada"}, "currency": "usd",
    "items": [{"name": "Tea", "quantity": 2, "unit_amount": 450}], "metadata": {"chat_id": "42"}}))]
pub struct CreateOrderRequest {
    /// An existing customer's id; give this or `customer`.
    #[serde(default)]
    pub customer_id: Option<uuid::Uuid>,
    /// The customer by phone, found or created; give this or `customer_id`.
    #[serde(default)]
    pub customer: Option<CustomerRequest>,
    /// A lower-case ISO 4217 code.
    pub currency: String,
    /// 1 to 100 lines.
    pub items: Vec<LineItemRequest>,
    /// Up to 50 string pairs (keys up to 40 characters, values up to 500).
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl CreateOrderRequest {
    pub const FIELDS: &[&str] = &["customer_id", "customer", "currency", "items", "metadata"];
}

/// `POST /v1/orders/{id}/refunds`: all that is left (no `amount`), or part.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": 300, "reason": "requested_by_customer"}))]
pub struct RefundRequest {
    #[schema(minimum = 1)]
    #[serde(default)]
    pub amount: Option<i64>,
    /// `duplicate`, `fraudulent` or `requested_by_customer`.
    #[serde(default)]
    pub reason: Option<String>,
}

impl RefundRequest {
    pub const FIELDS: &[&str] = &["amount", "reason"];
}

/// `POST /v1/orders/{id}/clear-flags`: the flags a person dealt with; all when left out.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"flags": ["amount_mismatch"]}))]
pub struct ClearFlagsRequest {
    /// `amount_mismatch`, `needs_refund`, `disputed`.
    #[serde(default)]
    pub flags: Option<Vec<String>>,
}

impl ClearFlagsRequest {
    pub const FIELDS: &[&str] = &["flags"];
}

//! Response bodies: what clients see, kept apart from the domain types they are made from.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use orderpay_domain::Page;
use orderpay_domain::customer::Customer;
use orderpay_domain::order::{LineItem, Order};

#[derive(Serialize)]
pub struct CustomerView {
    id: String,
    object: &'static str,
    phone: String,
    name: String,
    email: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<&Customer> for CustomerView {
    fn from(c: &Customer) -> Self {
        Self {
            id: c.id.to_string(),
            object: "customer",
            phone: c.phone.as_str().to_owned(),
            name: c.name.as_str().to_owned(),
            email: c.email.as_ref().map(|e| e.as_str().to_owned()),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Serialize)]
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

#[derive(Serialize)]
pub struct OrderView {
    id: String,
    object: &'static str,
    reference: String,
    customer_id: String,
    status: &'static str,
    currency: String,
    total_amount: i64,
    items: Vec<LineItemView>,
    metadata: BTreeMap<String, String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<&Order> for OrderView {
    fn from(o: &Order) -> Self {
        Self {
            id: o.id.to_string(),
            object: "order",
            reference: o.reference.to_string(),
            customer_id: o.customer_id.to_string(),
            status: o.status().as_str(),
            currency: o.currency().code().to_owned(),
            total_amount: o.total().minor_units(),
            items: o.items().iter().map(LineItemView::from).collect(),
            metadata: o.metadata.as_map().clone(),
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// A page of a list, Stripe's shape: `{"object": "list", "data": [...], "has_more": bool}`.
#[derive(Serialize)]
pub struct ListView<T> {
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
}

//! An order as rows: the `orders` row and its `order_items` rows, to and from the domain's
//! `Order`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use orderpay_domain::customer::CustomerId;
use orderpay_domain::money::{Amount, Currency};
use orderpay_domain::order::{
    ItemName, LineItem, Metadata, Order, OrderFlag, OrderId, OrderParts, OrderReference,
    OrderStatus, PayToken, Quantity,
};
use orderpay_domain::store::StoreError;

use crate::errors::corrupt;
use crate::schema::{order_items, orders};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = orders, check_for_backend(diesel::pg::Pg))]
pub(crate) struct OrderRow {
    pub(super) id: Uuid,
    pub(super) reference: String,
    pub(super) customer_id: Uuid,
    pub(super) currency: String,
    pub(super) total_amount: i64,
    pub(super) status: String,
    pub(super) metadata: serde_json::Value,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
    pub(super) pay_token: String,
    pub(super) flags: Vec<String>,
    pub(super) amount_refunded: i64,
    pub(super) version: i32,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = order_items, check_for_backend(diesel::pg::Pg))]
pub(crate) struct ItemRow {
    pub(super) order_id: Uuid,
    pub(super) position: i16,
    pub(super) name: String,
    pub(super) quantity: i32,
    pub(super) unit_amount: i64,
    pub(super) amount: i64,
}

impl OrderRow {
    pub(crate) fn id(&self) -> Uuid {
        self.id
    }
}

/// An order's items as columns of arrays, in position order (positions, names, quantities,
/// unit amounts, amounts): read with its order in one row.
pub(crate) type ItemColumns = (Vec<i16>, Vec<String>, Vec<i32>, Vec<i64>, Vec<i64>);

/// The rows of [`ItemColumns`].
pub(crate) fn item_rows(
    order_id: Uuid,
    (positions, names, quantities, unit_amounts, amounts): ItemColumns,
) -> Result<Vec<ItemRow>, StoreError> {
    let n = positions.len();
    if [
        names.len(),
        quantities.len(),
        unit_amounts.len(),
        amounts.len(),
    ] != [n; 4]
    {
        return Err(corrupt("order items", "columns of different lengths"));
    }
    Ok(positions
        .into_iter()
        .zip(names)
        .zip(quantities)
        .zip(unit_amounts.into_iter().zip(amounts))
        .map(
            |(((position, name), quantity), (unit_amount, amount))| ItemRow {
                order_id,
                position,
                name,
                quantity,
                unit_amount,
                amount,
            },
        )
        .collect())
}

pub(super) fn rows_of(order: &Order) -> (OrderRow, Vec<ItemRow>) {
    let row = OrderRow {
        id: order.id().as_uuid(),
        reference: order.reference().compact().to_owned(),
        customer_id: order.customer_id().as_uuid(),
        currency: order.currency().code().to_owned(),
        total_amount: order.total().minor_units(),
        status: order.status().as_str().to_owned(),
        metadata: serde_json::to_value(order.metadata().as_map()).unwrap_or_default(),
        created_at: order.created_at(),
        updated_at: order.updated_at(),
        pay_token: order.pay_token().as_str().to_owned(),
        flags: flag_names(order),
        amount_refunded: order.amount_refunded().minor_units(),
        version: order.version(),
    };
    let items = order
        .items()
        .iter()
        .enumerate()
        .map(|(i, item)| ItemRow {
            order_id: row.id,
            // At most 100 items, so the position always fits.
            position: i as i16,
            name: item.name.as_str().to_owned(),
            quantity: item.quantity.get() as i32,
            unit_amount: item.unit_amount.minor_units(),
            amount: item.amount.minor_units(),
        })
        .collect();
    (row, items)
}

/// Rows are trusted as far as the schema's constraints go: nothing here re-runs today's input
/// rules, so a rule changed later never turns stored orders into errors.
fn item_of(row: ItemRow) -> Result<LineItem, StoreError> {
    let quantity = Quantity::from_stored(row.quantity).map_err(|e| corrupt("item quantity", e))?;
    let unit_amount = Amount::new(row.unit_amount).map_err(|e| corrupt("unit amount", e))?;
    let amount = Amount::new(row.amount).map_err(|e| corrupt("item amount", e))?;
    Ok(LineItem::restore(
        ItemName::from_stored(row.name),
        quantity,
        unit_amount,
        amount,
    ))
}

pub(crate) fn flag_names(order: &Order) -> Vec<String> {
    order
        .flags()
        .iter()
        .map(|f| f.as_str().to_owned())
        .collect()
}

pub(crate) fn order_of(row: OrderRow, items: Vec<ItemRow>) -> Result<Order, StoreError> {
    let metadata: BTreeMap<String, String> =
        serde_json::from_value(row.metadata).map_err(|e| corrupt("order metadata", e))?;
    Ok(Order::restore(OrderParts {
        id: OrderId::from_uuid(row.id),
        reference: OrderReference::parse(&row.reference)
            .map_err(|e| corrupt("order reference", e))?,
        customer_id: CustomerId::from_uuid(row.customer_id),
        currency: Currency::from_stored(&row.currency).map_err(|e| corrupt("order currency", e))?,
        items: items.into_iter().map(item_of).collect::<Result<_, _>>()?,
        total: Amount::new(row.total_amount).map_err(|e| corrupt("order total", e))?,
        status: OrderStatus::parse(&row.status).map_err(|e| corrupt("order status", e))?,
        metadata: Metadata::restore(metadata),
        pay_token: PayToken::from_stored(row.pay_token),
        flags: row
            .flags
            .iter()
            .map(|f| OrderFlag::parse(f))
            .collect::<Result<_, _>>()
            .map_err(|e| corrupt("order flag", e))?,
        amount_refunded: Amount::new(row.amount_refunded)
            .map_err(|e| corrupt("order amount refunded", e))?,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }))
}

/// Orders with their items from the rows of `orders LEFT JOIN order_items`, in the order the
/// orders first appear (the query orders them; items come by position).
pub(crate) fn assemble(rows: Vec<(OrderRow, Option<ItemRow>)>) -> Result<Vec<Order>, StoreError> {
    let mut orders: Vec<(OrderRow, Vec<ItemRow>)> = Vec::new();
    for (order, item) in rows {
        match orders.last_mut() {
            Some((last, items)) if last.id == order.id => items.extend(item),
            _ => orders.push((order, item.into_iter().collect())),
        }
    }
    orders
        .into_iter()
        .map(|(row, items)| order_of(row, items))
        .collect()
}

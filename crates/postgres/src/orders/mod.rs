//! `OrderRepository` on PostgreSQL: an order row plus its line items. Every hot path is one
//! statement: an order is written (with its items, its history row, and its customer when
//! found or made by phone) and read (with its items) in one round trip.

mod claim;
mod insert;

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use orderpay_domain::customer::{Customer, CustomerId};
use orderpay_domain::idempotency::KeyedAnswer;
use orderpay_domain::money::{Amount, Currency};
use orderpay_domain::order::{
    Inserted, ItemName, LineItem, Metadata, Order, OrderEvent, OrderFilter, OrderFlag, OrderId,
    OrderParts, OrderReference, OrderRepository, OrderStatus, PayToken, Quantity,
};
use orderpay_domain::store::StoreError;
use orderpay_domain::{Page, PageRequest};

use self::claim::{ClaimResult, ClaimRow, inserted};
use self::insert::{InsertOrder, InsertOrderForPhone, NewOrderRows};
use crate::PgStore;
use crate::customers::CustomerRow;
use crate::errors::{corrupt, store_error};
use crate::events::EventRow;
use crate::schema::{order_items, orders};

/// Also read back from an event's snapshot (`to_jsonb` of the row): hence `Deserialize`.
#[derive(Queryable, Selectable, Insertable, serde::Deserialize)]
#[diesel(table_name = orders, check_for_backend(diesel::pg::Pg))]
pub(crate) struct OrderRow {
    id: Uuid,
    reference: String,
    customer_id: Uuid,
    currency: String,
    total_amount: i64,
    status: String,
    metadata: serde_json::Value,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    pay_token: String,
    flags: Vec<String>,
    amount_refunded: i64,
    version: i32,
}

#[derive(Queryable, Selectable, Insertable, serde::Deserialize)]
#[diesel(table_name = order_items, check_for_backend(diesel::pg::Pg))]
pub(crate) struct ItemRow {
    order_id: Uuid,
    position: i16,
    name: String,
    quantity: i32,
    unit_amount: i64,
    amount: i64,
}

fn rows_of(order: &Order) -> (OrderRow, Vec<ItemRow>) {
    let row = OrderRow {
        id: order.id.as_uuid(),
        reference: order.reference.compact().to_owned(),
        customer_id: order.customer_id.as_uuid(),
        currency: order.currency().code().to_owned(),
        total_amount: order.total().minor_units(),
        status: order.status().as_str().to_owned(),
        metadata: serde_json::to_value(order.metadata.as_map()).unwrap_or_default(),
        created_at: order.created_at,
        updated_at: order.updated_at,
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

/// Which order to read.
pub(crate) enum Key<'a> {
    Id(&'a Uuid),
    Reference(&'a str),
    PayToken(&'a str),
}

/// The one order `key` names, with its items: one statement (a join), one round trip.
async fn find_one(store: &PgStore, key: Key<'_>) -> Result<Option<Order>, StoreError> {
    store
        .with_conn(async |conn| load_one(conn, key).await)
        .await
}

/// `find_one`'s statement on a shared connection, so that it can be pipelined with others.
pub(crate) async fn load_one(
    mut conn: &AsyncPgConnection,
    key: Key<'_>,
) -> Result<Option<Order>, StoreError> {
    let rows: Vec<(OrderRow, Option<ItemRow>)> = match key {
        Key::Id(id) => OrderById(id).load(&mut conn).await,
        Key::Reference(reference) => OrderByReference(reference).load(&mut conn).await,
        Key::PayToken(token) => OrderByPayToken(token).load(&mut conn).await,
    }
    .map_err(store_error)?;
    Ok(assemble(rows)?.pop())
}

/// `SELECT <the order's columns>, <its item's columns> FROM orders LEFT OUTER JOIN
/// order_items …`, rendered once, by diesel, from the query builder.
///
/// The one-order reads are the hottest statements orderpay sends. diesel-async renders a
/// query's SQL on every call (and for a boxed query hashes that text to find its prepared
/// statement): a profile of `GET /v1/orders/by-reference/{reference}` put that at 17% of the
/// request's CPU. These statements push this text instead, and each key's statement is a
/// type of its own, so the connection finds its prepared statement by type.
static ORDER_WITH_ITEMS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let query = orders::table
        .left_join(order_items::table)
        .select((OrderRow::as_select(), Option::<ItemRow>::as_select()));
    let sql = diesel::debug_query::<Pg, _>(&query).to_string();
    sql.split(" -- binds:")
        .next()
        .unwrap_or_default()
        .to_owned()
});

/// One order by a key column, with its items by position.
macro_rules! order_by {
    ($name:ident, $column:literal, $sql_type:ty, $value:ty) => {
        struct $name<'a>(&'a $value);

        impl diesel::query_builder::QueryId for $name<'_> {
            type QueryId = $name<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl diesel::query_builder::Query for $name<'_> {
            // The SQL types of the very select clause `ORDER_WITH_ITEMS` renders, so the rows
            // always read back into `(OrderRow, Option<ItemRow>)`, whatever their field order.
            type SqlType = (
                diesel::dsl::AsSelect<OrderRow, Pg>,
                diesel::dsl::AsSelect<Option<ItemRow>, Pg>,
            );
        }

        impl diesel::query_builder::QueryFragment<Pg> for $name<'_> {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, Pg>,
            ) -> QueryResult<()> {
                out.push_sql(&ORDER_WITH_ITEMS);
                out.push_sql(concat!(" WHERE \"orders\".\"", $column, "\" = "));
                out.push_bind_param::<$sql_type, _>(self.0)?;
                out.push_sql(" ORDER BY \"order_items\".\"position\" ASC");
                Ok(())
            }
        }
    };
}

order_by!(OrderById, "id", diesel::sql_types::Uuid, Uuid);
order_by!(OrderByReference, "reference", diesel::sql_types::Text, str);
order_by!(OrderByPayToken, "pay_token", diesel::sql_types::Text, str);

#[async_trait]
impl OrderRepository for PgStore {
    /// One statement (data-modifying CTEs), atomic without BEGIN and COMMIT, and prepared
    /// once per connection: one round trip.
    async fn insert<'a>(
        &self,
        order: &Order,
        created: &OrderEvent,
        answer: Option<&'a KeyedAnswer>,
    ) -> Result<Inserted, StoreError> {
        let rows = NewOrderRows::of(order, created);
        self.with_conn(async |conn| match answer {
            None => InsertOrder(rows, ())
                .execute(conn)
                .await
                .map(|_| Inserted::Stored(order.customer_id))
                .map_err(store_error),
            Some(answer) => InsertOrder(rows, ClaimRow::of(answer, order.customer_id.as_uuid()))
                .get_result::<ClaimResult>(conn)
                .await
                .map(|result| inserted(result, answer))
                .map_err(store_error),
        })
        .await
        .inspect(|_| self.outbox_written())
    }

    /// One statement, like `insert`: the customer found or made by phone, then the order.
    async fn insert_with_customer<'a>(
        &self,
        customer: &Customer,
        order: &Order,
        created: &OrderEvent,
        answer: Option<&'a KeyedAnswer>,
    ) -> Result<Inserted, StoreError> {
        let (customer_row, rows) = (
            CustomerRow::from(customer),
            NewOrderRows::of(order, created),
        );
        self.with_conn(async |conn| match answer {
            None => InsertOrderForPhone {
                customer: customer_row,
                order: rows,
                claim: (),
            }
            .get_result::<Uuid>(conn)
            .await
            .map(|id| Inserted::Stored(CustomerId::from_uuid(id)))
            .map_err(store_error),
            Some(answer) => InsertOrderForPhone {
                customer: customer_row,
                order: rows,
                claim: ClaimRow::of(answer, customer.id.as_uuid()),
            }
            .get_result::<ClaimResult>(conn)
            .await
            .map(|result| inserted(result, answer))
            .map_err(store_error),
        })
        .await
        .inspect(|_| self.outbox_written())
    }

    async fn find_by_pay_token(&self, token: &PayToken) -> Result<Option<Order>, StoreError> {
        find_one(self, Key::PayToken(token.as_str())).await
    }

    async fn find_by_id(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        find_one(self, Key::Id(&id.as_uuid())).await
    }

    async fn find_by_reference(
        &self,
        reference: &OrderReference,
    ) -> Result<Option<Order>, StoreError> {
        find_one(self, Key::Reference(reference.compact())).await
    }

    async fn list(
        &self,
        filter: OrderFilter,
        page: PageRequest,
    ) -> Result<Page<Order>, StoreError> {
        self.with_conn(async |conn| {
            let mut query = orders::table.into_boxed();
            if let Some(customer) = filter.customer_id {
                query = query.filter(orders::customer_id.eq(customer.as_uuid()));
            }
            if let Some(status) = filter.status {
                query = query.filter(orders::status.eq(status.as_str()));
            }
            // The page's ids as a subquery, joined with the items: one statement for the page,
            // the cursor's position included.
            let page_ids = newest_first_page!(orders, query, page).select(orders::id);
            let rows: Vec<(OrderRow, Option<ItemRow>)> = orders::table
                .left_join(order_items::table)
                .filter(orders::id.eq_any(page_ids))
                .order((
                    orders::created_at.desc(),
                    orders::id.desc(),
                    order_items::position.asc(),
                ))
                .select((OrderRow::as_select(), Option::<ItemRow>::as_select()))
                .load(conn)
                .await
                .map_err(store_error)?;
            check_cursor!(orders, conn, page, rows.is_empty());
            Ok(Page::from_overfetch(assemble(rows)?, page.limit))
        })
        .await
    }

    async fn update_status(
        &self,
        order: &Order,
        expected: OrderStatus,
        event: &OrderEvent,
    ) -> Result<(), StoreError> {
        let event = EventRow::from(event);
        self.with_conn(async |conn| {
            let changed = conn
                .transaction::<_, DieselError, _>(async |tx| {
                    let changed = diesel::update(
                        orders::table
                            .find(order.id.as_uuid())
                            .filter(orders::status.eq(expected.as_str())),
                    )
                    .set((
                        orders::status.eq(order.status().as_str()),
                        orders::updated_at.eq(order.updated_at),
                        orders::version.eq(orders::version + 1),
                    ))
                    .execute(tx)
                    .await?;
                    if changed == 1 {
                        event.insert(tx).await?;
                    }
                    Ok(changed)
                })
                .await
                .map_err(store_error)?;
            if changed == 1 {
                return Ok(());
            }
            let exists: i64 = orders::table
                .find(order.id.as_uuid())
                .count()
                .get_result(conn)
                .await
                .map_err(store_error)?;
            Err(if exists == 0 {
                StoreError::MissingReference
            } else {
                StoreError::Conflict
            })
        })
        .await
        .inspect(|()| self.outbox_written())
    }
}

//! `OrderRepository` on PostgreSQL: an order row plus its line items. Every hot path is one
//! statement: an order is written (with its items, its history row, and its customer when
//! found or made by phone) and read (with its items) in one round trip.

mod claim;
mod insert;
mod rows;

use async_trait::async_trait;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use orderpay_domain::customer::{Customer, CustomerId};
use orderpay_domain::idempotency::KeyedAnswer;
use orderpay_domain::order::{
    Inserted, Order, OrderEvent, OrderFilter, OrderId, OrderReference, OrderRepository,
    OrderStatus, PayToken,
};
use orderpay_domain::payment::Payment;
use orderpay_domain::store::StoreError;
use orderpay_domain::{Page, PageRequest};

use self::claim::{ClaimResult, ClaimRow, inserted};
use self::insert::{InsertOrder, InsertOrderForPhone, NewOrderRows};
use crate::PgStore;
use crate::customers::CustomerRow;
use crate::errors::store_error;
use crate::events::EventRow;
use crate::payments::{latest_of, load_payment};
use crate::schema::order_events;
use crate::schema::{order_items, orders};

use self::rows::rows_of;
pub(crate) use self::rows::{
    ItemColumns, ItemRow, OrderRow, assemble, flag_names, item_rows, order_of,
};

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
    let mut sql = diesel::pg::PgQueryBuilder::default();
    diesel::query_builder::QueryFragment::<Pg>::to_sql(&query, &mut sql, &Pg)
        .expect("a select of columns renders");
    diesel::query_builder::QueryBuilder::<Pg>::finish(sql)
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

/// Runs an order's creation that claims `answer`'s idempotency key, and says what it did.
async fn keyed_insert<Q>(
    conn: &mut AsyncPgConnection,
    statement: Q,
    answer: &KeyedAnswer,
) -> Result<(Inserted, bool), StoreError>
where
    Q: diesel_async::methods::LoadQuery<'static, AsyncPgConnection, ClaimResult> + Send + 'static,
{
    statement
        .get_result::<ClaimResult>(conn)
        .await
        .map(|result| inserted(result, answer))
        .map_err(store_error)
}

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
                .get_result::<bool>(conn)
                .await
                .map(|made| (Inserted::Stored(order.customer_id()), made))
                .map_err(store_error),
            Some(answer) => {
                let keyed = InsertOrder(rows, ClaimRow::of(answer, order.customer_id().as_uuid()));
                keyed_insert(conn, keyed, answer).await
            }
        })
        .await
        .map(|(inserted, made)| {
            self.outbox_written(made);
            inserted
        })
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
            .get_result::<(Uuid, bool)>(conn)
            .await
            .map(|(id, made)| (Inserted::Stored(CustomerId::from_uuid(id)), made))
            .map_err(store_error),
            Some(answer) => {
                let keyed = InsertOrderForPhone {
                    customer: customer_row,
                    order: rows,
                    claim: ClaimRow::of(answer, customer.id.as_uuid()),
                };
                keyed_insert(conn, keyed, answer).await
            }
        })
        .await
        .map(|(inserted, made)| {
            self.outbox_written(made);
            inserted
        })
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
            let (changed, made) = conn
                .transaction::<_, DieselError, _>(async |tx| {
                    let changed = diesel::update(
                        orders::table
                            .find(order.id().as_uuid())
                            .filter(orders::status.eq(expected.as_str())),
                    )
                    .set((
                        orders::status.eq(order.status().as_str()),
                        orders::updated_at.eq(order.updated_at()),
                        orders::version.eq(orders::version + 1),
                    ))
                    .execute(tx)
                    .await?;
                    let made = changed == 1 && event.insert(tx).await?;
                    Ok((changed, made))
                })
                .await
                .map_err(store_error)?;
            if changed == 1 {
                self.outbox_written(made);
                return Ok(());
            }
            let exists: i64 = orders::table
                .find(order.id().as_uuid())
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
    }

    /// Two statements pipelined on one connection: one round trip.
    async fn order_with_latest_payment(
        &self,
        order: OrderId,
    ) -> Result<Option<(Order, Option<Payment>)>, StoreError> {
        self.with_conn(async |conn| {
            let conn: &AsyncPgConnection = conn;
            let (order, payment) = futures_util::future::try_join(
                load_one(conn, Key::Id(&order.as_uuid())),
                load_payment(conn, latest_of(order.as_uuid())),
            )
            .await?;
            Ok(order.map(|order| (order, payment)))
        })
        .await
    }

    async fn history(&self, order: OrderId) -> Result<Vec<OrderEvent>, StoreError> {
        self.with_conn(async |conn| {
            order_events::table
                .filter(order_events::order_id.eq(order.as_uuid()))
                .order((order_events::created_at.asc(), order_events::id.asc()))
                .select(EventRow::as_select())
                .load(conn)
                .await
                .map_err(store_error)?
                .into_iter()
                .map(EventRow::into_event)
                .collect()
        })
        .await
    }
}

/// This module's hand-built statements, for [`crate::statements`]: each shape of an order's
/// creation, and each one-order read.
#[cfg(test)]
pub(crate) async fn plan_statements(planned: &mut crate::statements::Planned<'_>) {
    use orderpay_domain::contract::{at, created, customer, order};
    use orderpay_domain::idempotency::{IdempotencyKey, KeyedAnswer, StoredResponse};

    let buyer = customer(1, 0);
    let o = order(buyer.id, "PLAN-0001", 0);
    let answer = KeyedAnswer {
        key: IdempotencyKey::parse(orderpay_domain::api_key::ApiKeyId::generate(), "plan").unwrap(),
        fingerprint: vec![1],
        now: at(0),
        expired_before: at(-60),
        response: StoredResponse {
            status: 201,
            content_type: "application/json".into(),
            body: "{}".into(),
        },
    };
    let rows = || NewOrderRows::of(&o, &created(&o));
    let claim = || ClaimRow::of(&answer, o.customer_id().as_uuid());
    planned.plan("InsertOrder", &InsertOrder(rows(), ())).await;
    planned
        .plan("InsertOrder (keyed)", &InsertOrder(rows(), claim()))
        .await;
    let for_phone = InsertOrderForPhone {
        customer: CustomerRow::from(&buyer),
        order: rows(),
        claim: (),
    };
    planned.plan("InsertOrderForPhone", &for_phone).await;
    let keyed = InsertOrderForPhone {
        customer: CustomerRow::from(&buyer),
        order: rows(),
        claim: claim(),
    };
    planned.plan("InsertOrderForPhone (keyed)", &keyed).await;
    let id = o.id().as_uuid();
    planned.plan("OrderById", &OrderById(&id)).await;
    planned
        .plan("OrderByReference", &OrderByReference("PLAN-0001"))
        .await;
    planned
        .plan("OrderByPayToken", &OrderByPayToken("token"))
        .await;
}

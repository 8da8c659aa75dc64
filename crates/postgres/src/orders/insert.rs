//! Creating an order in one statement: the order, its items unnested from arrays and its
//! history row as data-modifying CTEs, with its customer found or made by phone when asked.

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::pg::Pg;
use uuid::Uuid;

use orderpay_domain::idempotency::Completion;
use orderpay_domain::order::{Order, OrderEvent};

use super::{OrderRow, rows_of};
use crate::customers::CustomerRow;

/// An order, its items (as arrays, to unnest) and its `created` history row, ready to bind.
pub(super) struct NewOrderRows {
    row: OrderRow,
    positions: Vec<i16>,
    names: Vec<String>,
    quantities: Vec<i32>,
    unit_amounts: Vec<i64>,
    amounts: Vec<i64>,
    event_id: Uuid,
    event_type: &'static str,
    event_at: DateTime<Utc>,
}

/// Where the new order's customer id comes from.
#[derive(Clone, Copy)]
pub(super) enum CustomerOf {
    /// The order's own `customer_id`, bound.
    Bound,
    /// The `c` CTE's one row (found or made by phone).
    Cte,
}

impl NewOrderRows {
    pub(super) fn of(order: &Order, created: &OrderEvent) -> Self {
        let (row, items) = rows_of(order);
        Self {
            row,
            positions: items.iter().map(|i| i.position).collect(),
            names: items.iter().map(|i| i.name.clone()).collect(),
            quantities: items.iter().map(|i| i.quantity).collect(),
            unit_amounts: items.iter().map(|i| i.unit_amount).collect(),
            amounts: items.iter().map(|i| i.amount).collect(),
            event_id: created.id.as_uuid(),
            event_type: created.kind.as_str(),
            event_at: created.created_at,
        }
    }

    /// `o AS (INSERT INTO orders …), i AS (INSERT INTO order_items …), e AS (INSERT INTO
    /// order_events …)`: the CTEs that write the order, to follow a `WITH`.
    fn walk_ctes<'b>(
        &'b self,
        out: &mut diesel::query_builder::AstPass<'_, 'b, Pg>,
        customer: CustomerOf,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Integer, Jsonb, SmallInt, Text, Timestamptz};
        let r = &self.row;
        out.push_sql(
            "o AS (INSERT INTO orders (id, reference, customer_id, currency, total_amount, \
             status, metadata, created_at, updated_at, pay_token, flags, amount_refunded, \
             version) SELECT ",
        );
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&r.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&r.reference)?;
        out.push_sql(", ");
        match customer {
            CustomerOf::Bound => {
                out.push_bind_param::<diesel::sql_types::Uuid, _>(&r.customer_id)?
            }
            CustomerOf::Cte => out.push_sql("(SELECT id FROM c)"),
        }
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&r.currency)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&r.total_amount)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&r.status)?;
        out.push_sql(", ");
        out.push_bind_param::<Jsonb, _>(&r.metadata)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&r.created_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&r.updated_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&r.pay_token)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&r.flags)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&r.amount_refunded)?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&r.version)?;
        out.push_sql(
            "), i AS (INSERT INTO order_items (order_id, position, name, quantity, unit_amount, \
             amount) SELECT ",
        );
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&r.id)?;
        out.push_sql(", * FROM unnest(");
        out.push_bind_param::<Array<SmallInt>, _>(&self.positions)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.names)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Integer>, _>(&self.quantities)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.unit_amounts)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.amounts)?;
        out.push_sql(
            ")), e AS (INSERT INTO order_events (id, order_id, type, created_at) VALUES (",
        );
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&self.event_id)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&r.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.event_type)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&self.event_at)?;
        out.push_sql("))");
        Ok(())
    }
}

/// The answer to a client's idempotency key, written by the statement that creates the order
/// (`k AS (UPDATE idempotency_keys …)`): the order and its answer are stored together.
#[derive(diesel::query_builder::QueryId)]
pub(super) struct AnswerRow {
    api_key_id: Uuid,
    key: String,
    status: i16,
    content_type: String,
    body: String,
    /// The customer id the body names before the statement knows the customer's (by phone).
    provisional: String,
}

impl AnswerRow {
    pub(super) fn of(answer: &Completion, provisional_customer: Uuid) -> Self {
        Self {
            api_key_id: answer.key.api_key().as_uuid(),
            key: answer.key.as_str().to_owned(),
            status: i16::try_from(answer.response.status).unwrap_or(i16::MAX),
            content_type: answer.response.content_type.clone(),
            body: answer.response.body.clone(),
            provisional: provisional_customer.to_string(),
        }
    }
}

/// The answer CTE a statement carries: none (`()`), or an [`AnswerRow`]. A type parameter, not
/// an `Option`, so each shape of SQL is its own prepared statement.
pub(super) trait AnswerCte {
    fn walk_answer<'b>(
        &'b self,
        out: &mut diesel::query_builder::AstPass<'_, 'b, Pg>,
        customer: CustomerOf,
    ) -> QueryResult<()>;
}

impl AnswerCte for () {
    fn walk_answer<'b>(
        &'b self,
        _: &mut diesel::query_builder::AstPass<'_, 'b, Pg>,
        _: CustomerOf,
    ) -> QueryResult<()> {
        Ok(())
    }
}

impl AnswerCte for AnswerRow {
    fn walk_answer<'b>(
        &'b self,
        out: &mut diesel::query_builder::AstPass<'_, 'b, Pg>,
        customer: CustomerOf,
    ) -> QueryResult<()> {
        use diesel::sql_types::{SmallInt, Text};
        out.push_sql(", k AS (UPDATE idempotency_keys SET response_status = ");
        out.push_bind_param::<SmallInt, _>(&self.status)?;
        out.push_sql(", response_type = ");
        out.push_bind_param::<Text, _>(&self.content_type)?;
        out.push_sql(", response_body = ");
        match customer {
            CustomerOf::Bound => out.push_bind_param::<Text, _>(&self.body)?,
            CustomerOf::Cte => {
                out.push_sql("replace(");
                out.push_bind_param::<Text, _>(&self.body)?;
                out.push_sql(", ");
                out.push_bind_param::<Text, _>(&self.provisional)?;
                out.push_sql(", (SELECT id FROM c)::text)");
            }
        }
        out.push_sql(" WHERE api_key_id = ");
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&self.api_key_id)?;
        out.push_sql(" AND key = ");
        out.push_bind_param::<Text, _>(&self.key)?;
        out.push_sql(")");
        Ok(())
    }
}

/// The order for a known customer id, its items and its `created` history row in one
/// statement, with the answer to its idempotency key when `A` is one. A query type of its own
/// (rather than `sql_query`, which diesel never caches) so the connection prepares it once and
/// then only binds and executes.
#[derive(diesel::query_builder::QueryId)]
pub(super) struct InsertOrder<A>(pub(super) NewOrderRows, pub(super) A);

impl<A: AnswerCte> diesel::query_builder::QueryFragment<Pg> for InsertOrder<A> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Pg>,
    ) -> QueryResult<()> {
        out.push_sql("WITH ");
        self.0.walk_ctes(&mut out, CustomerOf::Bound)?;
        self.1.walk_answer(&mut out, CustomerOf::Bound)?;
        out.push_sql(" SELECT 1");
        Ok(())
    }
}

/// The customer with a phone number, found or made, then its order as `InsertOrder` does,
/// in one statement that returns the customer's id. Found first (no write for a known
/// phone); made with `ON CONFLICT … DO UPDATE` so that a concurrent insert of the same phone,
/// which this statement's snapshot cannot see, still yields that row (it waits for the other
/// writer and returns the winner's id) instead of failing or returning nothing.
#[derive(diesel::query_builder::QueryId)]
pub(super) struct InsertOrderForPhone<A> {
    pub(super) customer: CustomerRow,
    pub(super) order: NewOrderRows,
    pub(super) answer: A,
}

impl<A> diesel::query_builder::Query for InsertOrderForPhone<A> {
    type SqlType = diesel::sql_types::Uuid;
}

impl<A: AnswerCte> diesel::query_builder::QueryFragment<Pg> for InsertOrderForPhone<A> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Nullable, Text, Timestamptz};
        let c = &self.customer;
        out.push_sql("WITH found AS (SELECT id FROM customers WHERE phone = ");
        out.push_bind_param::<Text, _>(&c.phone)?;
        out.push_sql(
            "), made AS (INSERT INTO customers (id, phone, name, email, created_at, updated_at) \
             SELECT ",
        );
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&c.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&c.phone)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&c.name)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&c.email)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&c.created_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&c.updated_at)?;
        out.push_sql(
            " WHERE NOT EXISTS (SELECT 1 FROM found) \
             ON CONFLICT (phone) DO UPDATE SET phone = EXCLUDED.phone RETURNING id), \
             c AS (SELECT id FROM found UNION ALL SELECT id FROM made), ",
        );
        self.order.walk_ctes(&mut out, CustomerOf::Cte)?;
        self.answer.walk_answer(&mut out, CustomerOf::Cte)?;
        out.push_sql(" SELECT id FROM c");
        Ok(())
    }
}

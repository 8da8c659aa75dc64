//! Creating an order in one statement: the order, its items unnested from arrays and its
//! history row as data-modifying CTEs, with its customer found or made by phone when asked.

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::pg::Pg;
use uuid::Uuid;

use orderpay_domain::order::{Order, OrderEvent};

use super::claim::{ClaimResultSql, ClaimRow};
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
    /// order_events …), d AS (INSERT INTO webhook_deliveries …)`: the CTEs that write the
    /// order, to follow a `WITH`; each only if the `claimed` CTE claimed the idempotency key,
    /// when `gated`.
    fn walk_ctes<'b>(
        &'b self,
        out: &mut diesel::query_builder::AstPass<'_, 'b, Pg>,
        customer: CustomerOf,
        gated: bool,
    ) -> QueryResult<()> {
        let gate = if gated {
            " WHERE EXISTS (SELECT 1 FROM claimed)"
        } else {
            ""
        };
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
        out.push_sql(gate);
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
        out.push_sql(")");
        out.push_sql(gate);
        out.push_sql("), e AS (INSERT INTO order_events (id, order_id, type, created_at) SELECT ");
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&self.event_id)?;
        out.push_sql(", ");
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&r.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.event_type)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&self.event_at)?;
        out.push_sql(gate);
        // Webhooks out: `order.created`'s deliveries, made in this statement, which says
        // whether it made any (`MADE_DELIVERIES`): only then is the sender woken.
        out.push_sql(" RETURNING id, order_id, type, sequence), ");
        out.push_sql(crate::webhooks::DELIVERIES_OF_E);
        Ok(())
    }
}

/// The order for a known customer id, its items and its `created` history row in one
/// statement, claiming a client's idempotency key when `A` is a [`ClaimRow`]. A query type of
/// its own (rather than `sql_query`, which diesel never caches) so the connection prepares it
/// once and then only binds and executes; a type parameter, so each shape is its own statement.
#[derive(diesel::query_builder::QueryId)]
pub(super) struct InsertOrder<A>(pub(super) NewOrderRows, pub(super) A);

impl diesel::query_builder::Query for InsertOrder<()> {
    /// Whether it made webhook deliveries.
    type SqlType = diesel::sql_types::Bool;
}

impl diesel::query_builder::QueryFragment<Pg> for InsertOrder<()> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Pg>,
    ) -> QueryResult<()> {
        out.push_sql("WITH ");
        self.0.walk_ctes(&mut out, CustomerOf::Bound, false)?;
        out.push_sql(" SELECT ");
        out.push_sql(crate::webhooks::MADE_DELIVERIES);
        Ok(())
    }
}

impl diesel::query_builder::Query for InsertOrder<ClaimRow> {
    type SqlType = ClaimResultSql;
}

impl diesel::query_builder::QueryFragment<Pg> for InsertOrder<ClaimRow> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Pg>,
    ) -> QueryResult<()> {
        out.push_sql("WITH ");
        self.1.walk_claim(&mut out, CustomerOf::Bound)?;
        out.push_sql(", ");
        self.0.walk_ctes(&mut out, CustomerOf::Bound, true)?;
        self.1
            .walk_result(&mut out, &CustomerOf::Bound, &self.0.row.customer_id)
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
    pub(super) claim: A,
}

impl diesel::query_builder::Query for InsertOrderForPhone<()> {
    /// The customer's id, and whether it made webhook deliveries.
    type SqlType = (diesel::sql_types::Uuid, diesel::sql_types::Bool);
}

impl diesel::query_builder::Query for InsertOrderForPhone<ClaimRow> {
    type SqlType = ClaimResultSql;
}

impl<A> InsertOrderForPhone<A> {
    /// `found AS (…), made AS (…), c AS (…)`: the customer, found or made; made only when
    /// `untaken` adds nothing against it.
    fn walk_customer<'b>(
        &'b self,
        out: &mut diesel::query_builder::AstPass<'_, 'b, Pg>,
        untaken: Option<&'b ClaimRow>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Nullable, Text, Timestamptz};
        let c = &self.customer;
        out.push_sql("found AS (SELECT id FROM customers WHERE phone = ");
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
        out.push_sql(" WHERE NOT EXISTS (SELECT 1 FROM found)");
        if let Some(claim) = untaken {
            claim.walk_untaken(out)?;
        }
        out.push_sql(
            " ON CONFLICT (phone) DO UPDATE SET phone = EXCLUDED.phone RETURNING id), \
             c AS (SELECT id FROM found UNION ALL SELECT id FROM made)",
        );
        Ok(())
    }
}

impl diesel::query_builder::QueryFragment<Pg> for InsertOrderForPhone<()> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Pg>,
    ) -> QueryResult<()> {
        out.push_sql("WITH ");
        self.walk_customer(&mut out, None)?;
        out.push_sql(", ");
        self.order.walk_ctes(&mut out, CustomerOf::Cte, false)?;
        out.push_sql(" SELECT id, ");
        out.push_sql(crate::webhooks::MADE_DELIVERIES);
        out.push_sql(" FROM c");
        Ok(())
    }
}

impl diesel::query_builder::QueryFragment<Pg> for InsertOrderForPhone<ClaimRow> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Pg>,
    ) -> QueryResult<()> {
        out.push_sql("WITH ");
        self.walk_customer(&mut out, Some(&self.claim))?;
        out.push_sql(", ");
        self.claim.walk_claim(&mut out, CustomerOf::Cte)?;
        out.push_sql(", ");
        self.order.walk_ctes(&mut out, CustomerOf::Cte, true)?;
        self.claim
            .walk_result(&mut out, &CustomerOf::Cte, &self.order.row.customer_id)
    }
}

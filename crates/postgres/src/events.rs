//! Order history rows: written by the transactions that make the changes they record.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use orderpay_domain::money::Amount;
use orderpay_domain::order::{OrderEvent, OrderEventId, OrderEventType, OrderId};
use orderpay_domain::payment::PaymentId;
use orderpay_domain::store::StoreError;

use crate::errors::corrupt;
use crate::schema::order_events;
use crate::webhooks::DELIVERIES_OF_E;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = order_events, check_for_backend(diesel::pg::Pg))]
pub(crate) struct EventRow {
    id: Uuid,
    order_id: Uuid,
    type_: String,
    payment_id: Option<Uuid>,
    amount: Option<i64>,
    reason: Option<String>,
    created_at: DateTime<Utc>,
    actor: Option<String>,
}

impl From<&OrderEvent> for EventRow {
    fn from(e: &OrderEvent) -> Self {
        Self {
            id: e.id.as_uuid(),
            order_id: e.order_id.as_uuid(),
            type_: e.kind.as_str().to_owned(),
            payment_id: e.payment_id.map(|p| p.as_uuid()),
            amount: e.amount.map(Amount::minor_units),
            reason: e.reason.clone(),
            created_at: e.created_at,
            actor: e.actor.clone(),
        }
    }
}

impl EventRow {
    /// Writes the row with its snapshot, made from the order's rows as they are (so after the
    /// statements of this transaction that made the change), and its deliveries (webhooks
    /// out). Returns whether it made any delivery.
    pub(crate) async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<bool> {
        let (_, made): (i64, bool) = InsertEvent::<false>(self).get_result(conn).await?;
        Ok(made)
    }

    /// [`insert`](Self::insert), unless a unique key holds the row already: then nothing.
    /// Returns whether the row was written, and whether it made any delivery.
    pub(crate) async fn insert_once(
        &self,
        conn: &mut AsyncPgConnection,
    ) -> QueryResult<(bool, bool)> {
        let (written, made): (i64, bool) = InsertEvent::<true>(self).get_result(conn).await?;
        Ok((written == 1, made))
    }

    pub(crate) fn into_event(self) -> Result<OrderEvent, StoreError> {
        Ok(OrderEvent {
            id: OrderEventId::from_uuid(self.id),
            order_id: OrderId::from_uuid(self.order_id),
            kind: OrderEventType::parse(&self.type_).map_err(|e| corrupt("order event", e))?,
            payment_id: self.payment_id.map(PaymentId::from_uuid),
            amount: self
                .amount
                .map(Amount::new)
                .transpose()
                .map_err(|e| corrupt("order event amount", e))?,
            reason: self.reason,
            actor: self.actor,
            created_at: self.created_at,
        })
    }
}

/// `WITH e AS (INSERT INTO order_events … orderpay_order_state(order_id), orderpay_payment_
/// state(order_id) [ON CONFLICT DO NOTHING] RETURNING …), d AS (<deliveries>) SELECT count(*)
/// FROM e`: a history row written after the change it records, with its snapshot and
/// deliveries. `ONCE` adds the `ON
/// CONFLICT`; each is a statement type of its own, so each connection prepares it once.
struct InsertEvent<'a, const ONCE: bool>(&'a EventRow);

/// The [`InsertEvent`]'s prepared-statement cache key.
struct InsertEventId<const ONCE: bool>;

impl<const ONCE: bool> diesel::query_builder::QueryId for InsertEvent<'_, ONCE> {
    type QueryId = InsertEventId<ONCE>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const ONCE: bool> diesel::query_builder::Query for InsertEvent<'_, ONCE> {
    type SqlType = (diesel::sql_types::BigInt, diesel::sql_types::Bool);
}

impl<const ONCE: bool> diesel::query_builder::QueryFragment<diesel::pg::Pg>
    for InsertEvent<'_, ONCE>
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz, Uuid as Id};
        let row = self.0;
        out.push_sql(
            "WITH e AS (INSERT INTO order_events (id, order_id, type, payment_id, amount, \
             reason, created_at, actor, order_state, payment_state) VALUES (",
        );
        out.push_bind_param::<Id, _>(&row.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Id, _>(&row.order_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&row.type_)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Id>, _>(&row.payment_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<BigInt>, _>(&row.amount)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&row.reason)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&row.created_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&row.actor)?;
        out.push_sql(", orderpay_order_state(");
        out.push_bind_param::<Id, _>(&row.order_id)?;
        out.push_sql("), orderpay_payment_state(");
        out.push_bind_param::<Id, _>(&row.order_id)?;
        out.push_sql("))");
        if ONCE {
            out.push_sql(" ON CONFLICT DO NOTHING");
        }
        out.push_sql(" RETURNING id, order_id, type, sequence), ");
        out.push_sql(DELIVERIES_OF_E);
        out.push_sql(" SELECT (SELECT count(*) FROM e), ");
        out.push_sql(crate::webhooks::MADE_DELIVERIES);
        Ok(())
    }
}

/// This module's hand-built statements, for [`crate::statements`].
#[cfg(test)]
pub(crate) async fn plan_statements(planned: &mut crate::statements::Planned<'_>) {
    use orderpay_domain::contract::{at, customer, order};

    let o = order(customer(1, 0).id, "PLAN-0003", 0);
    let row = EventRow::from(&OrderEvent::new(o.id(), OrderEventType::Cancelled, at(1)));
    planned
        .plan("InsertEvent", &InsertEvent::<false>(&row))
        .await;
    planned
        .plan("InsertEvent (once)", &InsertEvent::<true>(&row))
        .await;
}

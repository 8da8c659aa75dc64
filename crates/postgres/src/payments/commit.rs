//! A provider event's effect, written by one statement.

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::pg::Pg;
use uuid::Uuid;

use orderpay_domain::money::Amount;
use orderpay_domain::payment::EventCommit;

use super::PaymentRow;
use crate::orders::flag_names;

/// A provider event's effect in one statement:
///
/// ```sql
/// WITH seen AS (INSERT INTO processed_events …),            -- the event id, if any
///      p AS (UPDATE payments … WHERE id = $ AND version = $ RETURNING id),
///      o AS (UPDATE orders … WHERE id = $ AND version = $ RETURNING id),
///      e AS (INSERT INTO order_events … FROM unnest(…)),    -- the history rows
///      d AS (INSERT INTO webhook_deliveries …)              -- their deliveries
/// SELECT CASE WHEN <p and o each changed the rows they were given>
///             THEN 0 ELSE orderpay_version_conflict() END
/// ```
///
/// A repeated event id fails the insert (`processed_events_pkey`); a row that is not at the
/// version it was read at makes the final SELECT call `orderpay_version_conflict()`, whose
/// error (SQLSTATE 40001) rolls the whole statement back. A missing payment or order binds
/// NULL ids, which update nothing and are expected to. The text never varies, so the
/// connection prepares it once.
///
/// The history rows are events (webhooks out): each carries its snapshot, the order's and its
/// latest payment's changing fields as this statement leaves them (built here from what it
/// writes, or read as they are where it leaves them alone), and the statement makes their
/// deliveries ([`DELIVERIES_OF_E`](crate::webhooks::DELIVERIES_OF_E)).
#[derive(diesel::query_builder::QueryId)]
pub(super) struct CommitStatement {
    event_id: Option<String>,
    payment_id: Option<Uuid>,
    payment_version: Option<i32>,
    payment_status: Option<String>,
    session_id: Option<String>,
    session_url: Option<String>,
    session_expires_at: Option<DateTime<Utc>>,
    provider_payment_id: Option<String>,
    amount_received: Option<i64>,
    payment_refunded: Option<i64>,
    payment_updated_at: Option<DateTime<Utc>>,
    order_id: Option<Uuid>,
    order_version: Option<i32>,
    order_status: Option<String>,
    order_flags: Option<Vec<String>>,
    order_refunded: Option<i64>,
    order_updated_at: Option<DateTime<Utc>>,
    expected_payments: i64,
    expected_orders: i64,
    events: EventColumns,
}

/// History rows as one array per column, to unnest.
#[derive(Default)]
struct EventColumns {
    ids: Vec<Uuid>,
    order_ids: Vec<Uuid>,
    types: Vec<String>,
    payment_ids: Vec<Option<Uuid>>,
    amounts: Vec<Option<i64>>,
    reasons: Vec<Option<String>>,
    created_at: Vec<DateTime<Utc>>,
    actors: Vec<Option<String>>,
}

impl CommitStatement {
    pub(super) fn of(commit: &EventCommit) -> Self {
        let payment = commit.payment.as_ref().map(PaymentRow::from);
        let order = commit.order.as_ref();
        let mut events = EventColumns::default();
        for e in &commit.events {
            events.ids.push(e.id.as_uuid());
            events.order_ids.push(e.order_id.as_uuid());
            events.types.push(e.kind.as_str().to_owned());
            events.payment_ids.push(e.payment_id.map(|p| p.as_uuid()));
            events.amounts.push(e.amount.map(Amount::minor_units));
            events.reasons.push(e.reason.clone());
            events.created_at.push(e.created_at);
            events.actors.push(e.actor.clone());
        }
        Self {
            event_id: commit.event_id.clone(),
            expected_payments: i64::from(payment.is_some()),
            expected_orders: i64::from(order.is_some()),
            payment_id: payment.as_ref().map(|p| p.id),
            payment_version: payment.as_ref().map(|p| p.version),
            payment_status: payment.as_ref().map(|p| p.status.clone()),
            session_id: payment.as_ref().and_then(|p| p.session_id.clone()),
            session_url: payment.as_ref().and_then(|p| p.session_url.clone()),
            session_expires_at: payment.as_ref().and_then(|p| p.session_expires_at),
            provider_payment_id: payment.as_ref().and_then(|p| p.provider_payment_id.clone()),
            amount_received: payment.as_ref().map(|p| p.amount_received),
            payment_refunded: payment.as_ref().map(|p| p.amount_refunded),
            payment_updated_at: payment.as_ref().map(|p| p.updated_at),
            order_id: order.map(|o| o.id().as_uuid()),
            order_version: order.map(|o| o.version()),
            order_status: order.map(|o| o.status().as_str().to_owned()),
            order_flags: order.map(flag_names),
            order_refunded: order.map(|o| o.amount_refunded().minor_units()),
            order_updated_at: order.map(|o| o.updated_at()),
            events,
        }
    }
}

impl CommitStatement {
    /// The history rows' snapshot (migration `snapshots_in_history`): the order's and its
    /// payment's changing fields as this statement writes them, or, for a row it leaves alone,
    /// as the row is (`orderpay_order_state`, `orderpay_payment_state`).
    fn walk_snapshot<'b>(
        &'b self,
        out: &mut diesel::query_builder::AstPass<'_, 'b, Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz};
        type Id = diesel::sql_types::Uuid;
        out.push_sql("CASE WHEN ");
        out.push_bind_param::<Nullable<Id>, _>(&self.order_id)?;
        out.push_sql(" IS NULL THEN orderpay_order_state(u.order_id) ELSE ROW(");
        out.push_bind_param::<Nullable<Text>, _>(&self.order_status)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Array<Text>>, _>(&self.order_flags)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<BigInt>, _>(&self.order_refunded)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Integer>, _>(&self.order_version)?;
        out.push_sql(" + 1, ");
        out.push_bind_param::<Nullable<Timestamptz>, _>(&self.order_updated_at)?;
        out.push_sql(")::orderpay_order_state END, CASE WHEN ");
        out.push_bind_param::<Nullable<Id>, _>(&self.payment_id)?;
        out.push_sql(" IS NULL THEN orderpay_payment_state(u.order_id) ELSE ROW(");
        out.push_bind_param::<Nullable<Id>, _>(&self.payment_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.payment_status)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Timestamptz>, _>(&self.session_expires_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&self.provider_payment_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<BigInt>, _>(&self.amount_received)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<BigInt>, _>(&self.payment_refunded)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Integer>, _>(&self.payment_version)?;
        out.push_sql(" + 1, ");
        out.push_bind_param::<Nullable<Timestamptz>, _>(&self.payment_updated_at)?;
        out.push_sql(")::orderpay_payment_state END");
        Ok(())
    }
}

impl diesel::query_builder::Query for CommitStatement {
    /// Whether the commit made any webhook delivery.
    type SqlType = diesel::sql_types::Bool;
}

impl diesel::query_builder::QueryFragment<Pg> for CommitStatement {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz};
        type Id = diesel::sql_types::Uuid;
        out.push_sql("WITH seen AS (INSERT INTO processed_events (id) SELECT e FROM (SELECT ");
        out.push_bind_param::<Nullable<Text>, _>(&self.event_id)?;
        out.push_sql(
            "::text AS e) AS event WHERE e IS NOT NULL), \
             p AS (UPDATE payments SET status = ",
        );
        out.push_bind_param::<Nullable<Text>, _>(&self.payment_status)?;
        out.push_sql(", session_id = ");
        out.push_bind_param::<Nullable<Text>, _>(&self.session_id)?;
        out.push_sql(", session_url = ");
        out.push_bind_param::<Nullable<Text>, _>(&self.session_url)?;
        out.push_sql(", session_expires_at = ");
        out.push_bind_param::<Nullable<Timestamptz>, _>(&self.session_expires_at)?;
        out.push_sql(", provider_payment_id = ");
        out.push_bind_param::<Nullable<Text>, _>(&self.provider_payment_id)?;
        out.push_sql(", amount_received = ");
        out.push_bind_param::<Nullable<BigInt>, _>(&self.amount_received)?;
        out.push_sql(", amount_refunded = ");
        out.push_bind_param::<Nullable<BigInt>, _>(&self.payment_refunded)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<Nullable<Timestamptz>, _>(&self.payment_updated_at)?;
        out.push_sql(", version = version + 1 WHERE id = ");
        out.push_bind_param::<Nullable<Id>, _>(&self.payment_id)?;
        out.push_sql(" AND version = ");
        out.push_bind_param::<Nullable<Integer>, _>(&self.payment_version)?;
        out.push_sql(" RETURNING id), o AS (UPDATE orders SET status = ");
        out.push_bind_param::<Nullable<Text>, _>(&self.order_status)?;
        out.push_sql(", flags = ");
        out.push_bind_param::<Nullable<Array<Text>>, _>(&self.order_flags)?;
        out.push_sql(", amount_refunded = ");
        out.push_bind_param::<Nullable<BigInt>, _>(&self.order_refunded)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<Nullable<Timestamptz>, _>(&self.order_updated_at)?;
        out.push_sql(", version = version + 1 WHERE id = ");
        out.push_bind_param::<Nullable<Id>, _>(&self.order_id)?;
        out.push_sql(" AND version = ");
        out.push_bind_param::<Nullable<Integer>, _>(&self.order_version)?;
        out.push_sql(
            " RETURNING id), e AS (INSERT INTO order_events (id, order_id, type, payment_id, \
             amount, reason, created_at, actor, order_state, payment_state) SELECT u.*, ",
        );
        self.walk_snapshot(&mut out)?;
        out.push_sql(" FROM unnest(");
        let e = &self.events;
        out.push_bind_param::<Array<Id>, _>(&e.ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Id>, _>(&e.order_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&e.types)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Id>>, _>(&e.payment_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<BigInt>>, _>(&e.amounts)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&e.reasons)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Timestamptz>, _>(&e.created_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&e.actors)?;
        out.push_sql(
            ") AS u (id, order_id, type, payment_id, amount, reason, created_at, actor) \
             RETURNING id, order_id, type, sequence), ",
        );
        out.push_sql(crate::webhooks::DELIVERIES_OF_E);
        out.push_sql(" SELECT CASE WHEN (SELECT count(*) FROM p) = ");
        out.push_bind_param::<BigInt, _>(&self.expected_payments)?;
        out.push_sql(" AND (SELECT count(*) FROM o) = ");
        out.push_bind_param::<BigInt, _>(&self.expected_orders)?;
        // Whether it made deliveries, or (the function raises) a conflict.
        out.push_sql(" THEN ");
        out.push_sql(crate::webhooks::MADE_DELIVERIES);
        out.push_sql(" ELSE orderpay_version_conflict() <> 0 END");
        Ok(())
    }
}

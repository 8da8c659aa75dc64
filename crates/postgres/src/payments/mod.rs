//! `PaymentRepository` on PostgreSQL: payments, the provider events applied, order history.
//! An event's effect is one statement: the event id inserted (its primary key makes a repeat
//! fail), the payment and the order updated only at the version they were read at.

mod commit;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use orderpay_domain::money::{Amount, Currency};
use orderpay_domain::order::{OrderEvent, OrderId};
use orderpay_domain::payment::{
    CheckoutSession, EventCommit, EventSubject, Payment, PaymentId, PaymentKey, PaymentParts,
    PaymentProvider, PaymentRepository, PaymentStatus,
};
use orderpay_domain::store::StoreError;

use self::commit::CommitStatement;
use crate::PgStore;
use crate::errors::{corrupt, store_error};
use crate::events::EventRow;
use crate::orders::{ItemRow, OrderRow, assemble};
use crate::schema::{order_items, orders, payments, processed_events};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = payments, check_for_backend(diesel::pg::Pg))]
pub(crate) struct PaymentRow {
    id: Uuid,
    order_id: Uuid,
    provider: String,
    status: String,
    amount: i64,
    currency: String,
    session_id: Option<String>,
    session_url: Option<String>,
    session_expires_at: Option<DateTime<Utc>>,
    provider_payment_id: Option<String>,
    amount_received: i64,
    amount_refunded: i64,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<&Payment> for PaymentRow {
    fn from(p: &Payment) -> Self {
        let session = p.session();
        Self {
            id: p.id().as_uuid(),
            order_id: p.order_id().as_uuid(),
            provider: p.provider().as_str().to_owned(),
            status: p.status().as_str().to_owned(),
            amount: p.amount().minor_units(),
            currency: p.currency().code().to_owned(),
            session_id: session.map(|s| s.id.clone()),
            session_url: session.map(|s| s.url.clone()),
            session_expires_at: session.map(|s| s.expires_at),
            provider_payment_id: p.provider_payment_id().map(str::to_owned),
            amount_received: p.amount_received().minor_units(),
            amount_refunded: p.amount_refunded().minor_units(),
            version: p.version(),
            created_at: p.created_at(),
            updated_at: p.updated_at(),
        }
    }
}

impl TryFrom<PaymentRow> for Payment {
    type Error = StoreError;

    fn try_from(row: PaymentRow) -> Result<Self, StoreError> {
        let amount = |v: i64, what: &str| Amount::new(v).map_err(|e| corrupt(what, e));
        let session = match (row.session_id, row.session_url, row.session_expires_at) {
            (Some(id), Some(url), Some(expires_at)) => Some(CheckoutSession {
                id,
                url,
                expires_at,
            }),
            _ => None,
        };
        Ok(Payment::restore(PaymentParts {
            id: PaymentId::from_uuid(row.id),
            order_id: OrderId::from_uuid(row.order_id),
            provider: PaymentProvider::parse(&row.provider)
                .map_err(|e| corrupt("payment provider", e))?,
            status: PaymentStatus::parse(&row.status).map_err(|e| corrupt("payment status", e))?,
            amount: amount(row.amount, "payment amount")?,
            currency: Currency::from_stored(&row.currency)
                .map_err(|e| corrupt("payment currency", e))?,
            session,
            provider_payment_id: row.provider_payment_id,
            amount_received: amount(row.amount_received, "payment amount received")?,
            amount_refunded: amount(row.amount_refunded, "payment amount refunded")?,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }))
    }
}

async fn find_one(
    store: &PgStore,
    query: payments::BoxedQuery<'_, Pg>,
) -> Result<Option<Payment>, StoreError> {
    store
        .with_conn(async |conn| load_payment(conn, query).await)
        .await
}

/// `find_one`'s statement on a shared connection, so that it can be pipelined with others.
pub(crate) async fn load_payment(
    mut conn: &AsyncPgConnection,
    query: payments::BoxedQuery<'_, Pg>,
) -> Result<Option<Payment>, StoreError> {
    query
        .select(PaymentRow::as_select())
        .first(&mut conn)
        .await
        .optional()
        .map_err(store_error)?
        .map(Payment::try_from)
        .transpose()
}

pub(crate) fn latest_of(order: Uuid) -> payments::BoxedQuery<'static, Pg> {
    payments::table
        .filter(payments::order_id.eq(order))
        .order((payments::created_at.desc(), payments::id.desc()))
        .into_boxed()
}

async fn open_payment_of(
    conn: &mut AsyncPgConnection,
    order: Uuid,
) -> Result<Option<PaymentRow>, DieselError> {
    payments::table
        .filter(payments::order_id.eq(order))
        .filter(payments::status.eq_any(PaymentStatus::names(PaymentStatus::is_open)))
        .select(PaymentRow::as_select())
        .first(conn)
        .await
        .optional()
}

#[async_trait]
impl PaymentRepository for PgStore {
    async fn open_or_get(&self, payment: &Payment) -> Result<(Payment, bool), StoreError> {
        let row = PaymentRow::from(payment);
        self.with_conn(async |conn| {
            // The partial unique index lets one open payment per order in; a loser of the race
            // reads the winner's. A winner that closed in between sends us round again.
            for _ in 0..3 {
                let inserted = diesel::insert_into(payments::table)
                    .values(&row)
                    .on_conflict_do_nothing()
                    .returning(PaymentRow::as_returning())
                    .get_result(conn)
                    .await
                    .optional()
                    .map_err(store_error)?;
                if let Some(row) = inserted {
                    return Ok((row.try_into()?, true));
                }
                if let Some(open) = open_payment_of(conn, row.order_id)
                    .await
                    .map_err(store_error)?
                {
                    return Ok((open.try_into()?, false));
                }
            }
            Err(StoreError::Conflict)
        })
        .await
    }

    async fn record_session(
        &self,
        opened: &Payment,
        event: &OrderEvent,
    ) -> Result<Payment, StoreError> {
        let event = EventRow::from(event);
        let row = PaymentRow::from(opened);
        self.with_conn(async |conn| {
            let stored = conn
                .transaction::<_, DieselError, _>(async |tx| {
                    let opened = diesel::update(
                        payments::table
                            .find(row.id)
                            .filter(payments::version.eq(row.version)),
                    )
                    .set((
                        payments::status.eq(&row.status),
                        payments::session_id.eq(&row.session_id),
                        payments::session_url.eq(&row.session_url),
                        payments::session_expires_at.eq(row.session_expires_at),
                        payments::updated_at.eq(row.updated_at),
                        payments::version.eq(payments::version + 1),
                    ))
                    .returning(PaymentRow::as_returning())
                    .get_result(tx)
                    .await
                    .optional()?;
                    if let Some(row) = opened {
                        let made = event.insert(tx).await?;
                        return Ok((Some(row), made));
                    }
                    let stored = payments::table
                        .find(row.id)
                        .select(PaymentRow::as_select())
                        .first(tx)
                        .await
                        .optional()?;
                    Ok((stored, false))
                })
                .await
                .map_err(store_error)?;
            let (stored, made) = stored;
            self.outbox_written(made);
            stored
                .ok_or(StoreError::MissingReference)
                .and_then(Payment::try_from)
        })
        .await
    }

    async fn find(&self, id: PaymentId) -> Result<Option<Payment>, StoreError> {
        find_one(self, payments::table.find(id.as_uuid()).into_boxed()).await
    }

    async fn find_by_session(&self, session_id: &str) -> Result<Option<Payment>, StoreError> {
        let query = payments::table.filter(payments::session_id.eq(session_id));
        find_one(self, query.into_boxed()).await
    }

    /// Two statements pipelined on one connection (one round trip): whether the event id is
    /// recorded, and the payment joined with its order and the order's items.
    async fn event_subject(
        &self,
        event_id: &str,
        key: &PaymentKey,
    ) -> Result<Option<EventSubject>, StoreError> {
        self.with_conn(async |conn| {
            let mut conn: &AsyncPgConnection = conn;
            let seen = diesel::select(diesel::dsl::exists(
                processed_events::table.filter(processed_events::id.eq(event_id)),
            ))
            .get_result::<bool>(&mut conn);
            let query = payments::table
                .inner_join(orders::table.left_join(order_items::table))
                .into_boxed();
            let query = match key {
                PaymentKey::Id(id) => query.filter(payments::id.eq(id.as_uuid())),
                PaymentKey::Provider(provider_id) => {
                    query.filter(payments::provider_payment_id.eq(provider_id))
                }
            };
            let rows = query
                .order((
                    payments::created_at.desc(),
                    payments::id.desc(),
                    order_items::position.asc(),
                ))
                .select((
                    PaymentRow::as_select(),
                    OrderRow::as_select(),
                    Option::<ItemRow>::as_select(),
                ))
                .load::<(PaymentRow, OrderRow, Option<ItemRow>)>(&mut conn);
            let (seen, rows) = futures_util::future::try_join(seen, rows)
                .await
                .map_err(store_error)?;
            // The newest payment's rows (a provider id names one payment in practice).
            let Some(newest) = rows.iter().map(|(p, _, _)| p.id).next() else {
                return Ok(None);
            };
            let mut payment = None;
            let mut order_rows = Vec::new();
            for (p, o, item) in rows.into_iter().filter(|(p, _, _)| p.id == newest) {
                payment.get_or_insert(p);
                order_rows.push((o, item));
            }
            let order = assemble(order_rows)?.pop();
            match (payment, order) {
                (Some(payment), Some(order)) => Ok(Some(EventSubject {
                    payment: Payment::try_from(payment)?,
                    order,
                    applied_before: seen,
                })),
                _ => Ok(None),
            }
        })
        .await
    }

    async fn latest_for_order(&self, order: OrderId) -> Result<Option<Payment>, StoreError> {
        find_one(self, latest_of(order.as_uuid())).await
    }

    async fn stuck(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Payment>, StoreError> {
        self.with_conn(async |conn| {
            let stuck = diesel::alias!(payments as stuck);
            let batch = stuck
                .filter(
                    stuck
                        .field(payments::status)
                        .eq(PaymentStatus::Open.as_str())
                        .and(stuck.field(payments::session_expires_at).lt(now))
                        .or(stuck
                            .field(payments::status)
                            .eq_any(PaymentStatus::names(PaymentStatus::is_stuck_when_stale))
                            .and(stuck.field(payments::updated_at).lt(stale_before))),
                )
                .order((
                    stuck.field(payments::checked_at).asc().nulls_first(),
                    stuck.field(payments::created_at).asc(),
                    stuck.field(payments::id).asc(),
                ))
                .limit(limit)
                .select(stuck.field(payments::id));
            // One statement: the batch is chosen and marked together.
            diesel::update(payments::table.filter(payments::id.eq_any(batch)))
                .set(payments::checked_at.eq(now))
                .returning(PaymentRow::as_returning())
                .get_results(conn)
                .await
                .map_err(store_error)?
                .into_iter()
                .map(Payment::try_from)
                .collect::<Result<Vec<_>, _>>()
                // RETURNING keeps no order: oldest first, as the port promises.
                .map(|mut batch| {
                    batch.sort_by_key(|p| (p.created_at(), p.id()));
                    batch
                })
        })
        .await
    }

    /// One statement (see `CommitStatement`): one round trip, atomic without BEGIN/COMMIT.
    async fn commit(&self, commit: &EventCommit) -> Result<(), StoreError> {
        let statement = CommitStatement::of(commit);
        self.with_conn(async |conn| statement.get_result(conn).await.map_err(store_error))
            .await
            .map(|made| self.outbox_written(made))
    }

    async fn record_once(&self, event: &OrderEvent) -> Result<bool, StoreError> {
        let row = EventRow::from(event);
        self.with_conn(async |conn| row.insert_once(conn).await.map_err(store_error))
            .await
            .map(|(written, made)| {
                self.outbox_written(made);
                written
            })
    }
}

/// This module's hand-built statement, for [`crate::statements`]: an event's commit, with a
/// payment, an order and history rows.
#[cfg(test)]
pub(crate) async fn plan_statements(planned: &mut crate::statements::Planned<'_>) {
    use orderpay_domain::contract::{at, customer, order};
    use orderpay_domain::order::{OrderEvent, OrderEventType};

    let o = order(customer(1, 0).id, "PLAN-0002", 0);
    let payment = Payment::start(&o, PaymentProvider::Stripe, at(0));
    let commit = EventCommit {
        event_id: Some("evt_plan".into()),
        events: vec![
            OrderEvent::new(o.id(), OrderEventType::Paid, at(1)).for_payment(payment.id()),
        ],
        payment: Some(payment),
        order: Some(o),
    };
    planned
        .plan("CommitStatement", &CommitStatement::of(&commit))
        .await;
}

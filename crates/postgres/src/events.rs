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
        }
    }
}

impl EventRow {
    pub(crate) async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<usize> {
        diesel::insert_into(order_events::table)
            .values(self)
            .execute(conn)
            .await
    }

    pub(crate) fn created_at(&self) -> DateTime<Utc> {
        self.created_at
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
            created_at: self.created_at,
        })
    }
}

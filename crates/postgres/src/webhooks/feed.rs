//! Events as read by the API (`GET /v1/events`, `GET /v1/events/{id}`): each history row laid
//! over its order's row and its latest payment's, with the order's items, in one prepared
//! statement of typed columns.
//!
//! The rule (migration `snapshots_in_history`): an event's `order_state` and `payment_state`
//! are what changed as it left them, laid over the rows as they are now; `order.created` has
//! none, and is the order's row with what changes since creation reset. The sender's claim
//! reads its events with the same columns (`sending.rs`). Built as JSON per event by a SQL
//! function (`orderpay_event_snapshot`, dropped by migration `events_read_as_columns`), the
//! feed's newest ten cost 7.5 ms of the database's time a page under load (a lookup: 0.05 ms),
//! the page's text (the function's call a literal) was prepared again for every page, and a
//! claim of 8 deliveries spent half its 7.5 ms in it (bench/README.md, "The event feed").

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use diesel::expression::Expression;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Int2, Int4, Int8, Nullable, Text, Timestamptz};
use diesel::{QueryResult, Selectable};
use uuid::Uuid;

use orderpay_domain::order::{OrderEventType, OrderStatus};
use orderpay_domain::store::StoreError;
use orderpay_domain::webhook::Event;

use super::rows::event_of_rows;
use crate::orders::{ItemColumns, OrderRow, item_rows};
use crate::payments::PaymentRow;

/// Which events a [`EventsQuery`] reads; each shape is a statement text of its own, prepared
/// once per connection.
pub(super) mod shape {
    /// The event whose id is the key.
    pub const ONE: u8 = 0;
    /// The newest before the key.
    pub const PAGE: u8 = 1;
    /// The newest before the key of one type but `order.created` (the
    /// `order_events_by_type` index's predicate).
    pub const OF_TYPE: u8 = 2;
    /// The newest `order.created` before the key.
    pub const CREATED: u8 = 3;
}

/// Published events by `SHAPE`, newest first.
pub(super) struct EventsQuery<'a, const SHAPE: u8> {
    /// The event's id ([`shape::ONE`]), or the page's cursor: events older than it.
    pub key: Uuid,
    /// The type ([`shape::OF_TYPE`]).
    pub kind: &'a str,
    pub limit: i64,
}

/// The cursor of a first page: after every UUID.
pub(super) const NEWEST: Uuid = Uuid::max();

/// An event's columns (a [`FeedRow`]), read from `e` (its history row: `id`, `type`,
/// `created_at`, `order_id`, `order_state`, `payment_state`) with [`EVENT_JOINS`].
pub(super) static EVENT_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    let created = OrderStatus::PendingPayment.as_str();
    format!(
        "e.id, e.type, e.created_at, \
         o.id, o.reference, o.customer_id, o.currency, o.total_amount, \
         coalesce((e.order_state).status, '{created}'), o.metadata, o.created_at, \
         coalesce((e.order_state).updated_at, o.created_at), o.pay_token, \
         coalesce((e.order_state).flags, '{{}}'), coalesce((e.order_state).amount_refunded, 0), \
         coalesce((e.order_state).version, 0), \
         p.id, p.order_id, p.provider, (e.payment_state).status, p.amount, p.currency, \
         p.session_id, p.session_url, (e.payment_state).session_expires_at, \
         (e.payment_state).provider_payment_id, (e.payment_state).amount_received, \
         (e.payment_state).amount_refunded, (e.payment_state).version, p.created_at, \
         (e.payment_state).updated_at, \
         i.positions, i.names, i.quantities, i.unit_amounts, i.amounts"
    )
});

/// The history row's columns [`EVENT_COLUMNS`] needs from `order_events e`.
pub(super) const EVENT_ROW: &str =
    "e.id, e.type, e.created_at, e.order_id, e.order_state, e.payment_state";

/// What [`EVENT_COLUMNS`] reads beside the history row `e`: its order, its latest payment as
/// the event left it, and the order's items.
pub(super) const EVENT_JOINS: &str = "JOIN orders o ON o.id = e.order_id \
     LEFT JOIN payments p ON p.id = (e.payment_state).id \
     CROSS JOIN LATERAL (SELECT \
     coalesce(array_agg(i.position ORDER BY i.position), '{}') AS positions, \
     coalesce(array_agg(i.name ORDER BY i.position), '{}') AS names, \
     coalesce(array_agg(i.quantity ORDER BY i.position), '{}') AS quantities, \
     coalesce(array_agg(i.unit_amount ORDER BY i.position), '{}') AS unit_amounts, \
     coalesce(array_agg(i.amount ORDER BY i.position), '{}') AS amounts \
     FROM order_items i WHERE i.order_id = o.id) i";

impl<const SHAPE: u8> QueryId for EventsQuery<'_, SHAPE> {
    type QueryId = EventsQuery<'static, SHAPE>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

pub(super) type SqlOf<T> = <<T as Selectable<Pg>>::SelectExpression as Expression>::SqlType;

/// The SQL types of [`EVENT_COLUMNS`].
pub(super) type EventSql = (
    diesel::sql_types::Uuid,
    Text,
    Timestamptz,
    SqlOf<OrderRow>,
    Nullable<SqlOf<PaymentRow>>,
    (
        Array<Int2>,
        Array<Text>,
        Array<Int4>,
        Array<Int8>,
        Array<Int8>,
    ),
);

impl<const SHAPE: u8> Query for EventsQuery<'_, SHAPE> {
    type SqlType = EventSql;
}

impl<const SHAPE: u8> QueryFragment<Pg> for EventsQuery<'_, SHAPE> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT ");
        out.push_sql(&EVENT_COLUMNS);
        out.push_sql(" FROM (SELECT ");
        out.push_sql(EVENT_ROW);
        out.push_sql(" FROM order_events e WHERE e.published AND e.id ");
        out.push_sql(if SHAPE == shape::ONE { "= " } else { "< " });
        out.push_bind_param::<diesel::sql_types::Uuid, _>(&self.key)?;
        match SHAPE {
            shape::OF_TYPE => {
                out.push_sql(" AND e.type = ");
                out.push_bind_param::<Text, _>(&self.kind)?;
                out.push_sql(" AND e.type <> '");
                out.push_sql(OrderEventType::Created.as_str());
                out.push_sql("'");
            }
            shape::CREATED => {
                out.push_sql(" AND e.type = '");
                out.push_sql(OrderEventType::Created.as_str());
                out.push_sql("'");
            }
            _ => {}
        }
        if SHAPE != shape::ONE {
            out.push_sql(" ORDER BY e.id DESC LIMIT ");
            out.push_bind_param::<BigInt, _>(&self.limit)?;
        }
        out.push_sql(") e ");
        out.push_sql(EVENT_JOINS);
        out.push_sql(" ORDER BY e.id DESC");
        Ok(())
    }
}

/// A row of [`EVENT_COLUMNS`].
pub(super) type FeedRow = (
    Uuid,
    String,
    DateTime<Utc>,
    OrderRow,
    Option<PaymentRow>,
    ItemColumns,
);

pub(super) fn event_of_feed_row(
    (id, kind, created_at, order, payment, items): FeedRow,
) -> Result<Event, StoreError> {
    let items = item_rows(order.id(), items)?;
    event_of_rows(id, &kind, created_at, order, items, payment)
}

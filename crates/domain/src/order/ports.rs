use async_trait::async_trait;

use super::{Order, OrderEvent, OrderFilter, OrderId, OrderReference, OrderStatus, PayToken};
use crate::customer::{Customer, CustomerId};
use crate::idempotency::{Claim, KeyedAnswer};
use crate::pagination::{Page, PageRequest};
use crate::payment::Payment;
use crate::store::StoreError;

/// What inserting an order did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// Stored, for this customer.
    Stored(CustomerId),
    /// The idempotency key given was taken: nothing was stored; this is what it holds.
    KeyTaken(Claim),
}

/// Where orders and their line items are kept.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait OrderRepository: Send + Sync + 'static {
    /// Stores a new order with its line items and the history entry `created`. With `answer`,
    /// claims its idempotency key in the same atomic write and stores the answer with the
    /// order; when the key is taken (not expired), stores nothing and returns what the key
    /// holds (`Inserted::KeyTaken`). Atomic: all of it or nothing.
    ///
    /// # Errors
    /// `Duplicate(OrderReference)` when the reference is taken; `MissingReference` when the
    /// customer does not exist.
    async fn insert<'a>(
        &self,
        order: &Order,
        created: &OrderEvent,
        answer: Option<&'a KeyedAnswer>,
    ) -> Result<Inserted, StoreError>;

    /// Stores `customer` unless one with its phone exists, and `order` (with its items and
    /// `created`) for whichever customer that is, atomically: all of it or nothing. Of
    /// concurrent calls for one new phone, one stores its customer and every order goes to
    /// that customer, whose id `Inserted::Stored` returns. `answer` as for `insert`; in its
    /// body, `customer`'s id stands for the customer's, and is replaced by the id of the
    /// customer the order was stored for. When the key is taken, no customer is made either.
    ///
    /// # Errors
    /// As `insert`; nothing is stored then, not even the customer.
    async fn insert_with_customer<'a>(
        &self,
        customer: &Customer,
        order: &Order,
        created: &OrderEvent,
        answer: Option<&'a KeyedAnswer>,
    ) -> Result<Inserted, StoreError>;

    /// The order whose pay link carries `token`.
    ///
    /// # Errors
    /// `Unexpected` when the store fails.
    async fn find_by_pay_token(&self, token: &PayToken) -> Result<Option<Order>, StoreError>;

    /// # Errors
    /// `Unexpected` when the store fails.
    async fn find_by_id(&self, id: OrderId) -> Result<Option<Order>, StoreError>;

    /// At most two queries: the order, then its items.
    ///
    /// # Errors
    /// `Unexpected` when the store fails.
    async fn find_by_reference(
        &self,
        reference: &OrderReference,
    ) -> Result<Option<Order>, StoreError>;

    /// Orders matching `filter`, newest first.
    ///
    /// # Errors
    /// `MissingReference` when `page.starting_after` names no order.
    async fn list(&self, filter: OrderFilter, page: PageRequest)
    -> Result<Page<Order>, StoreError>;

    /// Writes `order`'s status and `updated_at`, and the history entry `event`, if its stored
    /// status is still `expected`. Atomic.
    ///
    /// # Errors
    /// `Conflict` when the stored status is no longer `expected`; `MissingReference` when there
    /// is no such order.
    async fn update_status(
        &self,
        order: &Order,
        expected: OrderStatus,
        event: &OrderEvent,
    ) -> Result<(), StoreError>;

    /// The order (with its items) and its most recent payment, read together: what showing
    /// an order needs, in one round trip. `None` when there is no such order.
    async fn order_with_latest_payment(
        &self,
        order: OrderId,
    ) -> Result<Option<(Order, Option<Payment>)>, StoreError>;

    /// The order's history, oldest first.
    async fn history(&self, order: OrderId) -> Result<Vec<OrderEvent>, StoreError>;
}

/// Draws order references.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
pub trait ReferenceGenerator: Send + Sync + 'static {
    fn generate(&self) -> OrderReference;
}

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::values::{LineItem, Metadata, PayToken};
use super::{IllegalTransition, NewOrder, OrderFlag, OrderReference, OrderStatus, StatusEvent};
use crate::customer::CustomerId;
use crate::money::{Amount, Currency};

entity_id!(OrderId);

/// Which orders a list returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub customer_id: Option<CustomerId>,
    pub status: Option<OrderStatus>,
}

/// An order's stored fields, for adapters that rebuild an [`Order`].
#[derive(Debug, Clone)]
pub struct OrderParts {
    pub id: OrderId,
    pub reference: OrderReference,
    pub customer_id: CustomerId,
    pub currency: Currency,
    pub items: Vec<LineItem>,
    pub total: Amount,
    pub status: OrderStatus,
    pub metadata: Metadata,
    pub pay_token: PayToken,
    pub flags: BTreeSet<OrderFlag>,
    pub amount_refunded: Amount,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    // Read through methods: the items, their currency and their total are priced together
    // when the order is created and never change apart; the status, flags and refunds change
    // only through the transitions below. A store rebuilds a stored order with `restore`.
    pub(crate) id: OrderId,
    pub(crate) reference: OrderReference,
    pub(crate) customer_id: CustomerId,
    pub(crate) metadata: Metadata,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    currency: Currency,
    items: Vec<LineItem>,
    total: Amount,
    status: OrderStatus,
    pay_token: PayToken,
    flags: BTreeSet<OrderFlag>,
    amount_refunded: Amount,
    /// Bumped by the store on every write of the order's state: a compare-and-set token.
    version: i32,
}

impl Order {
    /// A new order awaiting payment.
    pub fn create(
        new: NewOrder,
        customer_id: CustomerId,
        reference: OrderReference,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: OrderId::generate(),
            reference,
            customer_id,
            currency: new.currency,
            items: new.items,
            total: new.total,
            metadata: new.metadata,
            created_at: now,
            updated_at: now,
            status: OrderStatus::PendingPayment,
            pay_token: PayToken::random(&mut rand::rng()),
            flags: BTreeSet::new(),
            amount_refunded: Amount::ZERO,
            version: 0,
        }
    }

    pub fn restore(parts: OrderParts) -> Self {
        Self {
            id: parts.id,
            reference: parts.reference,
            customer_id: parts.customer_id,
            currency: parts.currency,
            items: parts.items,
            total: parts.total,
            metadata: parts.metadata,
            created_at: parts.created_at,
            updated_at: parts.updated_at,
            status: parts.status,
            pay_token: parts.pay_token,
            flags: parts.flags,
            amount_refunded: parts.amount_refunded,
            version: parts.version,
        }
    }

    /// The stored fields, for adapters that keep an order as parts.
    pub fn to_parts(&self) -> OrderParts {
        OrderParts {
            id: self.id,
            reference: self.reference,
            customer_id: self.customer_id,
            currency: self.currency,
            items: self.items.clone(),
            total: self.total,
            status: self.status,
            metadata: self.metadata.clone(),
            pay_token: self.pay_token.clone(),
            flags: self.flags.clone(),
            amount_refunded: self.amount_refunded,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    pub fn id(&self) -> OrderId {
        self.id
    }

    /// The short reference a customer can read aloud.
    pub fn reference(&self) -> OrderReference {
        self.reference
    }

    pub fn customer_id(&self) -> CustomerId {
        self.customer_id
    }

    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// The same order as the store holds it after writing it once more: its version bumped.
    #[must_use]
    pub fn next_version(&self) -> Self {
        Self {
            version: self.version + 1,
            ..self.clone()
        }
    }

    pub fn pay_token(&self) -> &PayToken {
        &self.pay_token
    }

    pub fn flags(&self) -> &BTreeSet<OrderFlag> {
        &self.flags
    }

    /// How much of the payment has been refunded, in all.
    pub fn amount_refunded(&self) -> Amount {
        self.amount_refunded
    }

    pub fn version(&self) -> i32 {
        self.version
    }

    /// Removes `flag`, a person having dealt with it; returns whether it was set.
    pub fn clear_flag(&mut self, flag: OrderFlag, now: DateTime<Utc>) -> bool {
        let removed = self.flags.remove(&flag);
        if removed {
            self.updated_at = now;
        }
        removed
    }

    /// Adds `flag`; returns whether it is new.
    pub fn flag(&mut self, flag: OrderFlag, now: DateTime<Utc>) -> bool {
        let added = self.flags.insert(flag);
        if added {
            self.updated_at = now;
        }
        added
    }

    /// Records that `refunded` of the payment has been refunded in all, moving the order to
    /// `partially_refunded` or `refunded`.
    ///
    /// # Errors
    /// `IllegalTransition` when the order is not paid (or partially refunded).
    pub fn record_refund(
        &mut self,
        refunded: Amount,
        paid: Amount,
        now: DateTime<Utc>,
    ) -> Result<(), IllegalTransition> {
        let event = if refunded >= paid {
            StatusEvent::FullRefund
        } else {
            StatusEvent::PartialRefund
        };
        self.transition(event, now)?;
        self.amount_refunded = refunded;
        Ok(())
    }

    pub fn status(&self) -> OrderStatus {
        self.status
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn items(&self) -> &[LineItem] {
        &self.items
    }

    /// The sum of the items' amounts, computed with checked arithmetic when the order was made.
    pub fn total(&self) -> Amount {
        self.total
    }

    /// Moves the order through the status machine.
    ///
    /// # Errors
    /// `IllegalTransition` when `event` cannot happen in the current status; nothing changes.
    pub fn transition(
        &mut self,
        event: StatusEvent,
        now: DateTime<Utc>,
    ) -> Result<(), IllegalTransition> {
        self.status = self.status.apply(event)?;
        self.updated_at = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::CustomerId;
    use crate::order::Quantity;
    use crate::order::{OrderCustomer, order_of};
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use uuid::Uuid;

    fn tea() -> NewOrder {
        order_of(
            OrderCustomer::Id(CustomerId::from_uuid(Uuid::now_v7())),
            "usd",
            &[("Tea", 1, 1)],
            Default::default(),
        )
        .unwrap()
    }

    #[test]
    fn metadata_bounds() {
        let many: BTreeMap<String, String> =
            (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(Metadata::parse(many).is_err());
        let long_value = BTreeMap::from([("k".to_string(), "v".repeat(501))]);
        assert!(Metadata::parse(long_value).is_err());
        let nul = BTreeMap::from([("k".to_string(), "a\0b".to_string())]);
        assert!(Metadata::parse(nul).is_err());
        let ok = BTreeMap::from([("chat_id".to_string(), "42".to_string())]);
        assert_eq!(Metadata::parse(ok.clone()).unwrap().as_map(), &ok);
    }

    #[test]
    fn only_pending_orders_can_be_cancelled() {
        let new = tea();
        let now = Utc::now();
        let reference = OrderReference::parse("AAAA-BBBB").unwrap();
        let mut order = Order::create(new, CustomerId::generate(), reference, now);
        assert_eq!(order.status(), OrderStatus::PendingPayment);
        order.transition(StatusEvent::Cancel, now).unwrap();
        assert_eq!(order.status(), OrderStatus::Cancelled);
        let err = order.transition(StatusEvent::Cancel, now).unwrap_err();
        assert_eq!(err.from, OrderStatus::Cancelled);
        assert_eq!(order.status(), OrderStatus::Cancelled);
    }

    proptest! {
        #[test]
        fn quantity_accepts_exactly_its_range(q in any::<i64>()) {
            prop_assert_eq!(Quantity::parse(q).is_ok(), (1..=999_999).contains(&q));
        }
    }
}

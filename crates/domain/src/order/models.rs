use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{IllegalTransition, NewOrder, OrderReference, OrderStatus, StatusEvent};
use crate::customer::CustomerId;
use crate::money::{Amount, Currency};
use crate::validation::{Violations, bounded_text};

entity_id!(OrderId);

/// How many of an item: 1 to 999,999.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(u32);

impl Quantity {
    pub const MAX: u32 = 999_999;

    pub fn parse(value: i64) -> Result<Self, String> {
        if (1..=i64::from(Self::MAX)).contains(&value) {
            Ok(Self(value as u32))
        } else {
            Err(format!("must be between 1 and {}", Self::MAX))
        }
    }

    /// A quantity read back from the store: positive is all the schema guarantees, and all
    /// that is checked, so lowering `MAX` later keeps old orders readable.
    pub fn from_stored(stored: i32) -> Result<Self, String> {
        u32::try_from(stored)
            .ok()
            .filter(|q| *q > 0)
            .map(Self)
            .ok_or_else(|| format!("stored quantity {stored} is not positive"))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// What a line item is called on the order and the payment page: 1 to 250 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemName(String);

impl ItemName {
    pub fn parse(input: &str) -> Result<Self, String> {
        bounded_text(input, 250).map(Self)
    }

    /// A name read back from the store, trusted as stored.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    pub name: ItemName,
    pub quantity: Quantity,
    pub unit_amount: Amount,
    /// `quantity * unit_amount`, computed here, never sent by a client.
    pub amount: Amount,
}

impl LineItem {
    /// # Errors
    /// When `quantity * unit_amount` overflows.
    pub fn new(name: ItemName, quantity: Quantity, unit_amount: Amount) -> Result<Self, String> {
        let amount = unit_amount
            .checked_mul(quantity.get())
            .map_err(|_| "quantity times unit_amount overflows".to_string())?;
        Ok(Self {
            name,
            quantity,
            unit_amount,
            amount,
        })
    }

    /// A line item read back from the store, with the amount computed when it was created.
    pub fn restore(
        name: ItemName,
        quantity: Quantity,
        unit_amount: Amount,
        amount: Amount,
    ) -> Self {
        Self {
            name,
            quantity,
            unit_amount,
            amount,
        }
    }
}

/// Free-form key-value pairs a client attaches (a chat id, a cart id), with Stripe's bounds:
/// up to 50 keys of up to 40 characters, values of up to 500.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    pub const MAX_KEYS: usize = 50;
    pub const MAX_KEY_CHARS: usize = 40;
    pub const MAX_VALUE_CHARS: usize = 500;

    /// Checks every pair, reporting each bad one at `metadata.<key>`.
    pub fn parse(pairs: BTreeMap<String, String>) -> Result<Self, Violations> {
        let mut v = Violations::new();
        if pairs.len() > Self::MAX_KEYS {
            v.add(
                "metadata",
                format!("must have at most {} keys", Self::MAX_KEYS),
            );
        }
        for (key, value) in &pairs {
            let field = format!("metadata.{key}");
            if key.is_empty() || key.chars().count() > Self::MAX_KEY_CHARS {
                v.add(
                    field,
                    format!("keys must be 1 to {} characters", Self::MAX_KEY_CHARS),
                );
            } else if key.contains(['[', ']']) || key.chars().any(char::is_control) {
                v.add(
                    field,
                    "keys must not contain brackets or control characters",
                );
            } else if value.contains('\0') {
                v.add(field, "values must not contain NUL characters");
            } else if value.chars().count() > Self::MAX_VALUE_CHARS {
                v.add(
                    field,
                    format!(
                        "values must be at most {} characters",
                        Self::MAX_VALUE_CHARS
                    ),
                );
            }
        }
        v.finish(|| Self(pairs))
    }

    /// Rebuilds metadata that was checked before it was stored.
    pub fn restore(pairs: BTreeMap<String, String>) -> Self {
        Self(pairs)
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: OrderId,
    pub reference: OrderReference,
    pub customer_id: CustomerId,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    // Private: the items, their currency and their total are priced together when the order
    // is created and never change apart; the status changes only through `transition`.
    currency: Currency,
    items: Vec<LineItem>,
    total: Amount,
    status: OrderStatus,
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
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
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
    use crate::order::{LineItemInput, OrderCustomerInput, OrderInput};
    use proptest::prelude::*;
    use uuid::Uuid;

    fn tea() -> NewOrder {
        OrderInput {
            customer: OrderCustomerInput::Id(Uuid::now_v7()),
            currency: "usd".into(),
            items: vec![LineItemInput {
                name: "Tea".into(),
                quantity: Some(1),
                unit_amount: Some(1),
            }],
            metadata: BTreeMap::new(),
        }
        .parse(None)
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

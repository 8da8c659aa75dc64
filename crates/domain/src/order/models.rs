use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use rand::Rng;

use super::{IllegalTransition, NewOrder, OrderFlag, OrderReference, OrderStatus, StatusEvent};
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

/// The secret in an order's pay link (`/pay/{token}`): 160 bits from a CSPRNG, unrelated to
/// the reference, so a link cannot be guessed from anything a customer can see.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PayToken(String);

impl PayToken {
    const BYTES: usize = 20;

    /// A token drawn from `rng`; pass a cryptographically secure one.
    pub fn random<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; Self::BYTES];
        rng.fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    /// A token as a link carries it: 40 lower-case hex digits, or nothing.
    pub fn parse(input: &str) -> Option<Self> {
        (input.len() == Self::BYTES * 2
            && input
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Self(input.to_owned()))
    }

    /// A token read back from the store, trusted as stored.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A bearer secret: `Debug` shows its first characters only.
impl fmt::Debug for PayToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PayToken({}…)", self.0.get(..4).unwrap_or_default())
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
    pub pay_token: PayToken,
    pub flags: BTreeSet<OrderFlag>,
    pub amount_refunded: Amount,
    pub version: i32,
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
    use crate::order::{OrderCustomer, order_of};
    use proptest::prelude::*;
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

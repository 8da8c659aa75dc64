//! An order's value objects: quantities, item names, line items, metadata and the pay
//! link's token.

use std::collections::BTreeMap;
use std::fmt;

use rand::Rng;

use crate::money::Amount;
use crate::validation::{Violations, bounded_text};

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

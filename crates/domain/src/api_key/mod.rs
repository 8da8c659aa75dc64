//! API keys: created by an operator, shown once, stored only as a hash, revocable.
//!
//! A key reads `opk_<prefix>_<secret>`. The prefix finds the stored key by index; the SHA-256
//! of the whole key is then compared in constant time. The keys are 240-bit random, so a fast
//! hash is the right one (a slow password hash buys nothing against brute force here).

mod service;

use std::collections::BTreeSet;
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::StoreError;
use crate::validation::bounded_text;

pub use service::{ApiKeyError, ApiKeyService, CreatedApiKey};

const PREFIX_LEN: usize = 12;
const SECRET_LEN: usize = 40;
const TOKEN_TAG: &str = "opk_";
const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

entity_id!(ApiKeyId);

/// The SHA-256 of a whole key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        bytes
            .try_into()
            .map(Self)
            .map_err(|_| format!("a key hash has 32 bytes, not {}", bytes.len()))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn matches(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

/// What a restricted key may do, as Stripe's restricted keys have it. A key with no scopes
/// listed (`ApiKey::scopes` is `None`) may do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    CustomersRead,
    CustomersWrite,
    OrdersRead,
    /// Create, cancel.
    OrdersWrite,
    /// Lift an order's double-charge guards (`amount_mismatch`, `needs_refund`, `disputed`):
    /// a money decision, which the ordinary bot key does not need.
    OrdersClearFlags,
    /// Pay links.
    PaymentsWrite,
    RefundsWrite,
    /// The event feed.
    EventsRead,
    /// Webhook endpoints and their deliveries.
    WebhooksRead,
    WebhooksWrite,
}

impl Scope {
    pub const ALL: [Scope; 10] = [
        Self::CustomersRead,
        Self::CustomersWrite,
        Self::OrdersRead,
        Self::OrdersWrite,
        Self::OrdersClearFlags,
        Self::PaymentsWrite,
        Self::RefundsWrite,
        Self::EventsRead,
        Self::WebhooksRead,
        Self::WebhooksWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CustomersRead => "customers:read",
            Self::CustomersWrite => "customers:write",
            Self::OrdersRead => "orders:read",
            Self::OrdersWrite => "orders:write",
            Self::OrdersClearFlags => "orders:clear_flags",
            Self::PaymentsWrite => "payments:write",
            Self::RefundsWrite => "refunds:write",
            Self::EventsRead => "events:read",
            Self::WebhooksRead => "webhooks:read",
            Self::WebhooksWrite => "webhooks:write",
        }
    }

    /// Parses a scope's name.
    ///
    /// # Errors
    /// Names the scopes there are.
    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|s| s.as_str()).collect();
                format!("`{raw}` is not a scope; scopes are {}", names.join(", "))
            })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    /// The public part of the key, shown in listings so an operator can tell keys apart.
    pub prefix: String,
    pub hash: KeyHash,
    /// What the key may do; `None` for a key with full access.
    pub scopes: Option<BTreeSet<Scope>>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    pub fn parse_name(input: &str) -> Result<String, String> {
        bounded_text(input, 100)
    }

    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }

    /// Whether the key may do what `scope` covers.
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.as_ref().is_none_or(|s| s.contains(&scope))
    }
}

fn random_chars(rng: &mut impl Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(ALPHABET[(rng.next_u32() & 31) as usize]))
        .collect()
}

/// Draws a new key: `(prefix, whole token)`.
fn generate_token(rng: &mut impl Rng) -> (String, String) {
    let prefix = random_chars(rng, PREFIX_LEN);
    let secret = random_chars(rng, SECRET_LEN);
    let token = format!("{TOKEN_TAG}{prefix}_{secret}");
    (prefix, token)
}

/// Whether `b` is one of `ALPHABET`'s letters (lower-case ASCII but l and o) or digits
/// (2 to 9): a range check per byte, on every request.
fn in_alphabet(b: u8) -> bool {
    matches!(b, b'a'..=b'z' | b'2'..=b'9') && b != b'l' && b != b'o'
}

/// The prefix of a well-formed token, or `None`.
fn prefix_of(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(TOKEN_TAG)?;
    let (prefix, secret) = rest.split_once('_')?;
    let well_formed = prefix.len() == PREFIX_LEN
        && secret.len() == SECRET_LEN
        && rest.bytes().all(|b| b == b'_' || in_alphabet(b));
    well_formed.then_some(prefix)
}

/// Where API keys are kept.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait ApiKeyRepository: Send + Sync + 'static {
    /// # Errors
    /// `Duplicate(ApiKeyPrefix)` when the prefix is taken.
    async fn insert(&self, key: &ApiKey) -> Result<(), StoreError>;

    /// # Errors
    /// `Unexpected` when the store fails.
    async fn find_by_prefix(&self, prefix: &str) -> Result<Option<ApiKey>, StoreError>;

    /// All keys, oldest first.
    ///
    /// # Errors
    /// `Unexpected` when the store fails.
    async fn list(&self) -> Result<Vec<ApiKey>, StoreError>;

    /// Marks the key revoked at `at`; revoking a revoked key keeps its first revocation time.
    ///
    /// # Errors
    /// `MissingReference` when there is no such key.
    async fn revoke(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_by_name_and_a_key_without_them_may_do_everything() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Ok(scope));
        }
        assert!(
            Scope::parse("orders:delete")
                .unwrap_err()
                .contains("orders:read")
        );
        let mut key = ApiKey {
            id: ApiKeyId::generate(),
            name: "bot".into(),
            prefix: "p".into(),
            hash: KeyHash::of("t"),
            scopes: None,
            created_at: Utc::now(),
            revoked_at: None,
        };
        assert!(Scope::ALL.iter().all(|s| key.allows(*s)));
        key.scopes = Some(BTreeSet::from([Scope::OrdersRead]));
        assert!(key.allows(Scope::OrdersRead));
        assert!(!key.allows(Scope::OrdersWrite));
        assert!(!key.allows(Scope::RefundsWrite));
    }

    #[test]
    fn in_alphabet_is_exactly_the_alphabet() {
        for b in 0..=u8::MAX {
            assert_eq!(in_alphabet(b), ALPHABET.contains(&b), "byte {b}");
        }
    }

    #[test]
    fn generated_tokens_are_well_formed_and_distinct() {
        let mut rng = rand::rng();
        let (prefix, token) = generate_token(&mut rng);
        assert_eq!(prefix_of(&token), Some(prefix.as_str()));
        let (_, other) = generate_token(&mut rng);
        assert_ne!(token, other);
    }

    #[test]
    fn malformed_tokens_have_no_prefix() {
        let (_, token) = generate_token(&mut rand::rng());
        for bad in [
            "",
            "opk_",
            &token[..token.len() - 1],
            &token.replace("opk_", "xyz_"),
            &format!("{token}a"),
            &token.to_uppercase(),
        ] {
            assert_eq!(prefix_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn hashes_match_only_the_same_token() {
        let a = KeyHash::of("opk_a");
        assert!(a.matches(&KeyHash::of("opk_a")));
        assert!(!a.matches(&KeyHash::of("opk_b")));
        assert_eq!(format!("{a:?}"), "KeyHash(..)");
    }
}

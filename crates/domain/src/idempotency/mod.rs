//! Idempotency keys, as Stripe has them: a client's `Idempotency-Key` makes a retried `POST`
//! safe. The first request with a key claims it; its answer is stored, and a retry with the
//! same key and the same request gets that answer again. Keys belong to the API key that
//! sent them, and expire.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::api_key::ApiKeyId;
use crate::store::StoreError;

/// The longest key accepted (Stripe's bound).
pub const MAX_KEY_CHARS: usize = 255;

/// How long a claimed key's first request may run before a retry may take it over (its
/// process died): longer than any request's deadlines.
pub const CLAIM_LEASE: TimeDelta = TimeDelta::seconds(60);

/// A client's idempotency key, scoped to the API key that sent it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    api_key: ApiKeyId,
    key: String,
}

impl IdempotencyKey {
    /// Parses the header's value: 1 to 255 visible ASCII characters (spaces allowed inside).
    ///
    /// # Errors
    /// What is wrong with it, for a 400.
    pub fn parse(api_key: ApiKeyId, raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > MAX_KEY_CHARS {
            return Err(format!("must be 1 to {MAX_KEY_CHARS} characters"));
        }
        if !raw.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err("must be visible ASCII characters".into());
        }
        Ok(Self {
            api_key,
            key: raw.to_owned(),
        })
    }

    pub fn api_key(&self) -> ApiKeyId {
        self.api_key
    }

    pub fn as_str(&self) -> &str {
        &self.key
    }
}

/// An answer as it was first given, to give again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is this request's now: do the work, then store the answer.
    Started,
    /// The same request was answered before: this is its answer.
    Replay(StoredResponse),
    /// The first request with this key is still running.
    InUse,
    /// The key was used for another request.
    Reused,
}

/// The answer of the request that claimed `key`, stored once its work is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub key: IdempotencyKey,
    pub response: StoredResponse,
}

/// A key claimed by the very write that does the work, with the answer that write stores: the
/// work and its answer are written together, or, when the key is taken, neither (an order and
/// the response announcing it: never one without the other, in one statement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedAnswer {
    pub key: IdempotencyKey,
    /// The request's fingerprint (method, path, body).
    pub fingerprint: Vec<u8>,
    pub now: DateTime<Utc>,
    /// A key older than this counts as new.
    pub expired_before: DateTime<Utc>,
    pub response: StoredResponse,
}

impl Claim {
    /// What a key found taken holds for a request with `fingerprint`: its answer, or why not.
    /// `stored` is the key's fingerprint and answer as read; `None` when the claim that took
    /// it is not visible yet (it was committed while this one ran): that request is running.
    pub fn of_taken(stored: Option<(&[u8], Option<StoredResponse>)>, fingerprint: &[u8]) -> Self {
        match stored {
            None => Self::InUse,
            Some((first, _)) if first != fingerprint => Self::Reused,
            Some((_, Some(response))) => Self::Replay(response),
            Some((_, None)) => Self::InUse,
        }
    }
}

/// Where idempotency keys and their answers are kept.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Claims `key` for a request whose fingerprint (method, path, body) is `fingerprint`, at
    /// `now`. A key older than `expired_before` counts as new; one whose request never
    /// answered and whose lease (`CLAIM_LEASE`) ran out is taken over by the same request.
    /// Atomic: of concurrent claims of one key, one is `Started`.
    async fn claim(
        &self,
        key: &IdempotencyKey,
        fingerprint: &[u8],
        now: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> Result<Claim, StoreError>;

    /// Stores the answer of the request that claimed `key`.
    async fn complete(&self, completion: &Completion) -> Result<(), StoreError>;

    /// Forgets an unanswered claim (the request failed in a way a retry should redo).
    async fn release(&self, key: &IdempotencyKey) -> Result<(), StoreError>;

    /// Removes keys created before `before`; returns how many.
    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        let api = ApiKeyId::generate();
        assert!(IdempotencyKey::parse(api, "order-42 retry").is_ok());
        assert!(IdempotencyKey::parse(api, &"k".repeat(255)).is_ok());
        for bad in ["", &"k".repeat(256), "tab\there", "naïve", "line\nbreak"] {
            assert!(IdempotencyKey::parse(api, bad).is_err(), "{bad:?}");
        }
    }
}

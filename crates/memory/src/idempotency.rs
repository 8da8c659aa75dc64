//! Idempotency keys in memory: the same rules as PostgreSQL's, under the store's one lock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use orderpay_domain::idempotency::{
    CLAIM_LEASE, Claim, Completion, IdempotencyKey, IdempotencyStore, KeyedAnswer, StoredResponse,
};
use orderpay_domain::store::StoreError;

use crate::{MemoryStore, Tables};

/// One claimed key.
#[derive(Debug, Clone)]
pub(crate) struct KeyRow {
    fingerprint: Vec<u8>,
    created_at: DateTime<Utc>,
    response: Option<StoredResponse>,
}

/// What `answer`'s key holds when it is taken (not expired); `None` when it is free.
pub(crate) fn taken(t: &Tables, answer: &KeyedAnswer) -> Option<Claim> {
    let row = t.idempotency.get(&answer.key)?;
    (row.created_at >= answer.expired_before).then(|| {
        Claim::of_taken(
            Some((row.fingerprint.as_slice(), row.response.clone())),
            &answer.fingerprint,
        )
    })
}

/// Stores `answer` under its key, with `body` as its answer's body.
pub(crate) fn store_in(t: &mut Tables, answer: &KeyedAnswer, body: String) {
    let mut response = answer.response.clone();
    response.body = body;
    t.idempotency.insert(
        answer.key.clone(),
        KeyRow {
            fingerprint: answer.fingerprint.clone(),
            created_at: answer.now,
            response: Some(response),
        },
    );
}

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn claim(
        &self,
        key: &IdempotencyKey,
        fingerprint: &[u8],
        now: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let mut t = self.lock();
        let fresh = KeyRow {
            fingerprint: fingerprint.to_vec(),
            created_at: now,
            response: None,
        };
        let Some(row) = t.idempotency.get(key) else {
            t.idempotency.insert(key.clone(), fresh);
            return Ok(Claim::Started);
        };
        let same = row.fingerprint == fingerprint;
        let abandoned = row.response.is_none() && row.created_at + CLAIM_LEASE < now;
        if row.created_at < expired_before || (abandoned && same) {
            t.idempotency.insert(key.clone(), fresh);
            return Ok(Claim::Started);
        }
        Ok(Claim::of_taken(
            Some((row.fingerprint.as_slice(), row.response.clone())),
            fingerprint,
        ))
    }

    async fn complete(&self, completion: &Completion) -> Result<(), StoreError> {
        if let Some(row) = self.lock().idempotency.get_mut(&completion.key) {
            row.response = Some(completion.response.clone());
        }
        Ok(())
    }

    async fn release(&self, key: &IdempotencyKey) -> Result<(), StoreError> {
        let mut t = self.lock();
        if t.idempotency
            .get(key)
            .is_some_and(|row| row.response.is_none())
        {
            t.idempotency.remove(key);
        }
        Ok(())
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut t = self.lock();
        let count = t.idempotency.len();
        t.idempotency.retain(|_, row| row.created_at >= before);
        Ok(u64::try_from(count - t.idempotency.len()).unwrap_or(u64::MAX))
    }
}

//! Idempotency keys in memory: the same rules as PostgreSQL's, under the store's one lock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use orderpay_domain::idempotency::{
    CLAIM_LEASE, Claim, Completion, IdempotencyKey, IdempotencyStore, StoredResponse,
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

/// Writes `completion`'s answer to its key, when the key is still claimed.
pub(crate) fn complete_in(t: &mut Tables, completion: &Completion) {
    if let Some(row) = t.idempotency.get_mut(&completion.key) {
        row.response = Some(completion.response.clone());
    }
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
        Ok(match &row.response {
            _ if row.created_at < expired_before || (abandoned && same) => {
                t.idempotency.insert(key.clone(), fresh);
                Claim::Started
            }
            _ if !same => Claim::Reused,
            Some(response) => Claim::Replay(response.clone()),
            None => Claim::InUse,
        })
    }

    async fn complete(&self, completion: &Completion) -> Result<(), StoreError> {
        complete_in(&mut self.lock(), completion);
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

//! The `IdempotencyStore` contract, and the answer stored with an order.

use std::sync::Arc;

use chrono::TimeDelta;

use super::{Store, at, created, customer, order};
use crate::api_key::ApiKeyId;
use crate::idempotency::{
    CLAIM_LEASE, Claim, Completion, IdempotencyKey, KeyedAnswer, StoredResponse,
};
use crate::order::Inserted;

super::cases![
    a_key_is_claimed_once_then_in_use_or_reused,
    an_answered_key_replays_its_answer_to_the_same_request_only,
    a_released_expired_or_abandoned_key_can_be_claimed_again,
    keys_belong_to_their_api_key_and_expire_by_purge,
    concurrent_claims_of_one_key_start_one,
    an_order_claims_its_key_and_stores_its_answer,
];

pub fn key(api: ApiKeyId, raw: &str) -> IdempotencyKey {
    IdempotencyKey::parse(api, raw).unwrap()
}

fn answer(body: &str) -> StoredResponse {
    StoredResponse {
        status: 201,
        content_type: "application/json".into(),
        body: body.into(),
    }
}

/// Claims at `at(seconds)`, keys older than a day counting as new.
async fn claim(store: &dyn Store, k: &IdempotencyKey, fingerprint: &[u8], seconds: i64) -> Claim {
    store
        .idempotency()
        .claim(
            k,
            fingerprint,
            at(seconds),
            at(seconds) - TimeDelta::hours(24),
        )
        .await
        .unwrap()
}

async fn a_key_is_claimed_once_then_in_use_or_reused(store: &dyn Store) {
    let k = key(ApiKeyId::generate(), "retry-1");
    assert_eq!(claim(store, &k, b"A", 0).await, Claim::Started);
    assert_eq!(claim(store, &k, b"A", 1).await, Claim::InUse);
    assert_eq!(claim(store, &k, b"B", 1).await, Claim::Reused);
}

async fn an_answered_key_replays_its_answer_to_the_same_request_only(store: &dyn Store) {
    let k = key(ApiKeyId::generate(), "retry-2");
    assert_eq!(claim(store, &k, b"A", 0).await, Claim::Started);
    let response = answer(r#"{"id":"x"}"#);
    store
        .idempotency()
        .complete(&Completion {
            key: k.clone(),
            response: response.clone(),
        })
        .await
        .unwrap();
    assert_eq!(claim(store, &k, b"A", 5).await, Claim::Replay(response));
    assert_eq!(claim(store, &k, b"B", 5).await, Claim::Reused);
}

async fn a_released_expired_or_abandoned_key_can_be_claimed_again(store: &dyn Store) {
    let api = ApiKeyId::generate();
    let released = key(api, "released");
    assert_eq!(claim(store, &released, b"A", 0).await, Claim::Started);
    store.idempotency().release(&released).await.unwrap();
    assert_eq!(claim(store, &released, b"B", 1).await, Claim::Started);

    // Never answered, its lease run out (the process died): the same request takes it over.
    let abandoned = key(api, "abandoned");
    assert_eq!(claim(store, &abandoned, b"A", 0).await, Claim::Started);
    let later = CLAIM_LEASE.num_seconds() + 1;
    assert_eq!(claim(store, &abandoned, b"B", later).await, Claim::Reused);
    assert_eq!(claim(store, &abandoned, b"A", later).await, Claim::Started);

    // Older than the expiry: a new key, whatever it was used for.
    let expired = key(api, "expired");
    assert_eq!(claim(store, &expired, b"A", 0).await, Claim::Started);
    store
        .idempotency()
        .complete(&Completion {
            key: expired.clone(),
            response: answer("{}"),
        })
        .await
        .unwrap();
    let next_day = 24 * 3600 + 1;
    assert_eq!(claim(store, &expired, b"B", next_day).await, Claim::Started);
}

async fn keys_belong_to_their_api_key_and_expire_by_purge(store: &dyn Store) {
    let (one, other) = (ApiKeyId::generate(), ApiKeyId::generate());
    assert_eq!(
        claim(store, &key(one, "same"), b"A", 0).await,
        Claim::Started
    );
    assert_eq!(
        claim(store, &key(other, "same"), b"B", 0).await,
        Claim::Started
    );
    let purged = store.idempotency().purge(at(1)).await.unwrap();
    assert!(purged >= 2, "{purged}");
    assert_eq!(
        claim(store, &key(one, "same"), b"C", 2).await,
        Claim::Started
    );
}

async fn concurrent_claims_of_one_key_start_one(store: &dyn Store) {
    let k = key(ApiKeyId::generate(), "burst");
    let repo = store.idempotency();
    let claims = futures_util::future::join_all((0..20).map(|_| {
        let repo = Arc::clone(&repo);
        let k = k.clone();
        async move {
            repo.claim(&k, b"A", at(0), at(0) - TimeDelta::hours(24))
                .await
                .unwrap()
        }
    }))
    .await;
    let started = claims.iter().filter(|c| **c == Claim::Started).count();
    assert_eq!(started, 1, "{claims:?}");
    assert!(
        claims
            .iter()
            .all(|c| matches!(c, Claim::Started | Claim::InUse))
    );
}

/// The answer to store with an order under `k`, claimed at `at(seconds)`.
pub fn keyed(k: &IdempotencyKey, fingerprint: &[u8], seconds: i64, body: &str) -> KeyedAnswer {
    KeyedAnswer {
        key: k.clone(),
        fingerprint: fingerprint.to_vec(),
        now: at(seconds),
        expired_before: at(seconds) - TimeDelta::hours(24),
        response: answer(body),
    }
}

/// The order claims its key and stores its answer in one write; a taken key stores nothing
/// and says what it holds; with a phone's customer found, the answer names that customer.
async fn an_order_claims_its_key_and_stores_its_answer(store: &dyn Store) {
    let api = ApiKeyId::generate();
    let c = customer(71, 0);
    store.customers().insert_or_get(&c).await.unwrap();
    let o = order(c.id, "IDEM-0001", 1);
    let k = key(api, "order-1");
    let first = keyed(&k, b"A", 1, &format!(r#"{{"id":"{}"}}"#, o.id()));
    let stored = store
        .orders()
        .insert(&o, &created(&o), Some(&first))
        .await
        .unwrap();
    assert_eq!(stored, Inserted::Stored(c.id));
    assert_eq!(
        claim(store, &k, b"A", 2).await,
        Claim::Replay(first.response.clone())
    );

    // The same key again, as the retry of this request and as another request: nothing new.
    let again = order(c.id, "IDEM-0002", 3);
    let retry = store
        .orders()
        .insert(&again, &created(&again), Some(&keyed(&k, b"A", 3, "{}")))
        .await
        .unwrap();
    assert_eq!(
        retry,
        Inserted::KeyTaken(Claim::Replay(first.response.clone()))
    );
    let other = store
        .orders()
        .insert(&again, &created(&again), Some(&keyed(&k, b"B", 3, "{}")))
        .await
        .unwrap();
    assert_eq!(other, Inserted::KeyTaken(Claim::Reused));
    assert_eq!(store.orders().find_by_id(again.id()).await.unwrap(), None);

    // By phone, for a customer who exists: the provisional id in the answer becomes theirs.
    let twin = customer(71, 5);
    let o2 = order(twin.id, "IDEM-0003", 6);
    let k2 = key(api, "order-2");
    let provisional = keyed(&k2, b"A", 6, &format!(r#"{{"customer_id":"{}"}}"#, twin.id));
    let used = store
        .orders()
        .insert_with_customer(&twin, &o2, &created(&o2), Some(&provisional))
        .await
        .unwrap();
    assert_eq!(used, Inserted::Stored(c.id));
    assert_eq!(
        claim(store, &k2, b"A", 7).await,
        Claim::Replay(answer(&format!(r#"{{"customer_id":"{}"}}"#, c.id)))
    );

    // A taken key makes no customer either.
    let stranger = customer(72, 8);
    let o3 = order(stranger.id, "IDEM-0004", 8);
    let taken = store
        .orders()
        .insert_with_customer(
            &stranger,
            &o3,
            &created(&o3),
            Some(&keyed(&k2, b"C", 8, "{}")),
        )
        .await
        .unwrap();
    assert_eq!(taken, Inserted::KeyTaken(Claim::Reused));
    assert_eq!(
        store.customers().find_by_id(stranger.id).await.unwrap(),
        None
    );
    assert_eq!(store.orders().find_by_id(o3.id()).await.unwrap(), None);
}

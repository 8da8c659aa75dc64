//! What every `ApiKeyRepository` promises.

use super::{Store, at};
use std::collections::BTreeSet;

use crate::api_key::{ApiKey, ApiKeyId, KeyHash, Scope};
use crate::store::{StoreError, UniqueKey};

super::cases![
    inserted_key_is_found_by_prefix,
    a_taken_prefix_is_duplicate,
    revoke_keeps_the_first_time_and_knows_missing_keys,
    every_scope_is_stored_and_read_back,
];

fn key(prefix: &str, seconds: i64) -> ApiKey {
    ApiKey {
        id: ApiKeyId::generate(),
        name: format!("key {prefix}"),
        prefix: prefix.to_string(),
        hash: KeyHash::from_bytes(&[seconds as u8; 32]).unwrap(),
        // Every other key is restricted: scopes are stored and read back as given.
        scopes: (seconds % 2 == 0)
            .then(|| BTreeSet::from([Scope::OrdersRead, Scope::RefundsWrite])),
        created_at: at(seconds),
        revoked_at: None,
    }
}

async fn inserted_key_is_found_by_prefix(store: &dyn Store) {
    let repo = store.api_keys();
    let (a, b) = (key("aaaaaaaaaaaa", 1), key("bbbbbbbbbbbb", 2));
    repo.insert(&a).await.unwrap();
    repo.insert(&b).await.unwrap();
    assert_eq!(
        repo.find_by_prefix("aaaaaaaaaaaa").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(repo.find_by_prefix("cccccccccccc").await.unwrap(), None);
    assert_eq!(repo.list().await.unwrap(), vec![a, b]);
}

async fn every_scope_is_stored_and_read_back(store: &dyn Store) {
    let repo = store.api_keys();
    for (i, scope) in Scope::ALL.into_iter().enumerate() {
        let mut k = key(&format!("{i:0>12}"), 1);
        k.scopes = Some(BTreeSet::from([scope]));
        repo.insert(&k)
            .await
            .unwrap_or_else(|e| panic!("{scope}: {e:?}"));
        assert_eq!(repo.find_by_prefix(&k.prefix).await.unwrap(), Some(k));
    }
    let mut all = key("allallallall", 1);
    all.scopes = Some(Scope::ALL.into_iter().collect());
    repo.insert(&all).await.unwrap();
    assert_eq!(repo.find_by_prefix(&all.prefix).await.unwrap(), Some(all));
}

async fn a_taken_prefix_is_duplicate(store: &dyn Store) {
    let repo = store.api_keys();
    repo.insert(&key("aaaaaaaaaaaa", 1)).await.unwrap();
    let err = repo.insert(&key("aaaaaaaaaaaa", 2)).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate(UniqueKey::ApiKeyPrefix)),
        "{err:?}"
    );
}

async fn revoke_keeps_the_first_time_and_knows_missing_keys(store: &dyn Store) {
    let repo = store.api_keys();
    let k = key("aaaaaaaaaaaa", 1);
    repo.insert(&k).await.unwrap();
    repo.revoke(k.id, at(10)).await.unwrap();
    repo.revoke(k.id, at(20)).await.unwrap();
    let stored = repo.find_by_prefix(&k.prefix).await.unwrap().unwrap();
    assert_eq!(stored.revoked_at, Some(at(10)));
    let err = repo.revoke(ApiKeyId::generate(), at(30)).await.unwrap_err();
    assert!(matches!(err, StoreError::MissingReference), "{err:?}");
}

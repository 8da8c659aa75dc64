//! What every `CustomerRepository` promises.

use futures_util::future::join_all;

use super::{Store, at, customer};
use crate::pagination::{Limit, PageRequest};
use crate::store::StoreError;

pub async fn insert_or_get_creates_once_then_returns_the_existing(store: &dyn Store) {
    let repo = store.customers();
    let first = customer(1, 0);
    let (stored, created) = repo.insert_or_get(&first).await.unwrap();
    assert!(created);
    assert_eq!(stored, first);

    let mut second = customer(1, 10);
    second.name = crate::customer::CustomerName::parse("Someone else").unwrap();
    let (stored, created) = repo.insert_or_get(&second).await.unwrap();
    assert!(!created);
    assert_eq!(stored, first, "the existing customer is returned unchanged");
    assert_eq!(repo.find_by_id(second.id).await.unwrap(), None);
}

pub async fn concurrent_inserts_of_one_phone_store_one_customer(store: &dyn Store) {
    let repo = store.customers();
    let attempts: Vec<_> = (0..20).map(|i| customer(2, i)).collect();
    let results = join_all(attempts.iter().map(|c| repo.insert_or_get(c))).await;
    let results: Vec<_> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
    let winner = results[0].0.id;
    assert!(results.iter().all(|(c, _)| c.id == winner));
    let page = repo.list(PageRequest::default()).await.unwrap();
    assert_eq!(page.data.len(), 1);
}

pub async fn found_by_id_and_phone_as_stored(store: &dyn Store) {
    let repo = store.customers();
    let c = customer(3, 0);
    repo.insert_or_get(&c).await.unwrap();
    assert_eq!(repo.find_by_id(c.id).await.unwrap(), Some(c.clone()));
    assert_eq!(repo.find_by_phone(&c.phone).await.unwrap(), Some(c.clone()));
    let other = customer(4, 0);
    assert_eq!(repo.find_by_phone(&other.phone).await.unwrap(), None);
    assert_eq!(repo.find_by_id(other.id).await.unwrap(), None);
}

pub async fn update_replaces_name_and_email(store: &dyn Store) {
    let repo = store.customers();
    let c = customer(5, 0);
    repo.insert_or_get(&c).await.unwrap();
    let mut changed = c.clone();
    changed.name = crate::customer::CustomerName::parse("New Name").unwrap();
    changed.email = None;
    changed.updated_at = at(60);
    repo.update(&changed).await.unwrap();
    assert_eq!(repo.find_by_id(c.id).await.unwrap(), Some(changed));
}

pub async fn update_of_a_missing_customer_is_missing_reference(store: &dyn Store) {
    let repo = store.customers();
    let err = repo.update(&customer(6, 0)).await.unwrap_err();
    assert!(matches!(err, StoreError::MissingReference), "{err:?}");
}

pub async fn list_is_newest_first_with_cursor_pages(store: &dyn Store) {
    let repo = store.customers();
    let all: Vec<_> = (0..5).map(|i| customer(10 + i, i64::from(i))).collect();
    for c in &all {
        repo.insert_or_get(c).await.unwrap();
    }
    let limit = Limit::parse(2).unwrap();
    let first = repo
        .list(PageRequest {
            limit,
            starting_after: None,
        })
        .await
        .unwrap();
    assert_eq!(first.data, vec![all[4].clone(), all[3].clone()]);
    assert!(first.has_more);
    let second = repo
        .list(PageRequest {
            limit,
            starting_after: Some(all[3].id.as_uuid()),
        })
        .await
        .unwrap();
    assert_eq!(second.data, vec![all[2].clone(), all[1].clone()]);
    assert!(second.has_more);
    let last = repo
        .list(PageRequest {
            limit,
            starting_after: Some(all[1].id.as_uuid()),
        })
        .await
        .unwrap();
    assert_eq!(last.data, vec![all[0].clone()]);
    assert!(!last.has_more);
}

pub async fn list_after_an_unknown_cursor_is_missing_reference(store: &dyn Store) {
    let repo = store.customers();
    let err = repo
        .list(PageRequest {
            limit: Limit::default(),
            starting_after: Some(uuid::Uuid::now_v7()),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::MissingReference), "{err:?}");
}

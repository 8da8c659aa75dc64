//! What every `CustomerRepository` promises.

use futures_util::future::join_all;

use super::{Store, at, customer};
use crate::customer::{CustomerChanges, CustomerName, Email};
use crate::pagination::{Limit, PageRequest};
use crate::store::StoreError;

super::cases![
    insert_or_get_creates_once_then_returns_the_existing,
    concurrent_inserts_of_one_phone_store_one_customer,
    found_by_id_and_phone_as_stored,
    update_replaces_name_and_email,
    update_changes_only_the_given_fields,
    update_of_a_missing_customer_is_missing_reference,
    list_is_newest_first_with_cursor_pages,
    list_after_an_unknown_cursor_is_missing_reference,
];

async fn insert_or_get_creates_once_then_returns_the_existing(store: &dyn Store) {
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

async fn concurrent_inserts_of_one_phone_store_one_customer(store: &dyn Store) {
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

async fn found_by_id_and_phone_as_stored(store: &dyn Store) {
    let repo = store.customers();
    let c = customer(3, 0);
    repo.insert_or_get(&c).await.unwrap();
    assert_eq!(repo.find_by_id(c.id).await.unwrap(), Some(c.clone()));
    assert_eq!(repo.find_by_phone(&c.phone).await.unwrap(), Some(c.clone()));
    let other = customer(4, 0);
    assert_eq!(repo.find_by_phone(&other.phone).await.unwrap(), None);
    assert_eq!(repo.find_by_id(other.id).await.unwrap(), None);
}

fn changes(name: Option<&str>, email: Option<Option<&str>>) -> CustomerChanges {
    CustomerChanges {
        name: name.map(|n| CustomerName::parse(n).unwrap()),
        email: email.map(|e| e.map(|e| Email::parse(e).unwrap())),
    }
}

async fn update_replaces_name_and_email(store: &dyn Store) {
    let repo = store.customers();
    let c = customer(5, 0);
    repo.insert_or_get(&c).await.unwrap();
    let mut expected = c.clone();
    expected.name = CustomerName::parse("New Name").unwrap();
    expected.email = None;
    expected.updated_at = at(60);
    let returned = repo
        .update(c.id, &changes(Some("New Name"), Some(None)), at(60))
        .await
        .unwrap();
    assert_eq!(returned, expected);
    assert_eq!(repo.find_by_id(c.id).await.unwrap(), Some(expected));
}

async fn update_changes_only_the_given_fields(store: &dyn Store) {
    let repo = store.customers();
    let c = customer(7, 0);
    repo.insert_or_get(&c).await.unwrap();
    // Two writers, each with its own field, in either order: both changes persist.
    repo.update(c.id, &changes(Some("Renamed"), None), at(10))
        .await
        .unwrap();
    let after = repo
        .update(c.id, &changes(None, Some(Some("new@example.com"))), at(20))
        .await
        .unwrap();
    assert_eq!(after.name.as_str(), "Renamed");
    assert_eq!(after.email.as_ref().unwrap().as_str(), "new@example.com");
    assert_eq!(after.phone, c.phone);
    assert_eq!(repo.find_by_id(c.id).await.unwrap(), Some(after));
}

async fn update_of_a_missing_customer_is_missing_reference(store: &dyn Store) {
    let repo = store.customers();
    let err = repo
        .update(customer(6, 0).id, &changes(Some("Nobody"), None), at(1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::MissingReference), "{err:?}");
}

async fn list_is_newest_first_with_cursor_pages(store: &dyn Store) {
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

async fn list_after_an_unknown_cursor_is_missing_reference(store: &dyn Store) {
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

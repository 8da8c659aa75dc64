//! What every `OrderRepository` promises.

use super::{Store, at, cancelled, created, customer, order};
use crate::order::{Inserted, OrderFilter, OrderReference, OrderStatus, StatusEvent};
use crate::pagination::{Limit, PageRequest};
use crate::store::{StoreError, UniqueKey};

super::cases![
    inserted_order_reads_back_whole,
    found_by_reference,
    a_taken_reference_is_duplicate_and_stores_nothing,
    an_unknown_customer_is_missing_reference_and_stores_nothing,
    list_filters_by_customer_and_status_newest_first,
    list_pages_with_a_cursor,
    update_status_is_compare_and_set,
    an_order_with_its_new_customer_is_stored_together,
    a_failed_order_leaves_no_new_customer,
];

async fn inserted_order_reads_back_whole(store: &dyn Store) {
    let c = customer(1, 0);
    store.customers().insert_or_get(&c).await.unwrap();
    let o = order(c.id, "AAAA-0001", 1);
    store.orders().insert(&o, &created(&o), None).await.unwrap();
    let found = store.orders().find_by_id(o.id()).await.unwrap();
    assert_eq!(
        found,
        Some(o),
        "items keep their order, metadata and amounts survive"
    );
}

async fn found_by_reference(store: &dyn Store) {
    let c = customer(1, 0);
    store.customers().insert_or_get(&c).await.unwrap();
    let o = order(c.id, "K7M2-Q9XD", 1);
    store.orders().insert(&o, &created(&o), None).await.unwrap();
    let r = OrderReference::parse("k7m2q9xd").unwrap();
    assert_eq!(store.orders().find_by_reference(&r).await.unwrap(), Some(o));
    let other = OrderReference::parse("K7M2-Q9XE").unwrap();
    assert_eq!(
        store.orders().find_by_reference(&other).await.unwrap(),
        None
    );
}

async fn a_taken_reference_is_duplicate_and_stores_nothing(store: &dyn Store) {
    let c = customer(1, 0);
    store.customers().insert_or_get(&c).await.unwrap();
    let first = order(c.id, "AAAA-0002", 1);
    store
        .orders()
        .insert(&first, &created(&first), None)
        .await
        .unwrap();
    let clash = order(c.id, "AAAA-0002", 2);
    let err = store
        .orders()
        .insert(&clash, &created(&clash), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate(UniqueKey::OrderReference)),
        "{err:?}"
    );
    assert_eq!(store.orders().find_by_id(clash.id()).await.unwrap(), None);
}

async fn an_unknown_customer_is_missing_reference_and_stores_nothing(store: &dyn Store) {
    let stranger = customer(9, 0);
    let o = order(stranger.id, "AAAA-0003", 1);
    let err = store
        .orders()
        .insert(&o, &created(&o), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::MissingReference), "{err:?}");
    assert_eq!(store.orders().find_by_id(o.id()).await.unwrap(), None);
}

async fn list_filters_by_customer_and_status_newest_first(store: &dyn Store) {
    let (a, b) = (customer(1, 0), customer(2, 0));
    store.customers().insert_or_get(&a).await.unwrap();
    store.customers().insert_or_get(&b).await.unwrap();
    let a1 = order(a.id, "AAAA-0001", 1);
    let b1 = order(b.id, "BBBB-0001", 2);
    let mut a2 = order(a.id, "AAAA-0002", 3);
    for o in [&a1, &b1, &a2] {
        store.orders().insert(o, &created(o), None).await.unwrap();
    }
    a2.transition(StatusEvent::Cancel, at(4)).unwrap();
    store
        .orders()
        .update_status(&a2, OrderStatus::PendingPayment, &cancelled(&a2))
        .await
        .unwrap();
    // A write bumps the stored version: compare with the order as stored now.
    let a2 = store.orders().find_by_id(a2.id()).await.unwrap().unwrap();
    assert_eq!(a2.status(), OrderStatus::Cancelled);

    let list = |filter| async move {
        store
            .orders()
            .list(filter, PageRequest::default())
            .await
            .unwrap()
            .data
    };
    assert_eq!(
        list(OrderFilter::default()).await,
        vec![a2.clone(), b1.clone(), a1.clone()]
    );
    let of_a = OrderFilter {
        customer_id: Some(a.id),
        status: None,
    };
    assert_eq!(list(of_a).await, vec![a2.clone(), a1.clone()]);
    let pending_of_a = OrderFilter {
        customer_id: Some(a.id),
        status: Some(OrderStatus::PendingPayment),
    };
    assert_eq!(list(pending_of_a).await, vec![a1.clone()]);
    let cancelled = OrderFilter {
        customer_id: None,
        status: Some(OrderStatus::Cancelled),
    };
    assert_eq!(list(cancelled).await, vec![a2]);
}

async fn list_pages_with_a_cursor(store: &dyn Store) {
    let c = customer(1, 0);
    store.customers().insert_or_get(&c).await.unwrap();
    let all: Vec<_> = (0..3)
        .map(|i| order(c.id, &format!("CCCC-000{i}"), i64::from(i)))
        .collect();
    for o in &all {
        store.orders().insert(o, &created(o), None).await.unwrap();
    }
    let limit = Limit::parse(2).unwrap();
    let filter = OrderFilter {
        customer_id: Some(c.id),
        status: None,
    };
    let first = store
        .orders()
        .list(
            filter,
            PageRequest {
                limit,
                starting_after: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(first.data, vec![all[2].clone(), all[1].clone()]);
    assert!(first.has_more);
    let rest = store
        .orders()
        .list(
            filter,
            PageRequest {
                limit,
                starting_after: Some(all[1].id().as_uuid()),
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.data, vec![all[0].clone()]);
    assert!(!rest.has_more);
    let unknown = store
        .orders()
        .list(
            filter,
            PageRequest {
                limit,
                starting_after: Some(uuid::Uuid::now_v7()),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(unknown, StoreError::MissingReference));
}

async fn update_status_is_compare_and_set(store: &dyn Store) {
    let c = customer(1, 0);
    store.customers().insert_or_get(&c).await.unwrap();
    let mut o = order(c.id, "DDDD-0001", 1);
    store.orders().insert(&o, &created(&o), None).await.unwrap();
    o.transition(StatusEvent::Cancel, at(5)).unwrap();
    store
        .orders()
        .update_status(&o, OrderStatus::PendingPayment, &cancelled(&o))
        .await
        .unwrap();
    let stored = store.orders().find_by_id(o.id()).await.unwrap().unwrap();
    assert_eq!(stored.status(), OrderStatus::Cancelled);
    assert_eq!(stored.updated_at(), at(5));

    // A writer that still believes the order is pending loses.
    let err = store
        .orders()
        .update_status(&o, OrderStatus::PendingPayment, &cancelled(&o))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");

    let missing = order(c.id, "DDDD-0002", 1);
    let err = store
        .orders()
        .update_status(&missing, OrderStatus::PendingPayment, &cancelled(&missing))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::MissingReference), "{err:?}");
}

async fn an_order_with_its_new_customer_is_stored_together(store: &dyn Store) {
    let c = customer(30, 0);
    let o = order(c.id, "EEEE-0001", 1);
    let used = store
        .orders()
        .insert_with_customer(&c, &o, &created(&o), None)
        .await
        .unwrap();
    assert_eq!(used, Inserted::Stored(c.id));
    assert_eq!(
        store.customers().find_by_phone(&c.phone).await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(store.orders().find_by_id(o.id()).await.unwrap(), Some(o));

    // The phone is known now: a second "new" customer for it is not stored, the order goes
    // to the existing one.
    let mut twin = customer(30, 5);
    twin.name = crate::customer::CustomerName::parse("Someone else").unwrap();
    let second = order(twin.id, "EEEE-0002", 2);
    let used = store
        .orders()
        .insert_with_customer(&twin, &second, &created(&second), None)
        .await
        .unwrap();
    assert_eq!(used, Inserted::Stored(c.id));
    let stored = store
        .orders()
        .find_by_id(second.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.customer_id(), c.id);
    assert_eq!(store.customers().find_by_id(twin.id).await.unwrap(), None);
}

async fn a_failed_order_leaves_no_new_customer(store: &dyn Store) {
    let c = customer(31, 0);
    store.customers().insert_or_get(&c).await.unwrap();
    let taken = order(c.id, "EEEE-0003", 1);
    store
        .orders()
        .insert(&taken, &created(&taken), None)
        .await
        .unwrap();

    let newcomer = customer(32, 0);
    let clash = order(newcomer.id, "EEEE-0003", 2);
    let err = store
        .orders()
        .insert_with_customer(&newcomer, &clash, &created(&clash), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate(UniqueKey::OrderReference)),
        "{err:?}"
    );
    assert_eq!(
        store
            .customers()
            .find_by_phone(&newcomer.phone)
            .await
            .unwrap(),
        None
    );
}

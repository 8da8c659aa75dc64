//! What every `PaymentRepository` promises.

use futures_util::future::join_all;

use super::{Store, at, created, customer, order};
use crate::order::{Order, OrderEvent, OrderEventType, OrderStatus, StatusEvent};
use crate::payment::{
    CheckoutSession, EventCommit, EventSubject, Payment, PaymentKey, PaymentProvider, PaymentStatus,
};
use crate::store::{StoreError, UniqueKey};

super::cases![
    concurrent_opens_store_one_open_payment,
    a_payment_for_a_missing_order_is_missing_reference,
    a_session_is_recorded_once,
    an_event_commits_once_and_all_together,
    a_commit_on_stale_rows_is_conflict_and_writes_nothing,
    history_is_oldest_first_and_record_once_writes_once,
    a_closed_payment_makes_room_for_a_new_one,
    an_order_is_read_with_its_latest_payment,
    a_stale_order_rolls_back_the_payment_and_the_event_id,
    an_event_subject_is_the_payment_its_order_and_whether_seen,
];

/// A stored customer and pending order (`reference`), and a new payment for it.
pub(super) async fn world(store: &dyn Store, line: u16, reference: &str) -> (Order, Payment) {
    let c = customer(line, 0);
    store.customers().insert_or_get(&c).await.unwrap();
    let o = order(c.id, reference, 1);
    store.orders().insert(&o, &created(&o), None).await.unwrap();
    let p = Payment::start(&o, PaymentProvider::Sandbox, at(2));
    (o, p)
}

pub(super) fn session(id: &str) -> CheckoutSession {
    CheckoutSession {
        id: id.into(),
        url: format!("https://pay.example/{id}"),
        expires_at: at(3600),
    }
}

/// `p` with the session `id`, opened at `at(3)`.
pub(super) fn with_session(p: &Payment, id: &str) -> Payment {
    p.open_session(session(id), at(3))
        .expect("a pending payment")
}

pub(super) fn opened(o: &Order, p: &Payment) -> OrderEvent {
    OrderEvent::new(o.id(), OrderEventType::SessionOpened, at(3)).for_payment(p.id)
}

async fn concurrent_opens_store_one_open_payment(store: &dyn Store) {
    let (o, _) = world(store, 40, "PAY0-0001").await;
    let repo = store.payments();
    let attempts = (0..20).map(|_| {
        let repo = repo.clone();
        let p = Payment::start(&o, PaymentProvider::Sandbox, at(2));
        async move { repo.open_or_get(&p).await.unwrap() }
    });
    let results = join_all(attempts).await;
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
    let first = &results[0].0;
    assert!(results.iter().all(|(p, _)| p.id == first.id));
    assert_eq!(repo.find(first.id).await.unwrap().as_ref(), Some(first));
}

async fn a_payment_for_a_missing_order_is_missing_reference(store: &dyn Store) {
    let c = customer(41, 0);
    let o = order(c.id, "PAY0-0002", 1);
    let p = Payment::start(&o, PaymentProvider::Sandbox, at(2));
    let err = store.payments().open_or_get(&p).await.unwrap_err();
    assert!(matches!(err, StoreError::MissingReference), "{err:?}");
}

async fn a_session_is_recorded_once(store: &dyn Store) {
    let (o, p) = world(store, 42, "PAY0-0003").await;
    let repo = store.payments();
    let (p, _) = repo.open_or_get(&p).await.unwrap();
    let first = repo
        .record_session(&with_session(&p, "cs_a"), &opened(&o, &p))
        .await
        .unwrap();
    assert_eq!(first.status, PaymentStatus::Open);
    assert_eq!(first.session.as_ref().unwrap().id, "cs_a");
    let second = repo
        .record_session(&with_session(&p, "cs_b"), &opened(&o, &p))
        .await
        .unwrap();
    assert_eq!(
        second.session.unwrap().id,
        "cs_a",
        "the first session stays"
    );
    assert_eq!(
        repo.find_by_session("cs_a").await.unwrap().map(|p| p.id),
        Some(p.id)
    );
    assert_eq!(repo.find_by_session("cs_b").await.unwrap(), None);
    let history = store.orders().history(o.id()).await.unwrap();
    let kinds: Vec<_> = history.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [OrderEventType::Created, OrderEventType::SessionOpened]
    );
}

/// The payment succeeded and the order paid, as one event's effect.
pub(super) fn paid_commit(o: &Order, p: &Payment, event_id: &str) -> EventCommit {
    let mut payment = p.clone();
    payment.status = PaymentStatus::Succeeded;
    payment.provider_payment_id = Some("pi_1".into());
    let mut order = o.clone();
    order
        .transition(StatusEvent::PaymentSucceeded, at(5))
        .unwrap();
    EventCommit {
        event_id: Some(event_id.into()),
        payment: Some(payment),
        order: Some(order),
        events: vec![OrderEvent::new(o.id(), OrderEventType::Paid, at(5)).for_payment(p.id)],
    }
}

async fn an_event_commits_once_and_all_together(store: &dyn Store) {
    let (o, p) = world(store, 43, "PAY0-0004").await;
    let repo = store.payments();
    let (p, _) = repo.open_or_get(&p).await.unwrap();
    repo.commit(&paid_commit(&o, &p, "evt_1")).await.unwrap();
    let paid = store.orders().find_by_id(o.id()).await.unwrap().unwrap();
    assert_eq!(paid.status(), OrderStatus::Paid);
    let stored = repo.find(p.id).await.unwrap().unwrap();
    assert_eq!(stored.status, PaymentStatus::Succeeded);
    assert_eq!(
        repo.event_subject("evt_x", &PaymentKey::Provider("pi_1".into()))
            .await
            .unwrap()
            .map(|s| s.payment.id),
        Some(p.id)
    );
    // Delivered again (decided on fresh rows: nothing left to change): a duplicate.
    let again = EventCommit {
        event_id: Some("evt_1".into()),
        events: vec![OrderEvent::new(o.id(), OrderEventType::Paid, at(6)).for_payment(p.id)],
        ..EventCommit::default()
    };
    let err = repo.commit(&again).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate(UniqueKey::ProcessedEvent)),
        "{err:?}"
    );
    let history = store.orders().history(o.id()).await.unwrap();
    assert_eq!(
        history
            .iter()
            .filter(|e| e.kind == OrderEventType::Paid)
            .count(),
        1
    );
}

async fn a_commit_on_stale_rows_is_conflict_and_writes_nothing(store: &dyn Store) {
    let (o, p) = world(store, 44, "PAY0-0005").await;
    let repo = store.payments();
    let (p, _) = repo.open_or_get(&p).await.unwrap();
    // Someone moves the payment on after we read it.
    repo.record_session(&with_session(&p, "cs_c"), &opened(&o, &p))
        .await
        .unwrap();
    let err = repo
        .commit(&paid_commit(&o, &p, "evt_2"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert_eq!(
        store
            .orders()
            .find_by_id(o.id())
            .await
            .unwrap()
            .unwrap()
            .status(),
        OrderStatus::PendingPayment
    );
    // The event id was not recorded either: a retry on fresh rows applies it.
    let fresh = repo.find(p.id).await.unwrap().unwrap();
    repo.commit(&paid_commit(&o, &fresh, "evt_2"))
        .await
        .unwrap();
}

async fn a_stale_order_rolls_back_the_payment_and_the_event_id(store: &dyn Store) {
    let (o, p) = world(store, 48, "PAY0-000A").await;
    let repo = store.payments();
    let (p, _) = repo.open_or_get(&p).await.unwrap();
    // The payment is at its version; the order moved on (cancelled) after it was read.
    let mut cancelled = o.clone();
    cancelled.transition(StatusEvent::Cancel, at(4)).unwrap();
    store
        .orders()
        .update_status(
            &cancelled,
            OrderStatus::PendingPayment,
            &super::cancelled(&cancelled),
        )
        .await
        .unwrap();
    let err = repo
        .commit(&paid_commit(&o, &p, "evt_4"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    let payment = repo.find(p.id).await.unwrap().unwrap();
    assert_eq!(
        payment.status, p.status,
        "the payment's update rolled back too"
    );
    assert_eq!(payment.version, p.version);
    let subject = repo
        .event_subject("evt_4", &PaymentKey::Id(p.id))
        .await
        .unwrap()
        .unwrap();
    assert!(!subject.applied_before, "the event id rolled back too");
}

async fn an_event_subject_is_the_payment_its_order_and_whether_seen(store: &dyn Store) {
    let (o, p) = world(store, 49, "PAY0-000B").await;
    let repo = store.payments();
    let (p, _) = repo.open_or_get(&p).await.unwrap();
    assert_eq!(
        repo.event_subject("evt_5", &PaymentKey::Id(p.id))
            .await
            .unwrap(),
        Some(EventSubject {
            payment: p.clone(),
            order: o.clone(),
            applied_before: false,
        })
    );
    repo.commit(&paid_commit(&o, &p, "evt_5")).await.unwrap();
    let seen = repo
        .event_subject("evt_5", &PaymentKey::Provider("pi_1".into()))
        .await
        .unwrap()
        .unwrap();
    assert!(seen.applied_before);
    assert_eq!(seen.payment.id, p.id);
    assert_eq!(seen.payment.status, PaymentStatus::Succeeded);
    assert_eq!(seen.order.id(), o.id());
    assert_eq!(seen.order.status(), OrderStatus::Paid);
    assert_eq!(seen.order.items(), o.items());
    let unknown = Payment::start(&o, PaymentProvider::Sandbox, at(9));
    assert_eq!(
        repo.event_subject("evt_5", &PaymentKey::Id(unknown.id))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        repo.event_subject("evt_6", &PaymentKey::Provider("pi_nobody".into()))
            .await
            .unwrap(),
        None
    );
}

async fn history_is_oldest_first_and_record_once_writes_once(store: &dyn Store) {
    let (o, _) = world(store, 45, "PAY0-0006").await;
    let repo = store.payments();
    let link = OrderEvent::new(o.id(), OrderEventType::PaymentLinkCreated, at(10));
    assert!(repo.record_once(&link).await.unwrap());
    let again = OrderEvent::new(o.id(), OrderEventType::PaymentLinkCreated, at(11));
    assert!(!repo.record_once(&again).await.unwrap());
    let history = store.orders().history(o.id()).await.unwrap();
    let kinds: Vec<_> = history.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [OrderEventType::Created, OrderEventType::PaymentLinkCreated]
    );
    assert_eq!(history[1], link);
}

async fn a_closed_payment_makes_room_for_a_new_one(store: &dyn Store) {
    let (o, p) = world(store, 46, "PAY0-0007").await;
    let repo = store.payments();
    let (p, _) = repo.open_or_get(&p).await.unwrap();
    let mut expired = p.clone();
    expired.status = PaymentStatus::Expired;
    repo.commit(&EventCommit {
        event_id: Some("evt_3".into()),
        payment: Some(expired),
        order: None,
        events: vec![],
    })
    .await
    .unwrap();
    let next = Payment::start(&o, PaymentProvider::Sandbox, at(20));
    let (stored, created) = repo.open_or_get(&next).await.unwrap();
    assert!(created);
    assert_eq!(stored.id, next.id);
    assert_eq!(
        repo.latest_for_order(o.id()).await.unwrap().map(|p| p.id),
        Some(next.id)
    );
}

async fn an_order_is_read_with_its_latest_payment(store: &dyn Store) {
    let (o, p) = world(store, 47, "PAY0-0008").await;
    let repo = store.payments();
    assert_eq!(
        store
            .orders()
            .order_with_latest_payment(o.id())
            .await
            .unwrap(),
        Some((o.clone(), None)),
        "no payment yet"
    );
    let (first, _) = repo.open_or_get(&p).await.unwrap();
    let mut expired = first.clone();
    expired.status = PaymentStatus::Expired;
    repo.commit(&EventCommit {
        payment: Some(expired),
        ..EventCommit::default()
    })
    .await
    .unwrap();
    let next = Payment::start(&o, PaymentProvider::Sandbox, at(30));
    repo.open_or_get(&next).await.unwrap();

    let (read, latest) = store
        .orders()
        .order_with_latest_payment(o.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, o);
    assert_eq!(
        latest.map(|p| p.id),
        Some(next.id),
        "the newest of two payments"
    );

    let other = order(o.customer_id(), "PAY0-0009", 5);
    assert_eq!(
        store
            .orders()
            .order_with_latest_payment(other.id())
            .await
            .unwrap(),
        None
    );
}

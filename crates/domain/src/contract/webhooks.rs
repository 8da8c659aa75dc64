//! What every `WebhookRepository` promises: the outbox's rules, whichever store keeps it.
//! Fan-out when history is written (to every enabled endpoint subscribed to the type), one
//! order's events leaving in order while an earlier one is retried and other orders not held
//! back, a fair share per endpoint, an expired claim taken again, an outcome recorded only
//! under the claim that sent it, and retention.

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::{Store, at, cancelled, created, customer, order};
use crate::order::{OrderEventType, OrderStatus, StatusEvent};
use crate::pagination::PageRequest;
use crate::webhook::{
    Attempt, Claim, DeliveryStatus, DueDelivery, EndpointHealth, EndpointStatus, EndpointUrl,
    EventSelection, RecordedAttempt, UrlPolicy, Verdict, WebhookEndpoint, WebhookEndpointId,
};

super::cases![
    history_fans_out_to_every_enabled_endpoint_subscribed_to_its_type,
    a_status_change_fans_out_as_well,
    an_orders_events_leave_in_order_and_other_orders_are_not_held_back,
    a_claim_takes_a_fair_share_per_endpoint_and_skips_busy_ones,
    an_expired_claim_is_taken_again_and_only_the_latest_claim_records,
    an_endpoints_row_is_written_only_when_its_health_changes,
    retention_removes_settled_deliveries_and_keeps_due_ones,
];

/// Deliveries are due from their writing (the store's clock): claims are made a minute on.
fn soon() -> DateTime<Utc> {
    Utc::now() + TimeDelta::minutes(1)
}

/// An endpoint receiving `events`, created at `at(seconds)`.
pub fn endpoint(events: EventSelection, status: EndpointStatus, seconds: i64) -> WebhookEndpoint {
    WebhookEndpoint {
        id: WebhookEndpointId::generate(),
        url: EndpointUrl::parse(
            "https://hooks.example.com/orderpay",
            UrlPolicy::PublicHttpsOnly,
        )
        .unwrap(),
        description: None,
        enabled_events: events,
        status,
        secret_version: 1,
        previous_secret_until: None,
        failing_since: None,
        disabled_reason: None,
        created_at: at(seconds),
        updated_at: at(seconds),
        version: 1,
    }
}

fn claim(limit: usize, per_endpoint: usize, skip: Vec<WebhookEndpointId>) -> Claim {
    Claim {
        limit,
        per_endpoint,
        skip,
        lease: TimeDelta::seconds(30),
    }
}

/// The outcome of `due`'s attempt: `status` of the delivery, retried at `next` if pending.
fn outcome(
    due: &DueDelivery,
    status: DeliveryStatus,
    next: Option<DateTime<Utc>>,
) -> RecordedAttempt {
    RecordedAttempt {
        delivery: due.id,
        endpoint: due.endpoint.id,
        lease: due.lease,
        attempted_at: Utc::now(),
        attempt: Attempt {
            status: Some(if status == DeliveryStatus::Succeeded {
                200
            } else {
                500
            }),
            duration: TimeDelta::milliseconds(5),
            response: "ok".into(),
            error: None,
        },
        verdict: Verdict {
            status,
            next_attempt_at: next,
            endpoint: EndpointHealth::Healthy,
        },
    }
}

/// A customer and `n` new orders of theirs (references `WHK0-000<i>`), each with its
/// `order.created` history entry.
async fn orders(store: &dyn Store, n: usize) -> Vec<crate::order::Order> {
    let c = customer(1, 0);
    store.customers().insert_or_get(&c).await.unwrap();
    let mut made = Vec::new();
    for i in 0..n {
        let o = order(c.id, &format!("WHK0-000{i}"), 1 + i as i64);
        store.orders().insert(&o, &created(&o), None).await.unwrap();
        made.push(o);
    }
    made
}

async fn history_fans_out_to_every_enabled_endpoint_subscribed_to_its_type(store: &dyn Store) {
    let repo = store.webhooks();
    let all = endpoint(EventSelection::All, EndpointStatus::Enabled, 0);
    let paid_only = endpoint(
        EventSelection::Only(vec![OrderEventType::Paid]),
        EndpointStatus::Enabled,
        0,
    );
    let disabled = endpoint(EventSelection::All, EndpointStatus::Disabled, 0);
    for e in [&all, &paid_only, &disabled] {
        repo.insert_endpoint(e).await.unwrap();
        assert_eq!(e.receives(OrderEventType::Created), e.id == all.id);
    }
    let made = orders(store, 1).await;
    let due = repo
        .claim_due(soon(), &claim(10, 10, vec![]))
        .await
        .unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0].endpoint.id, all.id);
    assert_eq!(due[0].event.kind, OrderEventType::Created);
    assert_eq!(due[0].event.order.id(), made[0].id());
    assert_eq!(due[0].attempts, 1);
    // An endpoint made after the event gets nothing of it.
    let late = endpoint(EventSelection::All, EndpointStatus::Enabled, 1);
    repo.insert_endpoint(&late).await.unwrap();
    let again = repo
        .claim_due(soon(), &claim(10, 10, vec![]))
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
}

async fn a_status_change_fans_out_as_well(store: &dyn Store) {
    let repo = store.webhooks();
    let cancels = endpoint(
        EventSelection::Only(vec![OrderEventType::Cancelled]),
        EndpointStatus::Enabled,
        0,
    );
    repo.insert_endpoint(&cancels).await.unwrap();
    let mut made = orders(store, 1).await;
    let o = &mut made[0];
    o.transition(StatusEvent::Cancel, at(10)).unwrap();
    store
        .orders()
        .update_status(o, OrderStatus::PendingPayment, &cancelled(o))
        .await
        .unwrap();
    let due = repo
        .claim_due(soon(), &claim(10, 10, vec![]))
        .await
        .unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0].event.kind, OrderEventType::Cancelled);
    assert_eq!(
        due[0].event.order.status(),
        OrderStatus::Cancelled,
        "the order as that change left it"
    );
}

async fn an_orders_events_leave_in_order_and_other_orders_are_not_held_back(store: &dyn Store) {
    let repo = store.webhooks();
    let all = endpoint(EventSelection::All, EndpointStatus::Enabled, 0);
    repo.insert_endpoint(&all).await.unwrap();
    let mut made = orders(store, 2).await;
    let x = &mut made[0];
    x.transition(StatusEvent::Cancel, at(10)).unwrap();
    store
        .orders()
        .update_status(x, OrderStatus::PendingPayment, &cancelled(x))
        .await
        .unwrap();
    let (x, y) = (made[0].id(), made[1].id());
    let first = repo
        .claim_due(soon(), &claim(10, 10, vec![]))
        .await
        .unwrap();
    let kinds: Vec<_> = first
        .iter()
        .map(|d| (d.event.order.id(), d.event.kind))
        .collect();
    assert_eq!(
        first.len(),
        2,
        "x's creation and y's, not x's cancellation: {kinds:?}"
    );
    assert!(kinds.contains(&(x, OrderEventType::Created)));
    assert!(kinds.contains(&(y, OrderEventType::Created)));
    // X's creation fails and waits for its retry: its cancellation still waits behind it;
    // Y's is delivered.
    let x_created = first.iter().find(|d| d.event.order.id() == x).unwrap();
    let y_created = first.iter().find(|d| d.event.order.id() == y).unwrap();
    let later = Some(soon() + TimeDelta::hours(1));
    repo.record_attempts(
        &[
            outcome(x_created, DeliveryStatus::Pending, later),
            outcome(y_created, DeliveryStatus::Succeeded, None),
        ],
        &[(all.id, EndpointHealth::Healthy)],
    )
    .await
    .unwrap();
    let none = repo
        .claim_due(soon(), &claim(10, 10, vec![]))
        .await
        .unwrap();
    assert!(none.is_empty(), "held behind the earlier event: {none:?}");
    // Once it succeeds (retried later), the cancellation leaves.
    let retried = repo
        .claim_due(soon() + TimeDelta::hours(2), &claim(10, 10, vec![]))
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].attempts, 2);
    repo.record_attempts(
        &[outcome(&retried[0], DeliveryStatus::Succeeded, None)],
        &[(all.id, EndpointHealth::Healthy)],
    )
    .await
    .unwrap();
    let next = repo
        .claim_due(soon(), &claim(10, 10, vec![]))
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].event.kind, OrderEventType::Cancelled);
}

async fn a_claim_takes_a_fair_share_per_endpoint_and_skips_busy_ones(store: &dyn Store) {
    let repo = store.webhooks();
    let (a, b) = (
        endpoint(EventSelection::All, EndpointStatus::Enabled, 0),
        endpoint(EventSelection::All, EndpointStatus::Enabled, 1),
    );
    repo.insert_endpoint(&a).await.unwrap();
    repo.insert_endpoint(&b).await.unwrap();
    orders(store, 4).await;
    let share = repo.claim_due(soon(), &claim(10, 2, vec![])).await.unwrap();
    let of = |id: WebhookEndpointId, due: &[DueDelivery]| {
        due.iter().filter(|d| d.endpoint.id == id).count()
    };
    assert_eq!((of(a.id, &share), of(b.id, &share)), (2, 2), "two each");
    let skipping = repo
        .claim_due(soon(), &claim(10, 10, vec![a.id]))
        .await
        .unwrap();
    assert_eq!(
        (of(a.id, &skipping), of(b.id, &skipping)),
        (0, 2),
        "a is busy"
    );
}

async fn an_expired_claim_is_taken_again_and_only_the_latest_claim_records(store: &dyn Store) {
    let repo = store.webhooks();
    let all = endpoint(EventSelection::All, EndpointStatus::Enabled, 0);
    repo.insert_endpoint(&all).await.unwrap();
    orders(store, 1).await;
    let first = repo
        .claim_due(soon(), &claim(10, 10, vec![]))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let held = repo
        .claim_due(soon(), &claim(10, 10, vec![]))
        .await
        .unwrap();
    assert!(held.is_empty(), "claimed: not sent twice at once");
    let lapsed = soon() + TimeDelta::seconds(31);
    let second = repo
        .claim_due(lapsed, &claim(10, 10, vec![]))
        .await
        .unwrap();
    assert_eq!(second.len(), 1, "the lapsed claim is taken again");
    assert_eq!(second[0].id, first[0].id);
    assert_eq!(second[0].attempts, 2);
    assert_ne!(second[0].lease, first[0].lease);
    // The first sender answers late: its outcome is not recorded; the second's is.
    let healthy = [(all.id, EndpointHealth::Healthy)];
    repo.record_attempts(
        &[outcome(&first[0], DeliveryStatus::Failed, None)],
        &healthy,
    )
    .await
    .unwrap();
    let listed = repo
        .deliveries(all.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.data[0].status, DeliveryStatus::Pending, "{listed:?}");
    repo.record_attempts(
        &[outcome(&second[0], DeliveryStatus::Succeeded, None)],
        &healthy,
    )
    .await
    .unwrap();
    let listed = repo
        .deliveries(all.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.data[0].status, DeliveryStatus::Succeeded);
    assert_eq!(listed.data[0].attempts, 2);
    let fake = RecordedAttempt {
        lease: Uuid::new_v4(),
        ..outcome(&second[0], DeliveryStatus::Failed, None)
    };
    repo.record_attempts(&[fake], &healthy).await.unwrap();
    let listed = repo
        .deliveries(all.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        listed.data[0].status,
        DeliveryStatus::Succeeded,
        "unchanged"
    );
}

async fn an_endpoints_row_is_written_only_when_its_health_changes(store: &dyn Store) {
    let repo = store.webhooks();
    let all = endpoint(EventSelection::All, EndpointStatus::Enabled, 0);
    repo.insert_endpoint(&all).await.unwrap();
    orders(store, 6).await;
    let due = repo.claim_due(soon(), &claim(10, 10, vec![])).await;
    assert_eq!(due.as_ref().map(Vec::len).ok(), Some(6));
    let (failing, off) = (EndpointHealth::FailingSince, |why: &str| {
        EndpointHealth::Disable(why.into())
    });
    // Each outcome's health, then the endpoint's: failing since, why disabled, row written.
    let steps = [
        (EndpointHealth::Healthy, None, None, false),
        (failing(at(5)), Some(at(5)), None, true),
        (failing(at(9)), Some(at(5)), None, false),
        (EndpointHealth::Healthy, None, None, true),
        (off("for days"), None, Some("for days"), true),
        (off("again"), None, Some("for days"), false),
    ];
    let mut version = all.version;
    for (d, (health, since, reason, written)) in due.iter().flatten().zip(steps) {
        let outcome = outcome(d, DeliveryStatus::Failed, None);
        let healths = [(all.id, health.clone())];
        repo.record_attempts(&[outcome], &healths).await.unwrap();
        let stored = repo.endpoint(all.id).await.unwrap().unwrap();
        version += i64::from(written);
        let off = stored.status == EndpointStatus::Disabled;
        let seen = (stored.failing_since, stored.disabled_reason.as_deref(), off);
        assert_eq!(
            (seen, stored.version),
            ((since, reason, reason.is_some()), version)
        );
    }
}

async fn retention_removes_settled_deliveries_and_keeps_due_ones(store: &dyn Store) {
    let repo = store.webhooks();
    let all = endpoint(EventSelection::All, EndpointStatus::Enabled, 0);
    repo.insert_endpoint(&all).await.unwrap();
    orders(store, 3).await;
    let due = repo
        .claim_due(soon(), &claim(10, 10, vec![]))
        .await
        .unwrap();
    assert_eq!(due.len(), 3);
    let healthy = [(all.id, EndpointHealth::Healthy)];
    for d in &due[..2] {
        repo.record_attempts(&[outcome(d, DeliveryStatus::Succeeded, None)], &healthy)
            .await
            .unwrap();
    }
    let (deliveries, events) = crate::webhook::purge_expired(repo.as_ref(), soon(), soon(), 1)
        .await
        .unwrap();
    assert_eq!(deliveries, 2, "the settled ones");
    assert_eq!(events, 2, "the events no pending delivery needs");
    let left = repo
        .deliveries(all.id, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(left.data.len(), 1);
    assert_eq!(left.data[0].id, due[2].id);
    let feed = repo.events(None, PageRequest::default()).await.unwrap();
    assert_eq!(feed.data.len(), 1, "the event the pending delivery needs");
    assert_eq!(feed.data[0].id, due[2].event.id);
}

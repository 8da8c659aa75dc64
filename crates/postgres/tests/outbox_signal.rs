//! The sender is woken by what a write's statement says: only a write that made webhook
//! deliveries signals [`PgStore::outbox_signal`].

use futures_util::FutureExt;

use orderpay_domain::contract::webhooks::endpoint;
use orderpay_domain::contract::{at, cancelled, created, customer, order};
use orderpay_domain::customer::CustomerRepository;
use orderpay_domain::order::{OrderEventType, OrderRepository, OrderStatus, StatusEvent};
use orderpay_domain::webhook::{EndpointStatus, EventSelection, WebhookRepository};
use orderpay_postgres::testing::TestDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_writes_that_made_deliveries_wake_the_sender() {
    let db = TestDatabase::new().await;
    let store = &db.store;
    let signal = store.outbox_signal();
    // A permit is kept for a waiter to come: a signalled write leaves one.
    let signalled = || signal.notified().now_or_never().is_some();
    let c = customer(1, 0);
    store.insert_or_get(&c).await.unwrap();

    let mut first = order(c.id, "SIG0-0001", 1);
    store.insert(&first, &created(&first), None).await.unwrap();
    assert!(!signalled(), "no endpoint: no delivery, no wake-up");

    let cancels = endpoint(
        EventSelection::Only(vec![OrderEventType::Cancelled]),
        EndpointStatus::Enabled,
        0,
    );
    store.insert_endpoint(&cancels).await.unwrap();
    let second = order(c.id, "SIG0-0002", 2);
    store
        .insert(&second, &created(&second), None)
        .await
        .unwrap();
    assert!(!signalled(), "nobody subscribed to order.created");

    first.transition(StatusEvent::Cancel, at(10)).unwrap();
    store
        .update_status(&first, OrderStatus::PendingPayment, &cancelled(&first))
        .await
        .unwrap();
    assert!(signalled(), "order.cancelled made a delivery");
    assert!(!signalled(), "one write, one wake-up");

    let all = endpoint(EventSelection::All, EndpointStatus::Enabled, 0);
    store.insert_endpoint(&all).await.unwrap();
    let third = order(c.id, "SIG0-0003", 3);
    store.insert(&third, &created(&third), None).await.unwrap();
    assert!(signalled(), "order.created made a delivery");
}

//! One contract suite per port, run against every implementation of it (in-memory and
//! PostgreSQL), so that swapping an adapter cannot change behaviour.
//!
//! An adapter's tests call [`run_all`] with a function that builds a fresh, empty [`Store`];
//! a payment gateway's call [`run_gateway`].

pub mod api_keys;
pub mod customers;
pub mod gateway;
pub mod idempotency;
pub mod leases;
pub mod orders;
pub mod payments;
pub mod stuck;
pub mod webhooks;

use std::collections::BTreeMap;
use std::sync::Arc;

use std::panic::AssertUnwindSafe;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use futures_util::future::{BoxFuture, FutureExt};
use futures_util::stream::StreamExt;

use crate::api_key::ApiKeyRepository;
use crate::customer::{Customer, CustomerId, CustomerRepository, NewCustomer};
use crate::idempotency::IdempotencyStore;
use crate::order::{
    Order, OrderCustomer, OrderEvent, OrderEventType, OrderReference, OrderRepository, order_of,
};
use crate::payment::{Leases, PaymentGateway, PaymentRepository};

/// A fresh, empty set of repositories sharing one store.
pub trait Store: Send + Sync {
    fn customers(&self) -> Arc<dyn CustomerRepository>;
    fn orders(&self) -> Arc<dyn OrderRepository>;
    fn api_keys(&self) -> Arc<dyn ApiKeyRepository>;
    fn payments(&self) -> Arc<dyn PaymentRepository>;
    fn idempotency(&self) -> Arc<dyn IdempotencyStore>;
    fn leases(&self) -> Arc<dyn Leases>;
    fn webhooks(&self) -> Arc<dyn crate::webhook::WebhookRepository>;
}

/// A fixed instant `seconds` after a base time, so tests control ordering.
pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + TimeDelta::seconds(seconds)
}

/// A customer with phone `+1415555` followed by `line` (4 digits), created at `at(seconds)`.
pub fn customer(line: u16, seconds: i64) -> Customer {
    NewCustomer::parse(
        &format!("+1415555{line:04}"),
        &format!("Customer {line}"),
        Some(&format!("c{line}@example.com")),
        None,
    )
    .expect("valid customer")
    .into_customer(at(seconds))
}

/// A two-line order for `customer_id` with `reference`, created at `at(seconds)`.
pub fn order(customer_id: CustomerId, reference: &str, seconds: i64) -> Order {
    let new = order_of(
        OrderCustomer::Id(customer_id),
        "eur",
        &[("Tea", 2, 450), ("Cake", 1, 300)],
        BTreeMap::from([("chat_id".to_string(), "42".to_string())]),
    )
    .expect("valid order");
    let reference = OrderReference::parse(reference).expect("valid reference");
    Order::create(new, customer_id, reference, at(seconds))
}

/// The history entry an order's creation writes.
pub fn created(o: &Order) -> OrderEvent {
    OrderEvent::new(o.id(), OrderEventType::Created, o.created_at())
}

/// The history entry a cancellation writes.
pub fn cancelled(o: &Order) -> OrderEvent {
    OrderEvent::new(o.id(), OrderEventType::Cancelled, o.updated_at())
}

/// A case of a contract: its name, and the check it runs on a fresh subject (a store, by
/// default; a payment gateway for [`gateway`]).
pub type Case<T = dyn Store> = (&'static str, CaseFn<T>);
pub type CaseFn<T = dyn Store> = for<'a> fn(&'a T) -> BoxFuture<'a, ()>;

/// Lists a contract module's cases as its `cases()`. The cases themselves are private to
/// their module, so one written but not listed is never called, which the build reports
/// (`dead_code`; CI denies warnings): a case cannot be left out.
macro_rules! cases {
    ($subject:ty => $($case:ident),* $(,)?) => {
        /// Every case of this contract.
        pub(super) fn cases() -> Vec<super::Case<$subject>> {
            vec![$({
                fn run(subject: &$subject) -> futures_util::future::BoxFuture<'_, ()> {
                    Box::pin($case(subject))
                }
                (stringify!($case), run as super::CaseFn<$subject>)
            }),*]
        }
    };
    ($($case:ident),* $(,)?) => {
        super::cases!(dyn super::Store => $($case),*);
    };
}
use cases;

/// Runs every case of every store contract, each on a fresh store that `fresh` makes, a few
/// at a time; then panics naming each case that failed (their panics are printed as they
/// happen). An adapter's tests call it from one test.
pub async fn run_all<S, F, Fut>(fresh: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    S: Store + 'static,
{
    let cases = [
        customers::cases(),
        orders::cases(),
        api_keys::cases(),
        payments::cases(),
        stuck::cases(),
        idempotency::cases(),
        leases::cases(),
        webhooks::cases(),
    ]
    .concat();
    run_cases(cases, fresh, |store: &S| store as &dyn Store).await;
}

/// Runs every case of the `PaymentGateway` contract, each on a fresh gateway that `fresh`
/// makes (with whatever it needs kept alive, a fake provider say); panics naming each case
/// that failed.
pub async fn run_gateway<S, F, Fut>(fresh: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    S: AsRef<dyn PaymentGateway> + 'static,
{
    run_cases(gateway::cases(), fresh, |made: &S| made.as_ref()).await;
}

/// Runs `cases`, 8 at a time, each on a fresh `S` that `fresh` makes and `subject` views as
/// what the cases take.
async fn run_cases<T, S, F, Fut>(cases: Vec<Case<T>>, fresh: F, subject: fn(&S) -> &T)
where
    T: ?Sized,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    let total = cases.len();
    let fresh = &fresh;
    let failed: Vec<&str> = futures_util::stream::iter(cases)
        .map(|(name, case)| async move {
            let made = fresh().await;
            let outcome = AssertUnwindSafe(case(subject(&made))).catch_unwind().await;
            outcome.is_err().then_some(name)
        })
        .buffer_unordered(8)
        .filter_map(std::future::ready)
        .collect()
        .await;
    assert!(
        failed.is_empty(),
        "{} of {total} contract cases failed: {failed:?}",
        failed.len()
    );
}

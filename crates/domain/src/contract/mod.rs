//! One contract suite per port, run against every implementation of it (in-memory and
//! PostgreSQL), so that swapping an adapter cannot change behaviour.
//!
//! An adapter's tests call [`crate::repository_contract_tests!`] with an async expression that
//! builds a fresh, empty [`Store`]; the macro writes one test per case.

pub mod api_keys;
pub mod customers;
pub mod idempotency;
pub mod orders;
pub mod payments;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use crate::api_key::ApiKeyRepository;
use crate::customer::{Customer, CustomerId, CustomerRepository, NewCustomer};
use crate::idempotency::IdempotencyStore;
use crate::order::{
    Order, OrderCustomer, OrderEvent, OrderEventType, OrderReference, OrderRepository, order_of,
};
use crate::payment::PaymentRepository;

/// A fresh, empty set of repositories sharing one store.
pub trait Store: Send + Sync {
    fn customers(&self) -> Arc<dyn CustomerRepository>;
    fn orders(&self) -> Arc<dyn OrderRepository>;
    fn api_keys(&self) -> Arc<dyn ApiKeyRepository>;
    fn payments(&self) -> Arc<dyn PaymentRepository>;
    fn idempotency(&self) -> Arc<dyn IdempotencyStore>;
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
    OrderEvent::new(o.id, OrderEventType::Created, o.created_at)
}

/// The history entry a cancellation writes.
pub fn cancelled(o: &Order) -> OrderEvent {
    OrderEvent::new(o.id, OrderEventType::Cancelled, o.updated_at)
}

/// Writes one `#[tokio::test]` per contract case against the store `$fresh` builds.
#[macro_export]
macro_rules! repository_contract_tests {
    ($fresh:expr) => {
        $crate::repository_contract_tests!(@cases $fresh;
            customers::insert_or_get_creates_once_then_returns_the_existing,
            customers::concurrent_inserts_of_one_phone_store_one_customer,
            customers::found_by_id_and_phone_as_stored,
            customers::update_replaces_name_and_email,
            customers::update_changes_only_the_given_fields,
            customers::update_of_a_missing_customer_is_missing_reference,
            customers::list_is_newest_first_with_cursor_pages,
            customers::list_after_an_unknown_cursor_is_missing_reference,
            orders::inserted_order_reads_back_whole,
            orders::found_by_reference,
            orders::a_taken_reference_is_duplicate_and_stores_nothing,
            orders::an_unknown_customer_is_missing_reference_and_stores_nothing,
            orders::list_filters_by_customer_and_status_newest_first,
            orders::list_pages_with_a_cursor,
            orders::update_status_is_compare_and_set,
            orders::an_order_with_its_new_customer_is_stored_together,
            orders::a_failed_order_leaves_no_new_customer,
            api_keys::inserted_key_is_found_by_prefix,
            api_keys::a_taken_prefix_is_duplicate,
            api_keys::revoke_keeps_the_first_time_and_knows_missing_keys,
            payments::concurrent_opens_store_one_open_payment,
            payments::a_payment_for_a_missing_order_is_missing_reference,
            payments::a_session_is_recorded_once,
            payments::an_event_commits_once_and_all_together,
            payments::a_commit_on_stale_rows_is_conflict_and_writes_nothing,
            payments::history_is_oldest_first_and_record_once_writes_once,
            payments::a_closed_payment_makes_room_for_a_new_one,
            payments::an_order_is_read_with_its_latest_payment,
            payments::a_stale_order_rolls_back_the_payment_and_the_event_id,
            payments::an_event_subject_is_the_payment_its_order_and_whether_seen,
            payments::stuck_payments_are_the_lapsed_and_the_stale_oldest_first,
            payments::stuck_payments_are_taken_in_turn,
            idempotency::a_key_is_claimed_once_then_in_use_or_reused,
            idempotency::an_answered_key_replays_its_answer_to_the_same_request_only,
            idempotency::a_released_expired_or_abandoned_key_can_be_claimed_again,
            idempotency::keys_belong_to_their_api_key_and_expire_by_purge,
            idempotency::concurrent_claims_of_one_key_start_one,
            idempotency::an_order_claims_its_key_and_stores_its_answer,
        );
    };
    (@cases $fresh:expr; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store = $fresh;
                $crate::contract::$module::$case(&store).await;
            }
        )*
    };
}

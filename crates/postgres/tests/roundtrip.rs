//! Whatever the domain's parsers accept, the PostgreSQL adapter stores and reads back
//! unchanged through every read path: arbitrary Unicode in, no 500 out.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU16, Ordering};

use chrono::SubsecRound;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

use orderpay_domain::customer::{Customer, CustomerRepository, NewCustomer};
use orderpay_domain::order::{
    Order, OrderCustomer, OrderFilter, OrderReference, OrderRepository, order_of,
};
use orderpay_domain::{Limit, PageRequest};
use orderpay_postgres::testing::TestDatabase;

/// Any Unicode scalar values at all, control characters and NUL included.
fn unicode(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..max).prop_map(|c| c.into_iter().collect())
}

/// Mostly printable text with the odd hostile character, so that inputs are accepted often.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![3 => "\\PC{0,40}".prop_map(|s| s), 1 => unicode(max)]
}

fn email() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        ("\\PC{1,20}", "\\PC{1,160}", "[a-zA-Z]{2,6}")
            .prop_map(|(l, d, tld)| Some(format!("{l}@{d}.{tld}"))),
        unicode(300).prop_map(Some),
    ]
}

fn items() -> impl Strategy<Value = Vec<(String, i64, i64)>> {
    proptest::collection::vec((text(300), 1i64..5_000, 0i64..20_000), 1..4)
}

fn metadata() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_map(text(45), text(520), 0..5)
}

/// The customer as stored and as every read path returns it.
async fn round_trip_customer(store: &TestDatabase, customer: &Customer) {
    let (stored, created) = store.store.insert_or_get(customer).await.unwrap();
    assert!(created);
    assert_eq!(&stored, customer);
    let by_id = CustomerRepository::find_by_id(&store.store, customer.id).await;
    assert_eq!(by_id.unwrap().as_ref(), Some(customer));
    let by_phone = store.store.find_by_phone(&customer.phone).await;
    assert_eq!(by_phone.unwrap().as_ref(), Some(customer));
    let page = CustomerRepository::list(&store.store, PageRequest::default())
        .await
        .expect("the customer list reads back");
    assert!(page.data.contains(customer));
}

async fn round_trip_order(store: &TestDatabase, order: &Order) {
    OrderRepository::insert(
        &store.store,
        order,
        &orderpay_domain::contract::created(order),
        None,
    )
    .await
    .unwrap();
    let by_id = OrderRepository::find_by_id(&store.store, order.id()).await;
    assert_eq!(by_id.unwrap().as_ref(), Some(order));
    let by_reference = store.store.find_by_reference(&order.reference()).await;
    assert_eq!(by_reference.unwrap().as_ref(), Some(order));
    let filter = OrderFilter {
        customer_id: Some(order.customer_id()),
        status: None,
    };
    let page = PageRequest {
        limit: Limit::parse(100).unwrap(),
        starting_after: None,
    };
    let listed = OrderRepository::list(&store.store, filter, page)
        .await
        .expect("the order list reads back");
    assert!(listed.data.contains(order));
}

/// One database for all cases (dropped at the end), one runtime to drive the adapter.
#[test]
fn accepted_input_reads_back_through_every_path() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(TestDatabase::new());
    let next_line = AtomicU16::new(0);
    let strategy = (
        text(260),
        email(),
        prop::sample::select(vec!["usd", "EUR", "jpy", "kwd", " gbp "]),
        items(),
        metadata(),
    );
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 96,
        ..ProptestConfig::default()
    });
    let outcome = runner.run(&strategy, |(name, email, currency, items, metadata)| {
        let line = next_line.fetch_add(1, Ordering::Relaxed);
        let phone = format!("+1 (415) 555-{line:04}");
        // PostgreSQL keeps microseconds.
        let now = chrono::Utc::now().trunc_subsecs(6);
        let customer = match NewCustomer::parse(&phone, &name, email.as_deref(), None) {
            Ok(new) => new.into_customer(now),
            // Rejected input is the parsers' business; keep the case going with a plain name
            // and no email so the order below is still stored.
            Err(_) => NewCustomer::parse(&phone, "Fallback", None, None)
                .unwrap()
                .into_customer(now),
        };
        let items: Vec<(&str, i64, i64)> =
            items.iter().map(|(n, q, a)| (n.as_str(), *q, *a)).collect();
        let new_order = order_of(OrderCustomer::Id(customer.id), currency, &items, metadata);
        runtime.block_on(round_trip_customer(&db, &customer));
        if let Ok(new_order) = new_order {
            let reference = OrderReference::parse(&format!("RT{line:06}")).unwrap();
            let order = Order::create(new_order, customer.id, reference, now);
            runtime.block_on(round_trip_order(&db, &order));
        }
        Ok(())
    });
    drop(db);
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

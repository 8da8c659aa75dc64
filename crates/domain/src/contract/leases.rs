//! What every `Leases` promises: one holder of a job at a time, across processes for the
//! PostgreSQL store, released when the lease is dropped.

use std::time::Duration;

use super::Store;

/// How long a dropped lease may take to be released.
const RELEASE: Duration = Duration::from_secs(5);

super::cases![
    a_held_job_is_not_leased_again_until_released,
    acquire_waits_then_gives_up_while_the_job_is_held,
];

async fn a_held_job_is_not_leased_again_until_released(store: &dyn Store) {
    let leases = store.leases();
    let held = leases.try_acquire("contract-job").await.unwrap();
    assert!(held.is_some(), "a free job is leased");
    assert!(
        leases.try_acquire("contract-job").await.unwrap().is_none(),
        "a held job is not"
    );
    assert!(
        leases
            .try_acquire("contract-other")
            .await
            .unwrap()
            .is_some(),
        "another job is its own"
    );
    drop(held);
    // A PostgreSQL lease ends with its session, which the server sees close a moment later.
    let again = leases.acquire("contract-job", RELEASE).await.unwrap();
    assert!(again.is_some(), "released when dropped");
}

async fn acquire_waits_then_gives_up_while_the_job_is_held(store: &dyn Store) {
    let leases = store.leases();
    let held = leases.try_acquire("contract-wait").await.unwrap();
    assert!(held.is_some());
    let wait = Duration::from_millis(200);
    let second = leases.acquire("contract-wait", wait).await.unwrap();
    assert!(second.is_none(), "still held when the wait is over");
    drop(held);
    let third = leases.acquire("contract-wait", RELEASE).await.unwrap();
    assert!(third.is_some(), "free again");
}

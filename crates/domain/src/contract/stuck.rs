//! What every `PaymentRepository` promises reconciliation: which payments may be stuck, and
//! that each comes up in turn.

use super::payments::{opened, paid_commit, with_session, world};
use super::{Store, at};
use crate::payment::Payment;

super::cases![
    stuck_payments_are_the_lapsed_and_the_stale_oldest_first,
    stuck_payments_are_taken_in_turn,
];

async fn stuck_payments_are_the_lapsed_and_the_stale_oldest_first(store: &dyn Store) {
    let repo = store.payments();
    // Open, its session lapsed at 3,600 s.
    let (o1, p1) = world(store, 50, "PAY0-000C").await;
    let (p1, _) = repo.open_or_get(&p1).await.unwrap();
    repo.record_session(&with_session(&p1, "cs_stuck_1"), &opened(&o1, &p1))
        .await
        .unwrap();
    // Pending (no session ever recorded) since 2 s.
    let (_, p2) = world(store, 51, "PAY0-000D").await;
    let (p2, _) = repo.open_or_get(&p2).await.unwrap();
    // Paid: never stuck.
    let (o3, p3) = world(store, 52, "PAY0-000E").await;
    let (p3, _) = repo.open_or_get(&p3).await.unwrap();
    repo.commit(&paid_commit(&o3, &p3, "evt_7")).await.unwrap();

    let ids = |ps: Vec<Payment>| ps.into_iter().map(|p| p.id).collect::<Vec<_>>();
    // Before the session lapses and while the pending one is fresh: nothing.
    let none = repo.stuck(at(100), at(1), 10).await.unwrap();
    assert!(
        none.iter().all(|p| p.id != p1.id && p.id != p2.id),
        "{none:?}"
    );
    // Later: both, oldest first, and never the paid one.
    let both = ids(repo.stuck(at(7200), at(7200), 10).await.unwrap());
    let mine: Vec<_> = both
        .iter()
        .filter(|id| [p1.id, p2.id, p3.id].contains(id))
        .copied()
        .collect();
    assert_eq!(mine, vec![p1.id, p2.id]);
    assert_eq!(repo.stuck(at(7200), at(7200), 1).await.unwrap().len(), 1);
}

/// Payments that stay stuck (processing for days) never starve the others: each call takes
/// those looked at least recently, so every stuck payment comes up within
/// `ceil(stuck / limit)` calls.
async fn stuck_payments_are_taken_in_turn(store: &dyn Store) {
    let repo = store.payments();
    let mut mine = Vec::new();
    for (line, reference) in [(60, "PAY0-00T1"), (61, "PAY0-00T2"), (62, "PAY0-00T3")] {
        let (_, p) = world(store, line, reference).await;
        let (p, _) = repo.open_or_get(&p).await.unwrap();
        mine.push(p.id);
    }
    let take = |seconds: i64| {
        let repo = repo.clone();
        let mine = mine.clone();
        async move {
            repo.stuck(at(seconds), at(7200), 2)
                .await
                .unwrap()
                .into_iter()
                .map(|p| p.id)
                .filter(|id| mine.contains(id))
                .collect::<Vec<_>>()
        }
    };
    let first = take(7200).await;
    assert_eq!(first.len(), 2, "{first:?}");
    let second = take(7300).await;
    let left_out = mine.iter().find(|id| !first.contains(id)).unwrap();
    assert!(
        second.contains(left_out),
        "the one never looked at is taken first: {first:?} {second:?}"
    );
    let third = take(7400).await;
    let waited_longest = first.iter().find(|id| !second.contains(id)).unwrap();
    assert!(
        third.contains(waited_longest),
        "then the one looked at longest ago: {first:?} {second:?} {third:?}"
    );
}

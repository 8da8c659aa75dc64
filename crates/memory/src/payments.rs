//! Payments, processed events, order histories and leases, in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use orderpay_domain::order::{Order, OrderEvent, OrderId, OrderParts};
use orderpay_domain::payment::{
    EventCommit, EventSubject, Lease, Leases, Payment, PaymentId, PaymentKey, PaymentRepository,
};
use orderpay_domain::store::{StoreError, UniqueKey};

use crate::MemoryStore;

#[async_trait]
impl PaymentRepository for MemoryStore {
    async fn open_or_get(&self, payment: &Payment) -> Result<(Payment, bool), StoreError> {
        let mut t = self.lock();
        if !t.orders.contains_key(&payment.order_id()) {
            return Err(StoreError::MissingReference);
        }
        let open = t
            .payments
            .values()
            .find(|p| p.order_id() == payment.order_id() && p.status().is_open());
        if let Some(open) = open {
            return Ok((open.clone(), false));
        }
        t.payments.insert(payment.id(), payment.clone());
        Ok((payment.clone(), true))
    }

    async fn record_session(
        &self,
        opened: &Payment,
        event: &OrderEvent,
    ) -> Result<Payment, StoreError> {
        let mut t = self.lock();
        let stored = t
            .payments
            .get_mut(&opened.id())
            .ok_or(StoreError::MissingReference)?;
        if stored.version() != opened.version() {
            return Ok(stored.clone());
        }
        *stored = opened.next_version();
        let stored = stored.clone();
        t.record_event(event.clone());
        Ok(stored)
    }

    async fn find(&self, id: PaymentId) -> Result<Option<Payment>, StoreError> {
        Ok(self.lock().payments.get(&id).cloned())
    }

    async fn find_by_session(&self, session_id: &str) -> Result<Option<Payment>, StoreError> {
        Ok(self
            .lock()
            .payments
            .values()
            .find(|p| p.session().is_some_and(|s| s.id == session_id))
            .cloned())
    }

    async fn latest_for_order(&self, order: OrderId) -> Result<Option<Payment>, StoreError> {
        Ok(self
            .lock()
            .payments
            .values()
            .filter(|p| p.order_id() == order)
            .max_by_key(|p| (p.created_at(), p.id()))
            .cloned())
    }

    async fn event_subject(
        &self,
        event_id: &str,
        key: &PaymentKey,
    ) -> Result<Option<EventSubject>, StoreError> {
        let t = self.lock();
        let payment = match key {
            PaymentKey::Id(id) => t.payments.get(id).cloned(),
            PaymentKey::Provider(provider_id) => t
                .payments
                .values()
                .filter(|p| p.provider_payment_id() == Some(provider_id.as_str()))
                .max_by_key(|p| (p.created_at(), p.id()))
                .cloned(),
        };
        Ok(payment.and_then(|payment| {
            let order = t.orders.get(&payment.order_id())?.clone();
            Some(EventSubject {
                applied_before: t.processed_events.contains(event_id),
                payment,
                order,
            })
        }))
    }

    async fn stuck(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Payment>, StoreError> {
        let mut t = self.lock();
        let mut stuck: Vec<Payment> = t
            .payments
            .values()
            .filter(|p| p.may_be_stuck(now, stale_before))
            .cloned()
            .collect();
        // Never looked at (`None`) sorts first.
        stuck.sort_by_key(|p| (t.checked.get(&p.id()).copied(), p.created_at(), p.id()));
        stuck.truncate(usize::try_from(limit).unwrap_or(0));
        for p in &stuck {
            t.checked.insert(p.id(), now);
        }
        stuck.sort_by_key(|p| (p.created_at(), p.id()));
        Ok(stuck)
    }

    async fn commit(&self, commit: &EventCommit) -> Result<(), StoreError> {
        let mut t = self.lock();
        // Check everything first: the write is all or nothing, as in a transaction.
        if let Some(id) = &commit.event_id
            && t.processed_events.contains(id)
        {
            return Err(StoreError::Duplicate(UniqueKey::ProcessedEvent));
        }
        if let Some(p) = &commit.payment {
            let stored = t
                .payments
                .get(&p.id())
                .ok_or(StoreError::MissingReference)?;
            if stored.version() != p.version() {
                return Err(StoreError::Conflict);
            }
            let another_open = t
                .payments
                .values()
                .any(|o| o.id() != p.id() && o.order_id() == p.order_id() && o.status().is_open());
            if p.status().is_open() && another_open {
                return Err(StoreError::Duplicate(UniqueKey::OpenPayment));
            }
        }
        if let Some(o) = &commit.order {
            let stored = t.orders.get(&o.id()).ok_or(StoreError::MissingReference)?;
            if stored.version() != o.version() {
                return Err(StoreError::Conflict);
            }
        }
        if let Some(id) = &commit.event_id {
            t.processed_events.insert(id.clone());
        }
        if let Some(p) = &commit.payment {
            t.payments.insert(p.id(), p.next_version());
        }
        if let Some(o) = &commit.order {
            let version = o.version() + 1;
            t.orders.insert(
                o.id(),
                Order::restore(OrderParts {
                    version,
                    ..o.to_parts()
                }),
            );
        }
        for event in &commit.events {
            t.record_event(event.clone());
        }
        Ok(())
    }

    async fn record_once(&self, event: &OrderEvent) -> Result<bool, StoreError> {
        let mut t = self.lock();
        let seen = t
            .order_events
            .iter()
            .any(|e| e.order_id == event.order_id && e.kind == event.kind);
        if seen {
            return Ok(false);
        }
        t.record_event(event.clone());
        Ok(true)
    }
}

/// Leases within one process: enough for tests and demos on the in-memory store.
#[async_trait]
impl Leases for MemoryStore {
    async fn try_acquire(&self, job: &str) -> Result<Option<Box<dyn Lease>>, StoreError> {
        let mut t = self.lock();
        if !t.leases.insert(job.to_owned()) {
            return Ok(None);
        }
        Ok(Some(Box::new(MemoryLease {
            store: self.clone(),
            job: job.to_owned(),
        })))
    }

    async fn acquire(
        &self,
        job: &str,
        wait: std::time::Duration,
    ) -> Result<Option<Box<dyn Lease>>, StoreError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(lease) = self.try_acquire(job).await? {
                return Ok(Some(lease));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

struct MemoryLease {
    store: MemoryStore,
    job: String,
}

impl Lease for MemoryLease {}

impl Drop for MemoryLease {
    fn drop(&mut self) {
        self.store.lock().leases.remove(&self.job);
    }
}

//! In-memory implementations of orderpay's repository ports, for tests and demos. One
//! [`MemoryStore`] holds every table behind one lock, so its writes are atomic like the
//! database's transactions and foreign keys hold across repositories. [`SandboxGateway`] is
//! the payment provider that takes no money, for development without a Stripe account.

mod idempotency;
mod payments;
mod sandbox;
mod webhooks;

pub use sandbox::SandboxGateway;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use orderpay_domain::api_key::{ApiKey, ApiKeyId, ApiKeyRepository};
use orderpay_domain::customer::{Customer, CustomerChanges, CustomerId, CustomerRepository};
use orderpay_domain::idempotency::{IdempotencyKey, KeyedAnswer};
use orderpay_domain::order::{
    Inserted, Order, OrderEvent, OrderFilter, OrderId, OrderParts, OrderReference, OrderRepository,
    OrderStatus, PayToken,
};
use orderpay_domain::payment::{Payment, PaymentId};
use orderpay_domain::phone::PhoneNumber;
use orderpay_domain::store::{StoreError, UniqueKey};
use orderpay_domain::{Page, PageRequest};

#[derive(Default)]
pub(crate) struct Tables {
    customers: HashMap<CustomerId, Customer>,
    orders: HashMap<OrderId, Order>,
    api_keys: Vec<ApiKey>,
    payments: HashMap<PaymentId, Payment>,
    idempotency: HashMap<IdempotencyKey, idempotency::KeyRow>,
    /// When reconciliation last looked at a payment.
    checked: HashMap<PaymentId, chrono::DateTime<chrono::Utc>>,
    processed_events: HashSet<String>,
    order_events: Vec<OrderEvent>,
    leases: HashSet<String>,
    /// Webhooks out: endpoints, events and deliveries.
    outbox: webhooks::Outbox,
}

#[derive(Default, Clone)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding the lock leaves plain data behind, still consistent per write.
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Newest first, by creation time then id, the same order the database lists in.
fn newest_first<T>(rows: &mut [T], key: impl Fn(&T) -> (DateTime<Utc>, Uuid)) {
    rows.sort_by_key(|r| std::cmp::Reverse(key(r)));
}

/// The page after `starting_after` among rows already in list order.
fn page_of<T: Clone>(
    rows: Vec<T>,
    id: impl Fn(&T) -> Uuid,
    page: PageRequest,
) -> Result<Page<T>, StoreError> {
    let start = match page.starting_after {
        None => 0,
        Some(cursor) => {
            rows.iter()
                .position(|r| id(r) == cursor)
                .ok_or(StoreError::MissingReference)?
                + 1
        }
    };
    let window: Vec<T> = rows
        .into_iter()
        .skip(start)
        .take(page.limit.get() + 1)
        .collect();
    Ok(Page::from_overfetch(window, page.limit))
}

#[async_trait]
impl CustomerRepository for MemoryStore {
    async fn insert_or_get(&self, customer: &Customer) -> Result<(Customer, bool), StoreError> {
        let mut t = self.lock();
        if let Some(existing) = t.customers.values().find(|c| c.phone == customer.phone) {
            return Ok((existing.clone(), false));
        }
        if t.customers.contains_key(&customer.id) {
            return Err(StoreError::Duplicate(UniqueKey::Other));
        }
        t.customers.insert(customer.id, customer.clone());
        Ok((customer.clone(), true))
    }

    async fn find_by_id(&self, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        Ok(self.lock().customers.get(&id).cloned())
    }

    async fn find_by_phone(&self, phone: &PhoneNumber) -> Result<Option<Customer>, StoreError> {
        Ok(self
            .lock()
            .customers
            .values()
            .find(|c| &c.phone == phone)
            .cloned())
    }

    async fn update(
        &self,
        id: CustomerId,
        changes: &CustomerChanges,
        updated_at: DateTime<Utc>,
    ) -> Result<Customer, StoreError> {
        let mut t = self.lock();
        let stored = t
            .customers
            .get_mut(&id)
            .ok_or(StoreError::MissingReference)?;
        *stored = changes.applied_to(stored, updated_at);
        Ok(stored.clone())
    }

    async fn list(&self, page: PageRequest) -> Result<Page<Customer>, StoreError> {
        let mut rows: Vec<Customer> = self.lock().customers.values().cloned().collect();
        newest_first(&mut rows, |c| (c.created_at, c.id.as_uuid()));
        page_of(rows, |c| c.id.as_uuid(), page)
    }
}

/// Refuses an order whose reference or id is taken, as the database's unique keys do.
fn order_is_new(t: &Tables, order: &Order) -> Result<(), StoreError> {
    if t.orders
        .values()
        .any(|o| o.reference() == order.reference())
    {
        return Err(StoreError::Duplicate(UniqueKey::OrderReference));
    }
    if t.orders.contains_key(&order.id()) {
        return Err(StoreError::Duplicate(UniqueKey::Other));
    }
    Ok(())
}

/// Stores `order`, its `created` history row and, with `answer`, the client's key holding
/// `body`.
fn write_order(
    t: &mut Tables,
    order: Order,
    created: &OrderEvent,
    answer: Option<(&KeyedAnswer, String)>,
) -> Inserted {
    let customer_id = order.customer_id();
    t.orders.insert(order.id(), order);
    t.record_event(created.clone());
    if let Some((answer, body)) = answer {
        idempotency::store_in(t, answer, body);
    }
    Inserted::Stored(customer_id)
}

#[async_trait]
impl OrderRepository for MemoryStore {
    async fn insert<'a>(
        &self,
        order: &Order,
        created: &OrderEvent,
        answer: Option<&'a KeyedAnswer>,
    ) -> Result<Inserted, StoreError> {
        let mut t = self.lock();
        if let Some(claim) = answer.and_then(|a| idempotency::taken(&t, a)) {
            return Ok(Inserted::KeyTaken(claim));
        }
        if !t.customers.contains_key(&order.customer_id()) {
            return Err(StoreError::MissingReference);
        }
        order_is_new(&t, order)?;
        let body = answer.map(|a| a.response.body.clone());
        Ok(write_order(
            &mut t,
            order.clone(),
            created,
            answer.zip(body),
        ))
    }

    async fn insert_with_customer<'a>(
        &self,
        customer: &Customer,
        order: &Order,
        created: &OrderEvent,
        answer: Option<&'a KeyedAnswer>,
    ) -> Result<Inserted, StoreError> {
        let mut t = self.lock();
        if let Some(claim) = answer.and_then(|a| idempotency::taken(&t, a)) {
            return Ok(Inserted::KeyTaken(claim));
        }
        let existing = t
            .customers
            .values()
            .find(|c| c.phone == customer.phone)
            .map(|c| c.id);
        order_is_new(&t, order)?;
        let customer_id = existing.unwrap_or(customer.id);
        if existing.is_none() {
            t.customers.insert(customer.id, customer.clone());
        }
        // The order goes to whichever customer holds the phone, and so does the answer.
        let stored = Order::restore(OrderParts {
            customer_id,
            ..order.to_parts()
        });
        let body = answer.map(|a| {
            a.response
                .body
                .replace(&customer.id.to_string(), &customer_id.to_string())
        });
        Ok(write_order(&mut t, stored, created, answer.zip(body)))
    }

    async fn find_by_pay_token(&self, token: &PayToken) -> Result<Option<Order>, StoreError> {
        Ok(self
            .lock()
            .orders
            .values()
            .find(|o| o.pay_token() == token)
            .cloned())
    }

    async fn find_by_id(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        Ok(self.lock().orders.get(&id).cloned())
    }

    async fn find_by_reference(
        &self,
        reference: &OrderReference,
    ) -> Result<Option<Order>, StoreError> {
        Ok(self
            .lock()
            .orders
            .values()
            .find(|o| o.reference() == *reference)
            .cloned())
    }

    async fn list(
        &self,
        filter: OrderFilter,
        page: PageRequest,
    ) -> Result<Page<Order>, StoreError> {
        // The cursor row stays in whatever the filter says, so the page can start after it.
        let is_cursor = |o: &Order| Some(o.id().as_uuid()) == page.starting_after;
        let mut rows: Vec<Order> = self
            .lock()
            .orders
            .values()
            .filter(|o| {
                is_cursor(o)
                    || (filter.customer_id.is_none_or(|c| o.customer_id() == c)
                        && filter.status.is_none_or(|s| o.status() == s))
            })
            .cloned()
            .collect();
        newest_first(&mut rows, |o| (o.created_at(), o.id().as_uuid()));
        page_of(rows, |o| o.id().as_uuid(), page)
    }

    async fn update_status(
        &self,
        order: &Order,
        expected: OrderStatus,
        event: &OrderEvent,
    ) -> Result<(), StoreError> {
        let mut t = self.lock();
        let stored = t
            .orders
            .get_mut(&order.id())
            .ok_or(StoreError::MissingReference)?;
        if stored.status() != expected {
            return Err(StoreError::Conflict);
        }
        let version = stored.version() + 1;
        *stored = Order::restore(OrderParts {
            status: order.status(),
            updated_at: order.updated_at(),
            version,
            ..stored.to_parts()
        });
        t.record_event(event.clone());
        Ok(())
    }

    async fn order_with_latest_payment(
        &self,
        order: OrderId,
    ) -> Result<Option<(Order, Option<Payment>)>, StoreError> {
        let t = self.lock();
        let latest = t
            .payments
            .values()
            .filter(|p| p.order_id() == order)
            .max_by_key(|p| (p.created_at(), p.id()))
            .cloned();
        Ok(t.orders.get(&order).map(|o| (o.clone(), latest)))
    }

    async fn history(&self, order: OrderId) -> Result<Vec<OrderEvent>, StoreError> {
        let mut events: Vec<OrderEvent> = self
            .lock()
            .order_events
            .iter()
            .filter(|e| e.order_id == order)
            .cloned()
            .collect();
        events.sort_by_key(|e| (e.created_at, e.id));
        Ok(events)
    }
}

#[async_trait]
impl ApiKeyRepository for MemoryStore {
    async fn insert(&self, key: &ApiKey) -> Result<(), StoreError> {
        let mut t = self.lock();
        if t.api_keys.iter().any(|k| k.prefix == key.prefix) {
            return Err(StoreError::Duplicate(UniqueKey::ApiKeyPrefix));
        }
        t.api_keys.push(key.clone());
        Ok(())
    }

    async fn find_by_prefix(&self, prefix: &str) -> Result<Option<ApiKey>, StoreError> {
        Ok(self
            .lock()
            .api_keys
            .iter()
            .find(|k| k.prefix == prefix)
            .cloned())
    }

    async fn list(&self) -> Result<Vec<ApiKey>, StoreError> {
        Ok(self.lock().api_keys.clone())
    }

    async fn revoke(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut t = self.lock();
        let key = t
            .api_keys
            .iter_mut()
            .find(|k| k.id == id)
            .ok_or(StoreError::MissingReference)?;
        key.revoked_at.get_or_insert(at);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderpay_domain::contract::Store;
    use orderpay_domain::idempotency::IdempotencyStore;
    use orderpay_domain::payment::PaymentRepository;

    impl Store for MemoryStore {
        fn customers(&self) -> Arc<dyn CustomerRepository> {
            Arc::new(self.clone())
        }
        fn orders(&self) -> Arc<dyn OrderRepository> {
            Arc::new(self.clone())
        }
        fn api_keys(&self) -> Arc<dyn ApiKeyRepository> {
            Arc::new(self.clone())
        }
        fn payments(&self) -> Arc<dyn PaymentRepository> {
            Arc::new(self.clone())
        }
        fn idempotency(&self) -> Arc<dyn IdempotencyStore> {
            Arc::new(self.clone())
        }
        fn leases(&self) -> Arc<dyn orderpay_domain::payment::Leases> {
            Arc::new(self.clone())
        }
        fn webhooks(&self) -> Arc<dyn orderpay_domain::webhook::WebhookRepository> {
            Arc::new(self.clone())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_repository_contract_holds() {
        orderpay_domain::contract::run_all(async || MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn the_sandbox_keeps_the_gateway_contract() {
        use orderpay_domain::payment::{PaymentGateway, TestLinks};
        orderpay_domain::contract::run_gateway(async || {
            let links = Arc::new(TestLinks("https://pay.example.com"));
            Arc::new(crate::SandboxGateway::new(links)) as Arc<dyn PaymentGateway>
        })
        .await;
    }
}

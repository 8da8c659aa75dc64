//! Webhooks out in memory: endpoints, the event outbox (each history entry with the order and
//! payment as it left them) and deliveries, by the domain's rules (`WebhookEndpoint::receives`
//! for fan-out, one order's events in order, a fair share per endpoint, outcomes only under
//! their claim), so the HTTP tests and the contract suite run on it as on PostgreSQL.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use orderpay_domain::order::{OrderEvent, OrderEventId, OrderEventType, OrderId};
use orderpay_domain::payment::Payment;
use orderpay_domain::store::StoreError;
use orderpay_domain::webhook::{
    Attempt, Claim, Delivery, DeliveryId, DeliveryStatus, DueDelivery, EndpointHealth,
    EndpointStatus, Event, RecordedAttempt, WebhookEndpoint, WebhookEndpointId, WebhookRepository,
};
use orderpay_domain::{Page, PageRequest};

use crate::{MemoryStore, Tables, newest_first, page_of};

/// The outbox's tables.
#[derive(Default)]
pub(crate) struct Outbox {
    endpoints: Vec<WebhookEndpoint>,
    deliveries: Vec<Row>,
    /// Each history entry's event: the order and payment as the change left them, and
    /// whether it is still in the feed.
    events: HashMap<OrderEventId, Snapshot>,
    /// History entries in the order they were written.
    sequence: i64,
}

struct Snapshot {
    event: Event,
    published: bool,
}

struct Row {
    delivery: Delivery,
    order_id: OrderId,
    sequence: i64,
    lease: Option<(Uuid, DateTime<Utc>)>,
}

impl Tables {
    /// Writes a history entry, after the change it records: the event (with the order and its
    /// latest payment as they are now), and a delivery to each endpoint that receives it.
    pub(crate) fn record_event(&mut self, entry: OrderEvent) {
        if let Some(order) = self.orders.get(&entry.order_id).cloned() {
            let payment = latest_payment(self, entry.order_id);
            let outbox = &mut self.outbox;
            outbox.sequence += 1;
            let sequence = outbox.sequence;
            let now = Utc::now();
            for endpoint in outbox.endpoints.iter().filter(|e| e.receives(entry.kind)) {
                outbox.deliveries.push(Row {
                    delivery: Delivery {
                        id: DeliveryId::generate(),
                        endpoint_id: endpoint.id,
                        event_id: entry.id,
                        event_type: entry.kind,
                        status: DeliveryStatus::Pending,
                        attempts: 0,
                        next_attempt_at: Some(now),
                        last_attempt_at: None,
                        last_attempt: None,
                        created_at: now,
                    },
                    order_id: entry.order_id,
                    sequence,
                    lease: None,
                });
            }
            outbox.events.insert(
                entry.id,
                Snapshot {
                    event: Event {
                        id: entry.id,
                        kind: entry.kind,
                        created_at: entry.created_at,
                        order,
                        payment,
                    },
                    published: true,
                },
            );
        }
        self.order_events.push(entry);
    }
}

fn latest_payment(t: &Tables, order: OrderId) -> Option<Payment> {
    t.payments
        .values()
        .filter(|p| p.order_id() == order)
        .max_by_key(|p| (p.created_at(), p.id().as_uuid()))
        .cloned()
}

impl Outbox {
    fn pending_before(&self, row: &Row) -> bool {
        self.deliveries.iter().any(|other| {
            other.delivery.endpoint_id == row.delivery.endpoint_id
                && other.order_id == row.order_id
                && other.delivery.status == DeliveryStatus::Pending
                && other.sequence < row.sequence
        })
    }

    fn endpoint(&self, id: WebhookEndpointId) -> Option<&WebhookEndpoint> {
        self.endpoints.iter().find(|e| e.id == id)
    }
}

#[async_trait]
impl WebhookRepository for MemoryStore {
    async fn insert_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError> {
        self.lock().outbox.endpoints.push(endpoint.clone());
        Ok(())
    }

    async fn endpoint(&self, id: WebhookEndpointId) -> Result<Option<WebhookEndpoint>, StoreError> {
        Ok(self.lock().outbox.endpoint(id).cloned())
    }

    async fn endpoints(&self, page: PageRequest) -> Result<Page<WebhookEndpoint>, StoreError> {
        let mut rows = self.lock().outbox.endpoints.clone();
        newest_first(&mut rows, |e| (e.created_at, e.id.as_uuid()));
        page_of(rows, |e| e.id.as_uuid(), page)
    }

    async fn update_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<bool, StoreError> {
        let mut t = self.lock();
        let Some(stored) = t.outbox.endpoints.iter_mut().find(|e| e.id == endpoint.id) else {
            return Ok(false);
        };
        if stored.version != endpoint.version {
            return Err(StoreError::Conflict);
        }
        *stored = WebhookEndpoint {
            version: endpoint.version + 1,
            ..endpoint.clone()
        };
        Ok(true)
    }

    async fn delete_endpoint(&self, id: WebhookEndpointId) -> Result<bool, StoreError> {
        let mut t = self.lock();
        let before = t.outbox.endpoints.len();
        t.outbox.endpoints.retain(|e| e.id != id);
        t.outbox.deliveries.retain(|r| r.delivery.endpoint_id != id);
        Ok(t.outbox.endpoints.len() < before)
    }

    async fn event(&self, id: OrderEventId) -> Result<Option<Event>, StoreError> {
        Ok(self
            .lock()
            .outbox
            .events
            .get(&id)
            .filter(|s| s.published)
            .map(|s| s.event.clone()))
    }

    async fn events(
        &self,
        kind: Option<OrderEventType>,
        page: PageRequest,
    ) -> Result<Page<Event>, StoreError> {
        let t = self.lock();
        let mut rows: Vec<&Snapshot> = t
            .outbox
            .events
            .values()
            .filter(|s| s.published && kind.is_none_or(|k| s.event.kind == k))
            .collect();
        rows.sort_by_key(|s| std::cmp::Reverse(s.event.id.as_uuid()));
        let rows: Vec<Event> = rows.into_iter().map(|s| s.event.clone()).collect();
        page_of(rows, |e| e.id.as_uuid(), page)
    }

    async fn deliveries(
        &self,
        endpoint: WebhookEndpointId,
        page: PageRequest,
    ) -> Result<Page<Delivery>, StoreError> {
        let mut rows: Vec<Delivery> = self
            .lock()
            .outbox
            .deliveries
            .iter()
            .filter(|r| r.delivery.endpoint_id == endpoint)
            .map(|r| r.delivery.clone())
            .collect();
        newest_first(&mut rows, |d| (d.created_at, d.id.as_uuid()));
        page_of(rows, |d| d.id.as_uuid(), page)
    }

    async fn retry_delivery(
        &self,
        endpoint: WebhookEndpointId,
        delivery: DeliveryId,
        now: DateTime<Utc>,
    ) -> Result<Option<Delivery>, StoreError> {
        let mut t = self.lock();
        let Some(row) = t
            .outbox
            .deliveries
            .iter_mut()
            .find(|r| r.delivery.id == delivery && r.delivery.endpoint_id == endpoint)
        else {
            return Ok(None);
        };
        row.delivery.status = DeliveryStatus::Pending;
        row.delivery.next_attempt_at = Some(now);
        row.lease = None;
        Ok(Some(row.delivery.clone()))
    }

    async fn purge_deliveries(
        &self,
        before: DateTime<Utc>,
        batch: usize,
    ) -> Result<usize, StoreError> {
        let mut t = self.lock();
        let mut settled: Vec<(DateTime<Utc>, DeliveryId)> = t
            .outbox
            .deliveries
            .iter()
            .filter(|r| {
                r.delivery.status != DeliveryStatus::Pending && r.delivery.created_at < before
            })
            .map(|r| (r.delivery.created_at, r.delivery.id))
            .collect();
        settled.sort_by_key(|(at, id)| (*at, id.as_uuid()));
        settled.truncate(batch);
        t.outbox
            .deliveries
            .retain(|r| !settled.iter().any(|(_, id)| *id == r.delivery.id));
        Ok(settled.len())
    }

    async fn retire_events(
        &self,
        before: DateTime<Utc>,
        batch: usize,
    ) -> Result<usize, StoreError> {
        let mut t = self.lock();
        let outbox = &mut t.outbox;
        let needed: Vec<OrderEventId> = outbox
            .deliveries
            .iter()
            .filter(|r| r.delivery.status == DeliveryStatus::Pending)
            .map(|r| r.delivery.event_id)
            .collect();
        let mut old: Vec<OrderEventId> = outbox
            .events
            .values()
            .filter(|s| s.published && s.event.created_at < before && !needed.contains(&s.event.id))
            .map(|s| s.event.id)
            .collect();
        old.sort_by_key(|id| id.as_uuid());
        old.truncate(batch);
        for id in &old {
            if let Some(s) = outbox.events.get_mut(id) {
                s.published = false;
            }
        }
        Ok(old.len())
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        claim: &Claim,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let mut t = self.lock();
        let outbox = &mut t.outbox;
        let mut candidates: Vec<usize> = (0..outbox.deliveries.len())
            .filter(|&i| {
                let row = &outbox.deliveries[i];
                let d = &row.delivery;
                d.status == DeliveryStatus::Pending
                    && d.next_attempt_at.is_some_and(|at| at <= now)
                    && row.lease.is_none_or(|(_, until)| until < now)
                    && !claim.skip.contains(&d.endpoint_id)
                    && outbox
                        .endpoint(d.endpoint_id)
                        .is_some_and(|e| e.status == EndpointStatus::Enabled)
                    && !outbox.pending_before(row)
            })
            .collect();
        candidates.sort_by_key(|&i| {
            let row = &outbox.deliveries[i];
            (row.delivery.next_attempt_at, row.sequence)
        });
        let mut per_endpoint: HashMap<WebhookEndpointId, usize> = HashMap::new();
        let mut taken = Vec::new();
        for i in candidates {
            if taken.len() == claim.limit {
                break;
            }
            let share = per_endpoint
                .entry(outbox.deliveries[i].delivery.endpoint_id)
                .or_default();
            if *share < claim.per_endpoint {
                *share += 1;
                taken.push(i);
            }
        }
        let token = Uuid::new_v4();
        let mut due = Vec::new();
        for i in taken {
            let row = &mut outbox.deliveries[i];
            row.lease = Some((token, now + claim.lease));
            row.delivery.attempts += 1;
            let (id, attempts, endpoint_id, event_id) = (
                row.delivery.id,
                row.delivery.attempts,
                row.delivery.endpoint_id,
                row.delivery.event_id,
            );
            let endpoint = outbox
                .endpoint(endpoint_id)
                .cloned()
                .ok_or(StoreError::MissingReference)?;
            let event = outbox
                .events
                .get(&event_id)
                .map(|s| s.event.clone())
                .ok_or(StoreError::MissingReference)?;
            due.push(DueDelivery {
                id,
                lease: token,
                attempts,
                endpoint,
                event,
            });
        }
        Ok(due)
    }

    async fn record_attempts(
        &self,
        attempts: &[RecordedAttempt],
        endpoints: &[(WebhookEndpointId, EndpointHealth)],
    ) -> Result<(), StoreError> {
        let mut t = self.lock();
        let outbox = &mut t.outbox;
        for recorded in attempts {
            let Some(row) = outbox.deliveries.iter_mut().find(|r| {
                r.delivery.id == recorded.delivery
                    && r.lease.is_some_and(|(l, _)| l == recorded.lease)
            }) else {
                continue;
            };
            row.lease = None;
            row.delivery.status = recorded.verdict.status;
            row.delivery.next_attempt_at = recorded.verdict.next_attempt_at;
            row.delivery.last_attempt_at = Some(recorded.attempted_at);
            row.delivery.last_attempt = Some(Attempt {
                response: Attempt::answer_text(recorded.attempt.response.as_bytes()),
                ..recorded.attempt.clone()
            });
        }
        for (id, health) in endpoints {
            let Some(e) = outbox.endpoints.iter_mut().find(|e| e.id == *id) else {
                continue;
            };
            if health.apply_to(e) {
                e.version += 1;
            }
        }
        Ok(())
    }
}

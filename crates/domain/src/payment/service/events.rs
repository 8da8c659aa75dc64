//! Provider events: applying one exactly once, and closing a payment whose session lapsed.
//! Reconciliation, beside this file, feeds what the provider says through the same path.

use std::sync::Arc;

use anyhow::anyhow;
use chrono::TimeDelta;

use super::CONFLICT_RETRIES;
use crate::clock::Clock;
use crate::order::{OrderEvent, OrderEventType};
use crate::payment::{
    EventCommit, EventSubject, Leases, Payment, PaymentGateway, PaymentKey, PaymentRepository,
    ProviderEvent, decide,
};
use crate::store::{StoreError, UniqueKey};

/// What applying a provider event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Changed,
    /// Stale or repeated in substance: recorded, nothing changed.
    Unchanged,
    /// This event id was applied before.
    Duplicate,
    /// The event concerns no payment orderpay made (another integration on the account).
    Ignored,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The event names an orderpay payment the store does not know: answer so that the
    /// provider delivers it again, never drop it.
    #[error("the event names payment {0}, which is not known here")]
    UnknownPayment(String),
    /// The store cannot be reached now: worth a retry (503).
    #[error("the store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

crate::store::from_store_error!(ApplyError);

/// Applies the provider's events (delivered, or learnt by reconciliation) to payments and
/// their orders.
#[derive(Clone)]
pub struct ProviderEventService {
    pub(super) payments: Arc<dyn PaymentRepository>,
    pub(super) gateway: Arc<dyn PaymentGateway>,
    /// One reconciliation at a time, across replicas.
    pub(super) leases: Arc<dyn Leases>,
    pub(super) clock: Arc<dyn Clock>,
    /// How long a session stays open: older open payments are stuck (reconciliation).
    pub(super) checkout_ttl: TimeDelta,
    /// See [`super::PaymentSettings::unknown_payment_grace`].
    pub(super) unknown_payment_grace: TimeDelta,
}

impl ProviderEventService {
    /// Applies a provider event exactly once: its id is recorded in the same atomic write as
    /// its effect, a repeat is `Duplicate`, a stale one `Unchanged`. A write that lost a race
    /// with another delivery or event is decided again on fresh rows. Two store calls: one
    /// read (payment, order, seen before?), one compare-and-set write; a repeat costs the read.
    ///
    /// # Errors
    /// `UnknownPayment` when the event names an orderpay payment the store does not know.
    #[tracing::instrument(skip_all, fields(event_id = %event.id))]
    pub async fn apply(&self, event: &ProviderEvent) -> Result<Applied, ApplyError> {
        let key = match (event.kind.payment_id(), event.kind.provider_payment_id()) {
            (Some(id), _) => PaymentKey::Id(id),
            (None, Some(provider_id)) => PaymentKey::Provider(provider_id.to_owned()),
            (None, None) => return Ok(Applied::Ignored),
        };
        for _ in 0..CONFLICT_RETRIES {
            let Some(subject) = self.payments.event_subject(&event.id, &key).await? else {
                return match key {
                    // Young enough to be a race with the write that made the payment: ask
                    // for it again. Older, it is another deployment's on the same account.
                    PaymentKey::Id(id)
                        if self.clock.now() - event.created > self.unknown_payment_grace =>
                    {
                        tracing::warn!(
                            event_id = %event.id,
                            payment_id = %id,
                            "event for a payment not known here, past the grace period: ignored \
                             (another deployment on the same provider account?)"
                        );
                        Ok(Applied::Ignored)
                    }
                    PaymentKey::Id(id) => Err(ApplyError::UnknownPayment(id.to_string())),
                    PaymentKey::Provider(_) => {
                        tracing::warn!("event for a payment orderpay did not make: ignored");
                        Ok(Applied::Ignored)
                    }
                };
            };
            // Seen before: answered without a write. (The commit's event id is still what
            // makes an event apply once: a repeat racing its first delivery past this check
            // is refused there.)
            if subject.applied_before {
                return Ok(Applied::Duplicate);
            }
            let EventSubject { payment, order, .. } = subject;
            let decision = decide(&order, &payment, &event.kind, self.clock.now());
            let changed = !decision.is_noop();
            let commit = EventCommit {
                event_id: Some(event.id.clone()),
                payment: decision.payment,
                order: decision.order,
                events: decision.events,
            };
            match self.payments.commit(&commit).await {
                Ok(()) if changed => {
                    tracing::info!(payment_id = %payment.id, order_id = %order.id(), "payment event applied");
                    return Ok(Applied::Changed);
                }
                Ok(()) => return Ok(Applied::Unchanged),
                Err(StoreError::Duplicate(UniqueKey::ProcessedEvent)) => {
                    return Ok(Applied::Duplicate);
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApplyError::Unexpected(anyhow!(
            "event {} kept losing races with other writers",
            event.id
        )))
    }

    /// Closes `payment` without a provider event (its session lapsed, or none was ever
    /// recorded), with its history row. Returns whether it did; a payment that changed
    /// meanwhile is left to whoever changed it.
    pub(super) async fn expire_locally(&self, payment: &Payment) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let Some(expired) = payment.expire(now) else {
            return Ok(false);
        };
        let commit = EventCommit {
            event_id: None,
            events: vec![
                OrderEvent::new(payment.order_id, OrderEventType::PaymentExpired, now)
                    .for_payment(payment.id),
            ],
            payment: Some(expired),
            order: None,
        };
        match self.payments.commit(&commit).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

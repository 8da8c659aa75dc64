//! Clearing an order's flags once a person has dealt with what they flag.

use anyhow::anyhow;

use super::{CONFLICT_RETRIES, OrderMoneyService};
use crate::order::{Order, OrderEvent, OrderEventType, OrderFlag, OrderId};
use crate::payment::EventCommit;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ClearFlagsError {
    #[error("no such order")]
    NotFound,
    /// The store cannot be reached now: worth a retry (503).
    #[error("the store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

crate::store::from_store_error!(ClearFlagsError);

impl OrderMoneyService {
    /// Clears `flags` (all of them when empty) from the order, with one `order.flag_cleared`
    /// history entry per flag that was set, naming `actor` (who decided it). A pending order
    /// whose flags are all cleared can be paid again. Clearing a flag that is not set changes
    /// nothing.
    ///
    /// # Errors
    /// `NotFound`.
    #[tracing::instrument(skip_all, fields(order_id = %id))]
    pub async fn clear_flags(
        &self,
        id: OrderId,
        flags: &[OrderFlag],
        actor: &str,
    ) -> Result<Order, ClearFlagsError> {
        for _ in 0..CONFLICT_RETRIES {
            let mut order = self
                .orders
                .find_by_id(id)
                .await?
                .ok_or(ClearFlagsError::NotFound)?;
            let now = self.clock.now();
            let wanted: Vec<OrderFlag> = if flags.is_empty() {
                order.flags().iter().copied().collect()
            } else {
                flags.to_vec()
            };
            let events: Vec<OrderEvent> = wanted
                .into_iter()
                .filter(|flag| order.clear_flag(*flag, now))
                .map(|flag| {
                    let mut event = OrderEvent::new(id, OrderEventType::FlagCleared, now);
                    event.reason = Some(flag.as_str().to_owned());
                    event.actor = Some(actor.to_owned());
                    event
                })
                .collect();
            if events.is_empty() {
                return Ok(order);
            }
            let commit = EventCommit {
                event_id: None,
                payment: None,
                order: Some(order.clone()),
                events,
            };
            match self.payments.commit(&commit).await {
                Ok(()) => {
                    tracing::info!("order flags cleared");
                    // The stored version moved on; read it back for the caller.
                    return self
                        .orders
                        .find_by_id(id)
                        .await?
                        .ok_or(ClearFlagsError::NotFound);
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ClearFlagsError::Unexpected(anyhow!(
            "order {id} kept changing while clearing its flags"
        )))
    }
}

//! Cancelling an order that may have a checkout session open at the provider: the one way an
//! order is cancelled.

use anyhow::anyhow;

use super::{OrderMoneyService, close_at_provider};
use crate::order::{Order, OrderEvent, OrderEventType, OrderId, OrderStatus, StatusEvent};
use crate::payment::PaymentStatus;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("no such order")]
    NotFound,
    #[error("the order is paid")]
    AlreadyPaid(OrderStatus),
    #[error("the order is already cancelled")]
    AlreadyCancelled,
    /// The customer paid with a delayed method (a bank debit) whose money is on its way:
    /// cancelling now would only leave that money to be refunded.
    #[error("a payment for the order is processing")]
    PaymentProcessing,
    /// The open checkout session could not be closed at the provider, so the order stays
    /// payable rather than risk money arriving for a cancelled order.
    #[error("the payment provider is unavailable")]
    ProviderUnavailable(#[source] anyhow::Error),
    /// The store cannot be reached now: worth a retry (503).
    #[error("the store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

/// Why an order in `status` cannot be cancelled, or `None` when it can.
fn refusal(status: OrderStatus) -> Option<CancelError> {
    match status.apply(StatusEvent::Cancel) {
        Ok(_) => None,
        Err(_) if status == OrderStatus::Cancelled => Some(CancelError::AlreadyCancelled),
        Err(_) => Some(CancelError::AlreadyPaid(status)),
    }
}

crate::store::from_store_error!(CancelError);

impl OrderMoneyService {
    /// Cancels an order that awaits payment, closing its open checkout session at the
    /// provider first so that no money can arrive for it afterwards. Money that arrives all
    /// the same (the customer paid in the same instant) is recorded and the order flagged.
    ///
    /// # Errors
    /// `AlreadyPaid` / `AlreadyCancelled` (also when that happened concurrently with this
    /// call); `PaymentProcessing` while a delayed payment is on its way; `ProviderUnavailable`
    /// when the session could not be closed (the order is left as it was).
    #[tracing::instrument(skip_all, fields(order_id = %id))]
    pub async fn cancel(&self, id: OrderId) -> Result<Order, CancelError> {
        let order = self
            .orders
            .find_by_id(id)
            .await?
            .ok_or(CancelError::NotFound)?;
        // The order's own rules say whether it can be cancelled, before the provider is asked.
        if let Some(refused) = refusal(order.status()) {
            return Err(refused);
        }
        let latest = self.payments.latest_for_order(id).await?;
        if latest
            .as_ref()
            .is_some_and(|p| p.status == PaymentStatus::Processing)
        {
            return Err(CancelError::PaymentProcessing);
        }
        if let Some(payment) = latest
            && payment.status == PaymentStatus::Open
            && let Some(session) = &payment.session
        {
            close_at_provider(self.gateway.as_ref(), &session.id)
                .await
                .map_err(CancelError::ProviderUnavailable)?;
        }
        self.mark_cancelled(order).await
    }

    /// Writes `order` cancelled if its status is still what was read; otherwise judges the
    /// cancel again against what is stored.
    async fn mark_cancelled(&self, mut order: Order) -> Result<Order, CancelError> {
        let (id, before, now) = (order.id(), order.status(), self.clock.now());
        order
            .transition(StatusEvent::Cancel, now)
            .map_err(|_| refusal(before).unwrap_or(CancelError::AlreadyCancelled))?;
        let cancelled = OrderEvent::new(id, OrderEventType::Cancelled, now);
        match self.orders.update_status(&order, before, &cancelled).await {
            Ok(()) => Ok(order),
            // Someone changed the status since it was read (a payment, another cancel).
            Err(StoreError::Conflict) => {
                let current = self
                    .orders
                    .find_by_id(id)
                    .await?
                    .ok_or(CancelError::NotFound)?;
                Err(refusal(current.status()).unwrap_or_else(|| {
                    CancelError::Unexpected(anyhow!("order {id} keeps changing status"))
                }))
            }
            Err(StoreError::MissingReference) => Err(CancelError::NotFound),
            Err(e) => Err(e.into()),
        }
    }
}

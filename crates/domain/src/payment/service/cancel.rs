//! Cancelling an order that may have a checkout session open at the provider.

use super::PaymentService;
use crate::order::{Order, OrderError, OrderId, OrderStatus, StatusEvent};
use crate::payment::{GatewayError, PaymentStatus};
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

impl From<OrderError> for CancelError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::NotFound => Self::NotFound,
            OrderError::IllegalTransition(t) if t.from == OrderStatus::Cancelled => {
                Self::AlreadyCancelled
            }
            OrderError::IllegalTransition(t) => Self::AlreadyPaid(t.from),
            OrderError::Unavailable(cause) => Self::Unavailable(cause),
            other => Self::Unexpected(other.into()),
        }
    }
}

impl From<StoreError> for CancelError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
            other => Self::Unexpected(other.into()),
        }
    }
}

impl PaymentService {
    /// Cancels an order that awaits payment, closing its open checkout session at the
    /// provider first so that no money can arrive for it afterwards. Money that arrives all
    /// the same (the customer paid in the same instant) is recorded and the order flagged.
    ///
    /// # Errors
    /// `AlreadyPaid` / `AlreadyCancelled`; `PaymentProcessing` while a delayed payment is on
    /// its way; `ProviderUnavailable` when the session could not be closed (the order is left
    /// as it was).
    #[tracing::instrument(skip_all, fields(order_id = %id))]
    pub async fn cancel(&self, id: OrderId) -> Result<Order, CancelError> {
        let order = self.order_service.get(id).await?;
        // The order's own rules say whether it can be cancelled, before the provider is asked.
        order
            .status()
            .apply(StatusEvent::Cancel)
            .map_err(|illegal| CancelError::from(OrderError::from(illegal)))?;
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
            match self.gateway.expire_checkout(&session.id).await {
                Ok(()) => {}
                // Already closed (expired or completed): its event tells the rest.
                Err(GatewayError::Rejected(why)) => {
                    tracing::info!(%why, "the provider did not expire the session");
                }
                Err(GatewayError::Unavailable(cause)) => {
                    return Err(CancelError::ProviderUnavailable(cause));
                }
            }
        }
        Ok(self.order_service.cancel(id).await?)
    }
}

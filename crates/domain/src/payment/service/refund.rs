//! Refunds through the provider, applied through the same path as its refund events.

use anyhow::anyhow;

use super::{ApplyError, PaymentService};
use crate::money::Amount;
use crate::order::{Order, OrderId, OrderStatus};
use crate::payment::{
    GatewayError, PaymentEventKind, PaymentStatus, ProviderEvent, RefundReason, RefundRequest,
};
use crate::store::StoreError;

/// A refund as asked for: all that is left (`amount: None`) or part of it.
#[derive(Debug, Clone, Default)]
pub struct RefundInput {
    pub amount: Option<Amount>,
    pub reason: Option<RefundReason>,
}

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error("no such order")]
    NotFound,
    /// Nothing was paid (or it is all refunded already).
    #[error("the order has no payment to refund")]
    NotPaid(OrderStatus),
    #[error("the amount is more than the {remaining} left to refund")]
    ExceedsRemaining { remaining: Amount },
    #[error("the payment provider is unavailable")]
    ProviderUnavailable(#[source] anyhow::Error),
    #[error("the payment provider refused the refund: {0}")]
    ProviderRejected(String),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

impl From<StoreError> for RefundError {
    fn from(e: StoreError) -> Self {
        Self::Unexpected(e.into())
    }
}

impl PaymentService {
    /// Refunds `input.amount` (by default all that is left) of the order's payment, through
    /// the provider with an idempotency key, and applies the result through the same path as
    /// the provider's refund event: whichever of the two comes first applies it, once.
    ///
    /// # Errors
    /// `NotPaid`, `ExceedsRemaining`, or the provider's `ProviderUnavailable` /
    /// `ProviderRejected`.
    #[tracing::instrument(skip_all, fields(order_id = %id))]
    pub async fn refund(&self, id: OrderId, input: RefundInput) -> Result<Order, RefundError> {
        let order = self
            .orders
            .find_by_id(id)
            .await?
            .ok_or(RefundError::NotFound)?;
        if !matches!(
            order.status(),
            OrderStatus::Paid | OrderStatus::PartiallyRefunded
        ) {
            return Err(RefundError::NotPaid(order.status()));
        }
        let payment = self
            .payments
            .latest_for_order(id)
            .await?
            .filter(|p| p.status == PaymentStatus::Succeeded);
        let (Some(payment), Some(provider_payment_id)) =
            (payment.clone(), payment.and_then(|p| p.provider_payment_id))
        else {
            return Err(RefundError::NotPaid(order.status()));
        };
        // Refunded beyond what was received cannot happen; if a provider ever said so, nothing
        // is left to refund.
        let remaining = payment
            .amount_received
            .checked_sub(payment.amount_refunded)
            .unwrap_or(Amount::ZERO);
        let amount = input.amount.unwrap_or(remaining);
        if amount == Amount::ZERO || amount > remaining {
            return Err(RefundError::ExceedsRemaining { remaining });
        }
        let request = RefundRequest {
            provider_payment_id: provider_payment_id.clone(),
            amount,
            currency: payment.currency,
            reason: input.reason,
            // The same refund asked again on the same state is the same refund.
            idempotency_key: format!(
                "orderpay-refund-{}-{}-{}",
                payment.id, payment.amount_refunded, amount
            ),
        };
        let refund = self.gateway.refund(&request).await.map_err(|e| match e {
            GatewayError::Unavailable(cause) => RefundError::ProviderUnavailable(cause),
            GatewayError::Rejected(why) => RefundError::ProviderRejected(why),
        })?;
        let refunded_total = payment
            .amount_refunded
            .checked_add(refund.amount)
            .map_err(|e| RefundError::Unexpected(e.into()))?;
        let event = ProviderEvent {
            id: format!("orderpay-refund:{}", refund.id),
            kind: PaymentEventKind::Refunded {
                provider_payment_id,
                refunded_total: refunded_total.minor_units(),
            },
            created: self.clock.now(),
        };
        self.apply(&event).await.map_err(|e| match e {
            ApplyError::UnknownPayment(p) => {
                RefundError::Unexpected(anyhow!("refunded payment {p} vanished"))
            }
            ApplyError::Unexpected(cause) => RefundError::Unexpected(cause),
        })?;
        self.orders
            .find_by_id(id)
            .await?
            .ok_or(RefundError::NotFound)
    }
}

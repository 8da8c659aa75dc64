//! Refunds through the provider, applied through the same path as its refund events.

use anyhow::anyhow;

use super::{ApplyError, OrderMoneyService};
use crate::money::Amount;
use crate::order::{Order, OrderId, OrderStatus};
use crate::payment::{
    GatewayError, Payment, PaymentEventKind, PaymentStatus, ProviderEvent, RefundReason,
    RefundRequest,
};

/// A refund as asked for: all that is left (`amount: None`) or part of it.
#[derive(Debug, Clone, Default)]
pub struct RefundInput {
    pub amount: Option<Amount>,
    pub reason: Option<RefundReason>,
    /// Names this request across retries (derived from the client's `Idempotency-Key`): the
    /// provider's key is then made from it, so two refunds of the same amount can be told
    /// apart, and a retry of either is the same request at the provider.
    pub request_key: Option<String>,
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
    /// Another refund of the same payment is being made and did not finish in time.
    #[error("another refund of this order is in progress")]
    InProgress,
    /// The store cannot be reached now: worth a retry (503).
    #[error("the store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

/// How long a refund waits for another refund of the same payment to finish.
const REFUND_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

crate::store::from_store_error!(RefundError);

impl OrderMoneyService {
    /// The paid order and its succeeded payment, or why there is nothing to refund.
    async fn refundable(&self, id: OrderId) -> Result<(Order, Payment), RefundError> {
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
        match self.payments.latest_for_order(id).await? {
            Some(p) if p.status == PaymentStatus::Succeeded && p.provider_payment_id.is_some() => {
                Ok((order, p))
            }
            _ => Err(RefundError::NotPaid(order.status())),
        }
    }

    /// Refunds `input.amount` (by default all that is left) of the order's payment, through
    /// the provider with an idempotency key, and applies the result through the same path as
    /// the provider's refund event: whichever of the two comes first applies it, once.
    ///
    /// Refunds of one payment run one at a time, across replicas (a lease), so each starts
    /// from the total the one before recorded and the totals add up. The provider's key is
    /// the request's own (payment, amount, reason): the same refund asked again, after a
    /// timeout say, reaches the provider as the same request and refunds once.
    ///
    /// # Errors
    /// `NotPaid`, `ExceedsRemaining`, `InProgress` (another refund of the payment did not
    /// finish within `REFUND_WAIT`), or the provider's `ProviderUnavailable` /
    /// `ProviderRejected`.
    #[tracing::instrument(skip_all, fields(order_id = %id))]
    pub async fn refund(&self, id: OrderId, input: RefundInput) -> Result<Order, RefundError> {
        let (_, payment) = self.refundable(id).await?;
        let _lease = self
            .leases
            .acquire(&format!("refund:{}", payment.id), REFUND_WAIT)
            .await?
            .ok_or(RefundError::InProgress)?;
        // Read again under the lease: a refund that ran meanwhile is counted.
        let (order, payment) = self.refundable(id).await?;
        let Some(provider_payment_id) = payment.provider_payment_id.clone() else {
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
            // The same refund asked again is the same request at the provider (which keeps
            // keys 24 hours), whatever was refunded since.
            idempotency_key: match &input.request_key {
                Some(request) => format!("orderpay-refund-{}-key-{request}", payment.id),
                None => format!(
                    "orderpay-refund-{}-{}-{}",
                    payment.id,
                    amount,
                    input.reason.map_or("none", RefundReason::as_str)
                ),
            },
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
        self.events.apply(&event).await.map_err(|e| match e {
            ApplyError::UnknownPayment(p) => {
                RefundError::Unexpected(anyhow!("refunded payment {p} vanished"))
            }
            ApplyError::Unavailable(cause) => RefundError::Unavailable(cause),
            ApplyError::Unexpected(cause) => RefundError::Unexpected(cause),
        })?;
        self.orders
            .find_by_id(id)
            .await?
            .ok_or(RefundError::NotFound)
    }
}

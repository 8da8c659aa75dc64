//! The sandbox provider's Pay and Decline buttons, as the events a real provider would send.

use super::{ApplyError, CheckoutOutcome, CheckoutService, PayLinkError};
use crate::order::{Order, OrderId, OrderStatus};
use crate::payment::{PaymentEventKind, PaymentProvider, PaymentStatus, ProviderEvent, SessionRef};

/// Why a test payment could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TestPaymentError {
    /// Test payments exist only while the sandbox is the provider.
    #[error("the sandbox is not the payment provider")]
    NotSandbox,
    /// The order cannot be paid now (unknown, paid, cancelled, flagged, not chargeable).
    #[error(transparent)]
    PayLink(#[from] PayLinkError),
    /// A payment of the order is on its way; it settles by itself.
    #[error("a payment of the order is processing")]
    Processing,
    #[error(transparent)]
    Apply(#[from] ApplyError),
}

impl From<crate::store::StoreError> for TestPaymentError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::PayLink(e.into())
    }
}

/// What pressing a sandbox button did.
#[derive(Debug, Clone)]
pub enum SandboxOutcome {
    /// Applied as the provider's event would be.
    Applied(Order),
    /// The session no longer takes a choice (expired, failed, paid, or its order cancelled):
    /// nothing changed.
    NotOpen(Order),
}

impl CheckoutService {
    /// A customer pays the order (or declines), for a bot's own tests, exactly as a person
    /// would in the sandbox: the pay link is made if it was not, its checkout opened, and the
    /// choice pressed; each step writes the history entries (and so the events and webhook
    /// deliveries) it writes for a person. The order as it is then.
    ///
    /// # Errors
    /// `NotSandbox` unless the sandbox is the provider; `PayLink` when the order cannot be
    /// paid; `Processing` while a payment is on its way.
    #[tracing::instrument(skip_all, fields(order_id = %id, pay))]
    pub async fn test_payment(&self, id: OrderId, pay: bool) -> Result<Order, TestPaymentError> {
        if self.gateway.provider() != PaymentProvider::Sandbox {
            return Err(TestPaymentError::NotSandbox);
        }
        self.pay_link(id).await?;
        let order = self
            .orders
            .find_by_id(id)
            .await?
            .ok_or(PayLinkError::NotFound)?;
        match self.checkout(order.pay_token()).await? {
            CheckoutOutcome::Redirect(_) => {}
            CheckoutOutcome::Processing(_) => return Err(TestPaymentError::Processing),
            CheckoutOutcome::Paid(_) => return Err(PayLinkError::AlreadyPaid.into()),
            CheckoutOutcome::Cancelled(_) => return Err(PayLinkError::Cancelled.into()),
            CheckoutOutcome::NeedsAttention(order) => {
                return Err(PayLinkError::Flagged(order.flags().iter().copied().collect()).into());
            }
            CheckoutOutcome::NotChargeable(_, refusal) => {
                return Err(PayLinkError::NotChargeable(refusal).into());
            }
        }
        let session = self
            .payments
            .latest_for_order(id)
            .await?
            .and_then(|payment| payment.session.map(|s| s.id))
            .ok_or_else(|| {
                PayLinkError::Unexpected(anyhow::anyhow!("an opened checkout has no session"))
            })?;
        self.sandbox_choice(&session, pay).await?;
        Ok(self
            .orders
            .find_by_id(id)
            .await?
            .ok_or(PayLinkError::NotFound)?)
    }

    /// The customer's choice on the sandbox's checkout page for `session_id`, applied as a
    /// provider's event: Pay completes the session paid, for exactly the payment's amount;
    /// Decline fails the payment, leaving the order payable. Only an open session of a
    /// pending order takes a choice. `None` for a session that is not the sandbox's (or not
    /// known).
    ///
    /// The event's id follows from the session and the choice, so a session records at most
    /// what a provider's would: pressing again is a duplicate, never a new row.
    ///
    /// # Errors
    /// As [`ProviderEventService::apply`].
    pub async fn sandbox_choice(
        &self,
        session_id: &str,
        pay: bool,
    ) -> Result<Option<SandboxOutcome>, ApplyError> {
        let Some((payment, order)) = self.session(session_id).await? else {
            return Ok(None);
        };
        if payment.provider != PaymentProvider::Sandbox {
            return Ok(None);
        }
        let now = self.clock.now();
        if payment.status != PaymentStatus::Open
            || payment.session_lapsed(now)
            || order.status() != OrderStatus::PendingPayment
        {
            return Ok(Some(SandboxOutcome::NotOpen(order)));
        }
        let session = SessionRef {
            session_id: session_id.to_owned(),
            payment_id: payment.id,
            order_id: order.id(),
        };
        let kind = if pay {
            PaymentEventKind::SessionCompleted {
                session,
                paid: true,
                amount: payment.amount.minor_units(),
                currency: payment.currency.code().to_owned(),
                provider_payment_id: Some(format!("sbx_pi_{}", payment.id.as_uuid().simple())),
            }
        } else {
            PaymentEventKind::AsyncPaymentFailed { session }
        };
        let event = ProviderEvent {
            id: format!(
                "evt_sbx_{session_id}_{}",
                if pay { "pay" } else { "decline" }
            ),
            kind,
            created: now,
        };
        self.events.apply(&event).await?;
        Ok(Some(SandboxOutcome::Applied(order)))
    }
}

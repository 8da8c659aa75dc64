//! The sandbox provider's Pay and Decline buttons, as the events a real provider would send.

use super::{ApplyError, CheckoutService};
use crate::order::{Order, OrderStatus};
use crate::payment::{PaymentEventKind, PaymentProvider, PaymentStatus, ProviderEvent, SessionRef};

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

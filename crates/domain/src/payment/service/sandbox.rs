//! The sandbox provider's Pay and Decline buttons, as the events a real provider would send.

use super::{ApplyError, PaymentService};
use crate::order::Order;
use crate::payment::{PaymentEventKind, PaymentProvider, ProviderEvent, SessionRef};

impl PaymentService {
    /// The customer's choice on the sandbox's checkout page for `session_id`, applied as a
    /// provider's event: Pay completes the session paid, for exactly the payment's amount;
    /// Decline fails the payment, leaving the order payable. `None` for a session that is
    /// not the sandbox's (or not known).
    ///
    /// # Errors
    /// As [`PaymentService::apply`].
    pub async fn sandbox_choice(
        &self,
        session_id: &str,
        pay: bool,
    ) -> Result<Option<Order>, ApplyError> {
        let Some((payment, order)) = self.session(session_id).await? else {
            return Ok(None);
        };
        if payment.provider != PaymentProvider::Sandbox {
            return Ok(None);
        }
        let session = SessionRef {
            session_id: session_id.to_owned(),
            payment_id: payment.id,
            order_id: order.id,
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
            id: format!("evt_sbx_{}", uuid::Uuid::new_v4().simple()),
            kind,
            created: self.clock.now(),
        };
        self.apply(&event).await?;
        Ok(Some(order))
    }
}

//! Reconciliation: asking the provider about payments whose events never came.

use super::{Applied, ApplyError, ProviderEventService};
use crate::payment::{PaymentEventKind, ProviderEvent, SessionRef, SessionState};

/// What a reconciliation run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// False when another process held the lease.
    pub ran: bool,
    pub examined: usize,
    pub changed: usize,
    /// Payments the provider could not tell about now; tried again next run.
    pub failed: usize,
}

impl ProviderEventService {
    /// Asks the provider for the true state of payments that are stuck (open past their
    /// expiry, pending or processing for too long) and applies it through the same path as
    /// the provider's events. One process at a time runs it (the `leases` port); the same
    /// state seen twice has the same event id, so it is never applied twice either way.
    ///
    /// # Errors
    /// When the store fails; a payment the provider cannot tell about now is skipped.
    #[tracing::instrument(skip_all)]
    pub async fn reconcile(&self) -> Result<Reconciled, ApplyError> {
        let Some(_lease) = self.leases.try_acquire("reconcile").await? else {
            return Ok(Reconciled::default());
        };
        let now = self.clock.now();
        let stale_before = now - self.checkout_ttl;
        let stuck = self.payments.stuck(now, stale_before, 200).await?;
        let mut report = Reconciled {
            ran: true,
            ..Reconciled::default()
        };
        for payment in stuck {
            report.examined += 1;
            let Some(session) = payment.session.clone() else {
                // No session was ever recorded: nothing can be open for it any more.
                report.changed += usize::from(self.expire_locally(&payment).await?);
                continue;
            };
            let state = match self.gateway.checkout_state(&session.id).await {
                Ok(state) => state,
                Err(e) => {
                    tracing::warn!(payment_id = %payment.id, error = %e, "could not ask the provider");
                    report.failed += 1;
                    continue;
                }
            };
            let reference = SessionRef {
                session_id: session.id.clone(),
                payment_id: payment.id,
                order_id: payment.order_id,
            };
            let (tag, kind) = match state {
                SessionState::Open => continue,
                SessionState::Expired => (
                    "expired",
                    PaymentEventKind::SessionExpired { session: reference },
                ),
                SessionState::Complete {
                    paid,
                    amount,
                    currency,
                    provider_payment_id,
                } => (
                    if paid { "paid" } else { "processing" },
                    PaymentEventKind::SessionCompleted {
                        session: reference,
                        paid,
                        amount,
                        currency,
                        provider_payment_id,
                    },
                ),
            };
            let event = ProviderEvent {
                id: format!("orderpay-reconcile:{}:{tag}", session.id),
                kind,
                created: now,
            };
            if self.apply(&event).await? == Applied::Changed {
                report.changed += 1;
            }
        }
        Ok(report)
    }
}

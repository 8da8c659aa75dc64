//! The sandbox payment provider: checkout is a page orderpay serves itself, with Pay and
//! Decline buttons that drive the same domain path as a real provider's events. No network,
//! no account, no money.

use std::sync::Arc;

use async_trait::async_trait;

use orderpay_domain::money::Currency;
use orderpay_domain::payment::{
    ChargeLimits, CheckoutRequest, CheckoutSession, CustomerLinks, GatewayError, PaymentGateway,
    PaymentProvider, RefundRequest, RefundResult, SessionState,
};

pub struct SandboxGateway {
    links: Arc<dyn CustomerLinks>,
}

impl SandboxGateway {
    /// A sandbox whose checkout pages are at `links`' `sandbox_checkout`.
    pub fn new(links: Arc<dyn CustomerLinks>) -> Self {
        Self { links }
    }
}

#[async_trait]
impl PaymentGateway for SandboxGateway {
    fn provider(&self) -> PaymentProvider {
        PaymentProvider::Sandbox
    }

    /// Any currency orderpay accepts, any amount: the sandbox moves no money.
    fn limits(&self, _currency: Currency) -> ChargeLimits {
        ChargeLimits::ANY
    }

    /// The session id follows from the payment, as a provider's idempotency key would make
    /// it: the same request opens the same session, on any replica, after any restart.
    async fn open_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, GatewayError> {
        let id = format!("sbx_cs_{}", request.payment.id().as_uuid().simple());
        Ok(CheckoutSession {
            url: self.links.sandbox_checkout(&id),
            id,
            expires_at: request.expires_at,
        })
    }

    async fn expire_checkout(&self, _session_id: &str) -> Result<(), GatewayError> {
        Ok(())
    }

    /// A sandbox session left open past its expiry took no money: it is expired.
    async fn checkout_state(&self, _session_id: &str) -> Result<SessionState, GatewayError> {
        Ok(SessionState::Expired)
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundResult, GatewayError> {
        Ok(RefundResult {
            id: format!("sbx_re_{}", request.idempotency_key),
            amount: request.amount,
        })
    }
}

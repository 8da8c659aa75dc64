//! The sandbox payment provider: checkout is a page orderpay serves itself, with Pay and
//! Decline buttons that drive the same domain path as a real provider's events. No network,
//! no account, no money.

use async_trait::async_trait;

use orderpay_domain::money::Currency;
use orderpay_domain::payment::{
    ChargeLimits, CheckoutRequest, CheckoutSession, GatewayError, PaymentGateway, PaymentProvider,
    RefundRequest, RefundResult, SessionState,
};

pub struct SandboxGateway {
    public_base_url: String,
}

impl SandboxGateway {
    pub fn new(public_base_url: &str) -> Self {
        Self {
            public_base_url: public_base_url.trim_end_matches('/').to_owned(),
        }
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
        let id = format!("sbx_cs_{}", request.payment.id.as_uuid().simple());
        Ok(CheckoutSession {
            url: format!("{}/sandbox/checkout/{id}", self.public_base_url),
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

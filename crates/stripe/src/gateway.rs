//! The `PaymentGateway` port on Stripe: Checkout Sessions for exactly an order's items,
//! created with an idempotency key per payment, and expired when an order is cancelled.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionCustomText, CreateCheckoutSessionLineItems,
    CreateCheckoutSessionLineItemsPriceData, CreateCheckoutSessionPaymentIntentData,
    CustomTextPositionParam, ExpireCheckoutSession, ProductData, RetrieveCheckoutSession,
};
use stripe_client_core::StripeRequest;
use stripe_core::refund::{CreateRefund, CreateRefundReason};
use stripe_shared::{CheckoutSessionMode, CheckoutSessionPaymentStatus, CheckoutSessionStatus};

use crate::units;

use orderpay_domain::money::{Amount, Currency};
use orderpay_domain::payment::{
    ChargeLimits, CheckoutRequest, CheckoutSession, GatewayError, PaymentGateway, PaymentProvider,
    RefundReason, RefundRequest, RefundResult, SessionState,
};

/// The Stripe API version this build speaks (async-stripe sends it on every request), and
/// the version a webhook endpoint must be set to.
pub fn stripe_api_version() -> &'static str {
    stripe_shared::version::VERSION.as_str()
}

pub struct StripeGateway {
    client: Client,
}

impl StripeGateway {
    /// A client for `secret_key` at `api_base` (`https://api.stripe.com`, or a test fake).
    ///
    /// # Errors
    /// When the client cannot be built (a malformed base URL).
    pub fn new(secret_key: &str, api_base: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = ClientBuilder::new(secret_key)
            .url(format!("{}/", api_base.trim_end_matches('/')))
            .timeout(timeout)
            .build()
            .map_err(|e| anyhow::anyhow!("building the Stripe client: {e}"))?;
        Ok(Self { client })
    }
}

fn gateway_error(e: StripeError) -> GatewayError {
    match e {
        StripeError::Stripe(errors, status) if (400..500).contains(&status) && status != 429 => {
            GatewayError::Rejected(
                errors
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("status {status}")),
            )
        }
        other => GatewayError::Unavailable(anyhow::anyhow!("Stripe: {other}")),
    }
}

fn idempotent(key: &str) -> Result<RequestStrategy, GatewayError> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| GatewayError::Rejected(format!("idempotency key: {e:?}")))
}

/// The Checkout Session request for `request`: the order's items as `price_data`, the
/// orderpay ids as metadata (on the session and on its PaymentIntent), the expiry and the
/// pages the customer returns to.
pub fn checkout_request(request: &CheckoutRequest) -> Result<CreateCheckoutSession, GatewayError> {
    let order = &request.order;
    let currency = stripe_types::Currency::from_str(order.currency().code())
        .map_err(|_| GatewayError::Rejected(format!("currency {}", order.currency())))?;
    let items = order
        .items()
        .iter()
        .map(|item| {
            let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency.clone());
            price.product_data = Some(ProductData::new(item.name.as_str()));
            price.unit_amount = Some(
                units::to_stripe(item.unit_amount, order.currency())
                    .map_err(GatewayError::Rejected)?,
            );
            let mut line = CreateCheckoutSessionLineItems::new();
            line.price_data = Some(price);
            line.quantity = Some(u64::from(item.quantity.get()));
            Ok(line)
        })
        .collect::<Result<Vec<CreateCheckoutSessionLineItems>, GatewayError>>()?;
    let metadata = HashMap::from([
        ("order_id".to_owned(), order.id().to_string()),
        ("payment_id".to_owned(), request.payment.id().to_string()),
        ("reference".to_owned(), order.reference().to_string()),
    ]);
    let merchant = &request.merchant;
    let mut intent = CreateCheckoutSessionPaymentIntentData::new();
    intent.metadata = Some(metadata.clone());
    intent.description = Some(format!("{} order {}", merchant.name(), order.reference()));
    // Stripe shows the account's own name; this says whom, and for what, above the button.
    let mut submit = format!(
        "Paying {} for order {}.",
        merchant.name(),
        order.reference()
    );
    if let Some(contact) = merchant.support_contact() {
        submit.push_str(" Questions: ");
        submit.push_str(contact);
    }
    let custom_text = CreateCheckoutSessionCustomText {
        submit: Some(CustomTextPositionParam { message: submit }),
        ..Default::default()
    };
    Ok(CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Payment)
        .line_items(items)
        .metadata(metadata)
        .payment_intent_data(intent)
        .custom_text(custom_text)
        .client_reference_id(order.id().to_string())
        .expires_at(request.expires_at.timestamp())
        .success_url(request.success_url.clone())
        .cancel_url(request.cancel_url.clone()))
}

#[async_trait]
impl PaymentGateway for StripeGateway {
    fn provider(&self) -> PaymentProvider {
        PaymentProvider::Stripe
    }

    fn limits(&self, currency: Currency) -> ChargeLimits {
        units::limits(currency)
    }

    async fn open_checkout(
        &self,
        request: &CheckoutRequest,
    ) -> Result<CheckoutSession, GatewayError> {
        let session = checkout_request(request)?
            .customize()
            .request_strategy(idempotent(&request.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(gateway_error)?;
        let url = session.url.ok_or_else(|| {
            GatewayError::Rejected("Stripe opened a session without a URL".into())
        })?;
        let expires_at = Utc
            .timestamp_opt(session.expires_at, 0)
            .single()
            .ok_or_else(|| GatewayError::Rejected("Stripe sent a bad expiry".into()))?;
        Ok(CheckoutSession {
            id: session.id.as_str().to_owned(),
            url,
            expires_at,
        })
    }

    async fn expire_checkout(&self, session_id: &str) -> Result<(), GatewayError> {
        ExpireCheckoutSession::new(session_id)
            .send(&self.client)
            .await
            .map(|_| ())
            .map_err(gateway_error)
    }

    async fn checkout_state(&self, session_id: &str) -> Result<SessionState, GatewayError> {
        let session = RetrieveCheckoutSession::new(session_id)
            .send(&self.client)
            .await
            .map_err(gateway_error)?;
        let currency = session.currency.map(|c| c.to_string()).unwrap_or_default();
        Ok(match session.status {
            Some(CheckoutSessionStatus::Complete) => SessionState::Complete {
                paid: matches!(
                    session.payment_status,
                    CheckoutSessionPaymentStatus::Paid
                        | CheckoutSessionPaymentStatus::NoPaymentRequired
                ),
                amount: units::from_stripe(session.amount_total.unwrap_or(0), &currency),
                currency,
                provider_payment_id: session.payment_intent.map(|pi| pi.id().as_str().to_owned()),
            },
            Some(CheckoutSessionStatus::Expired) => SessionState::Expired,
            _ => SessionState::Open,
        })
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundResult, GatewayError> {
        let mut create = CreateRefund::new()
            .payment_intent(request.provider_payment_id.clone())
            .amount(
                units::to_stripe(request.amount, request.currency)
                    .map_err(GatewayError::Rejected)?,
            );
        if let Some(reason) = request.reason {
            create = create.reason(match reason {
                RefundReason::Duplicate => CreateRefundReason::Duplicate,
                RefundReason::Fraudulent => CreateRefundReason::Fraudulent,
                RefundReason::RequestedByCustomer => CreateRefundReason::RequestedByCustomer,
            });
        }
        let refund = create
            .customize()
            .request_strategy(idempotent(&request.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(gateway_error)?;
        Ok(RefundResult {
            id: refund.id.as_str().to_owned(),
            amount: Amount::new(units::from_stripe(
                refund.amount,
                &refund.currency.to_string(),
            ))
            .map_err(|_| GatewayError::Rejected("Stripe refunded a negative amount".into()))?,
        })
    }
}

#[cfg(test)]
mod tests {
    /// The README tells operators which version to set on the webhook endpoint.
    #[test]
    fn the_pinned_api_version_is_the_one_the_readme_names() {
        assert_eq!(super::stripe_api_version(), "2026-09-30.endive");
        let readme = include_str!("../../../README.md");
        assert!(readme.contains(&format!("API version `{}`", super::stripe_api_version())));
    }
}

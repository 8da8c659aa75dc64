//! Stripe for orderpay: the `PaymentGateway` port on async-stripe (Checkout Sessions,
//! their expiry, refunds) and the `EventFeed` port for Stripe's signed webhooks.

mod gateway;
#[cfg(feature = "testing")]
pub mod testing;
mod units;
mod webhook;

pub use gateway::{StripeGateway, checkout_request, stripe_api_version};
pub use units::{from_stripe, limits, to_stripe};

pub use webhook::{StripeWebhooks, TOLERANCE_SECONDS, signature_header, translate};

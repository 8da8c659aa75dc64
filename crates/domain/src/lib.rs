//! orderpay's domain: customers, orders and API keys, the rules that govern them, and the ports
//! (traits) through which the domain reaches storage, upstream directories and the clock.
//!
//! Nothing here does IO. Adapters implement the ports; `app` wires them together.

#[macro_use]
mod id;

pub mod api_key;
pub mod clock;
pub mod customer;
pub mod idempotency;
pub mod merchant;
pub mod money;
pub mod order;
pub mod pagination;
pub mod payment;
pub mod phone;
pub mod store;
pub mod validation;
pub mod webhook;

#[cfg(feature = "testing")]
pub mod contract;

pub use clock::{Clock, SystemClock};
pub use pagination::{Limit, Page, PageRequest};
pub use store::StoreError;
pub use validation::{FieldError, Violations};

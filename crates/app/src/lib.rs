//! The orderpay service: configuration, wiring, start-up and the command line. No business
//! rules live here; they are in `orderpay-domain`.

pub mod cli;
pub mod config;
mod jobs;
pub mod metrics;
pub mod startup;
pub mod telemetry;
pub mod workers;

pub use config::Config;
pub use startup::Application;

//! End-to-end tests: the real app over HTTP against a real PostgreSQL, each test with its own
//! fresh database. `TEST_LOG=1` shows the service's logs.

mod auth;
mod authorization;
mod browser;
pub mod cli;
mod conformance;
mod customers;
mod health;
mod helpers;
mod idempotency;
mod limits;
mod metrics;
mod orders;
mod outages;
mod outbound;
mod outbound_faults;
mod outbound_processes;
mod payments;
mod pooled;
mod processes;
mod round_trips;
pub mod stripe;

//! The HTTP API's request/response behaviour, fast: actix's test service over the in-memory
//! store, no database. What only PostgreSQL shows (concurrency, outages, round trips) is in
//! `crates/app/tests/api`.

mod contract;
mod customers;
mod orders;
mod pay_links;
mod previews;
mod refunds;
mod validation;
mod world;

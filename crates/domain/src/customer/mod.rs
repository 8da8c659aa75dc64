//! Customers: who an order is for, identified by phone number.

mod models;
mod ports;
mod service;

pub use models::{Customer, CustomerChanges, CustomerId, CustomerName, Email, NewCustomer};
pub use ports::{CustomerDirectory, CustomerRepository, DirectoryEntry, DirectoryError};
#[cfg(any(test, feature = "testing"))]
pub use ports::{MockCustomerDirectory, MockCustomerRepository};
pub use service::{CustomerError, CustomerService};

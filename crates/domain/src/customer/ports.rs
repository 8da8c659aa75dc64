use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Customer, CustomerChanges, CustomerId};
use crate::pagination::{Page, PageRequest};
use crate::phone::PhoneNumber;
use crate::store::StoreError;

/// Where customers are kept.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait CustomerRepository: Send + Sync + 'static {
    /// Stores `customer` unless one with the same phone exists. Atomic: of any number of
    /// concurrent calls for one phone, exactly one stores its customer.
    ///
    /// Returns the stored customer (the new one, or the one already there) and whether this
    /// call created it.
    ///
    /// # Errors
    /// `Duplicate` for a clash on anything but the phone (an id), `Unexpected` otherwise.
    async fn insert_or_get(&self, customer: &Customer) -> Result<(Customer, bool), StoreError>;

    /// # Errors
    /// `Unexpected` when the store fails.
    async fn find_by_id(&self, id: CustomerId) -> Result<Option<Customer>, StoreError>;

    /// # Errors
    /// `Unexpected` when the store fails.
    async fn find_by_phone(&self, phone: &PhoneNumber) -> Result<Option<Customer>, StoreError>;

    /// Writes the fields `changes` gives, and `updated_at`, to the customer `id`, leaving the
    /// others as they are now, in one atomic step; returns the customer as stored after it.
    /// Concurrent updates of different fields therefore both persist.
    ///
    /// # Errors
    /// `MissingReference` when there is no such customer.
    async fn update(
        &self,
        id: CustomerId,
        changes: &CustomerChanges,
        updated_at: DateTime<Utc>,
    ) -> Result<Customer, StoreError>;

    /// Customers newest first.
    ///
    /// # Errors
    /// `MissingReference` when `page.starting_after` names no customer.
    async fn list(&self, page: PageRequest) -> Result<Page<Customer>, StoreError>;
}

/// What an upstream customer directory knows of a phone number, as it said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    pub name: String,
    pub email: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The directory did not answer in time, or answered something unusable.
    #[error("the customer directory is unavailable: {0:#}")]
    Unavailable(anyhow::Error),
}

/// An upstream source of customers (the system the business already had), asked only when the
/// database does not know a phone number.
#[cfg_attr(any(test, feature = "testing"), mockall::automock)]
#[async_trait]
pub trait CustomerDirectory: Send + Sync + 'static {
    /// `Ok(None)` when the directory does not know the number.
    ///
    /// # Errors
    /// `Unavailable` on timeout, transport failure, an error status or a malformed answer.
    async fn lookup(&self, phone: &PhoneNumber) -> Result<Option<DirectoryEntry>, DirectoryError>;
}

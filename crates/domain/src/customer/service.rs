use std::sync::Arc;

use anyhow::anyhow;

use super::models::NewCustomer;
use super::{
    Customer, CustomerChanges, CustomerDirectory, CustomerId, CustomerName, CustomerRepository,
    Email,
};
use crate::clock::Clock;
use crate::pagination::{Page, PageRequest};
use crate::phone::PhoneNumber;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CustomerError {
    #[error("no such customer")]
    NotFound,
    #[error("a customer with this phone number already exists ({existing})")]
    Duplicate { existing: CustomerId },
    #[error("no customer matches `starting_after`")]
    CursorNotFound,
    #[error(transparent)]
    DirectoryUnavailable(anyhow::Error),
    /// The store cannot be reached now: worth a retry (503).
    #[error("the store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

/// Creating, finding and changing customers.
#[derive(Clone)]
pub struct CustomerService {
    customers: Arc<dyn CustomerRepository>,
    directory: Option<Arc<dyn CustomerDirectory>>,
    clock: Arc<dyn Clock>,
}

crate::store::from_store_error!(CustomerError);

impl CustomerService {
    pub fn new(
        customers: Arc<dyn CustomerRepository>,
        directory: Option<Arc<dyn CustomerDirectory>>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            customers,
            directory,
            clock,
        }
    }

    /// Creates a customer.
    ///
    /// # Errors
    /// `Duplicate` with the existing customer's id when the phone is taken.
    #[tracing::instrument(skip_all)]
    pub async fn create(&self, new: NewCustomer) -> Result<Customer, CustomerError> {
        let (customer, created) = self
            .customers
            .insert_or_get(&new.into_customer(self.clock.now()))
            .await?;
        if created {
            Ok(customer)
        } else {
            Err(CustomerError::Duplicate {
                existing: customer.id,
            })
        }
    }

    #[tracing::instrument(skip_all, fields(customer_id = %id))]
    pub async fn get(&self, id: CustomerId) -> Result<Customer, CustomerError> {
        self.customers
            .find_by_id(id)
            .await?
            .ok_or(CustomerError::NotFound)
    }

    /// Finds a customer by phone: in the database first, then (when one is configured) in the
    /// upstream directory, whose answer is stored so the next lookup is local.
    ///
    /// # Errors
    /// `NotFound` when neither knows the number; `DirectoryUnavailable` when the directory
    /// failed or answered something that is not a valid customer.
    #[tracing::instrument(skip_all)]
    pub async fn find_by_phone(&self, phone: &PhoneNumber) -> Result<Customer, CustomerError> {
        if let Some(found) = self.customers.find_by_phone(phone).await? {
            return Ok(found);
        }
        let Some(directory) = &self.directory else {
            return Err(CustomerError::NotFound);
        };
        let entry = directory
            .lookup(phone)
            .await
            .map_err(|e| CustomerError::DirectoryUnavailable(e.into()))?
            .ok_or(CustomerError::NotFound)?;
        let invalid = |field: &str, why: String| {
            CustomerError::DirectoryUnavailable(anyhow!(
                "the customer directory returned an invalid {field}: {why}"
            ))
        };
        let name = CustomerName::parse(&entry.name).map_err(|e| invalid("name", e))?;
        // A directory's bad email is not worth refusing the customer over: keep the rest.
        let email = entry.email.as_deref().and_then(|e| Email::parse(e).ok());
        let new = NewCustomer {
            phone: phone.clone(),
            name,
            email,
        };
        let (customer, _) = self
            .customers
            .insert_or_get(&new.into_customer(self.clock.now()))
            .await?;
        Ok(customer)
    }

    #[tracing::instrument(skip_all, fields(customer_id = %id))]
    pub async fn update(
        &self,
        id: CustomerId,
        changes: CustomerChanges,
    ) -> Result<Customer, CustomerError> {
        match self.customers.update(id, &changes, self.clock.now()).await {
            Ok(customer) => Ok(customer),
            Err(StoreError::MissingReference) => Err(CustomerError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list(&self, page: PageRequest) -> Result<Page<Customer>, CustomerError> {
        match self.customers.list(page).await {
            Ok(page) => Ok(page),
            Err(StoreError::MissingReference) => Err(CustomerError::CursorNotFound),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::MockClock;
    use crate::customer::{
        DirectoryEntry, DirectoryError, MockCustomerDirectory, MockCustomerRepository,
    };
    use chrono::{TimeZone, Utc};
    use mockall::predicate::eq;

    fn clock() -> Arc<MockClock> {
        let mut clock = MockClock::new();
        clock
            .expect_now()
            .returning(|| Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap());
        Arc::new(clock)
    }

    fn new_customer() -> NewCustomer {
        NewCustomer::parse("+14155550100", "Ada", None, None).unwrap()
    }

    fn stored() -> Customer {
        new_customer().into_customer(Utc::now())
    }

    fn phone() -> PhoneNumber {
        PhoneNumber::parse("+14155550100", None).unwrap()
    }

    fn service(
        repo: MockCustomerRepository,
        directory: Option<MockCustomerDirectory>,
    ) -> CustomerService {
        CustomerService::new(
            Arc::new(repo),
            directory.map(|d| Arc::new(d) as Arc<dyn CustomerDirectory>),
            clock(),
        )
    }

    #[tokio::test]
    async fn create_stores_the_customer_with_the_clock_time() {
        let mut repo = MockCustomerRepository::new();
        repo.expect_insert_or_get()
            .withf(|c| c.created_at == Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap())
            .returning(|c| Ok((c.clone(), true)));
        let created = service(repo, None).create(new_customer()).await.unwrap();
        assert_eq!(created.phone.as_str(), "+14155550100");
    }

    #[tokio::test]
    async fn create_with_a_taken_phone_is_duplicate_naming_the_existing_customer() {
        let existing = stored();
        let existing_id = existing.id;
        let mut repo = MockCustomerRepository::new();
        repo.expect_insert_or_get()
            .returning(move |_| Ok((existing.clone(), false)));
        let err = service(repo, None)
            .create(new_customer())
            .await
            .unwrap_err();
        assert!(matches!(err, CustomerError::Duplicate { existing } if existing == existing_id));
    }

    #[tokio::test]
    async fn lookup_hit_in_the_database_never_asks_the_directory() {
        let found = stored();
        let mut repo = MockCustomerRepository::new();
        let f = found.clone();
        repo.expect_find_by_phone()
            .with(eq(phone()))
            .returning(move |_| Ok(Some(f.clone())));
        let mut directory = MockCustomerDirectory::new();
        directory.expect_lookup().never();
        let got = service(repo, Some(directory))
            .find_by_phone(&phone())
            .await
            .unwrap();
        assert_eq!(got, found);
    }

    #[tokio::test]
    async fn lookup_miss_without_directory_is_not_found() {
        let mut repo = MockCustomerRepository::new();
        repo.expect_find_by_phone().returning(|_| Ok(None));
        repo.expect_insert_or_get().never();
        let err = service(repo, None)
            .find_by_phone(&phone())
            .await
            .unwrap_err();
        assert!(matches!(err, CustomerError::NotFound));
    }

    #[tokio::test]
    async fn lookup_miss_asks_the_directory_and_stores_its_answer() {
        let mut repo = MockCustomerRepository::new();
        repo.expect_find_by_phone().returning(|_| Ok(None));
        repo.expect_insert_or_get()
            .withf(|c| c.name.as_str() == "Grace" && c.email.is_none())
            .times(1)
            .returning(|c| Ok((c.clone(), true)));
        let mut directory = MockCustomerDirectory::new();
        directory.expect_lookup().with(eq(phone())).returning(|_| {
            Ok(Some(DirectoryEntry {
                name: " Grace ".into(),
                email: Some("not an email".into()),
            }))
        });
        let got = service(repo, Some(directory))
            .find_by_phone(&phone())
            .await
            .unwrap();
        assert_eq!(got.name.as_str(), "Grace");
    }

    #[tokio::test]
    async fn lookup_unknown_to_the_directory_is_not_found_and_stores_nothing() {
        let mut repo = MockCustomerRepository::new();
        repo.expect_find_by_phone().returning(|_| Ok(None));
        repo.expect_insert_or_get().never();
        let mut directory = MockCustomerDirectory::new();
        directory.expect_lookup().returning(|_| Ok(None));
        let err = service(repo, Some(directory))
            .find_by_phone(&phone())
            .await
            .unwrap_err();
        assert!(matches!(err, CustomerError::NotFound));
    }

    #[tokio::test]
    async fn directory_failure_or_nameless_answer_is_unavailable() {
        for answer in [
            Err(()),
            Ok(DirectoryEntry {
                name: "".into(),
                email: None,
            }),
        ] {
            let mut repo = MockCustomerRepository::new();
            repo.expect_find_by_phone().returning(|_| Ok(None));
            repo.expect_insert_or_get().never();
            let mut directory = MockCustomerDirectory::new();
            directory.expect_lookup().returning(move |_| match &answer {
                Err(()) => Err(DirectoryError::Unavailable(anyhow!("timeout"))),
                Ok(entry) => Ok(Some(entry.clone())),
            });
            let err = service(repo, Some(directory))
                .find_by_phone(&phone())
                .await
                .unwrap_err();
            assert!(matches!(err, CustomerError::DirectoryUnavailable(_)));
        }
    }

    #[tokio::test]
    async fn update_of_a_missing_customer_is_not_found() {
        let mut repo = MockCustomerRepository::new();
        repo.expect_update()
            .returning(|_, _, _| Err(StoreError::MissingReference));
        let err = service(repo, None)
            .update(
                CustomerId::generate(),
                CustomerChanges {
                    name: None,
                    email: None,
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, CustomerError::NotFound));
    }

    #[tokio::test]
    async fn update_sends_only_the_given_fields_to_the_store() {
        let found = stored();
        let id = found.id;
        let mut repo = MockCustomerRepository::new();
        repo.expect_update()
            .withf(move |at, changes, _| {
                *at == id
                    && changes.name.as_ref().map(CustomerName::as_str) == Some("Ada L.")
                    && changes.email.is_none()
            })
            .times(1)
            .returning(move |_, changes, now| Ok(changes.applied_to(&found, now)));
        let changes = CustomerChanges {
            name: Some(CustomerName::parse("Ada L.").unwrap()),
            email: None,
        };
        let updated = service(repo, None).update(id, changes).await.unwrap();
        assert_eq!(updated.name.as_str(), "Ada L.");
    }

    #[tokio::test]
    async fn list_with_an_unknown_cursor_is_cursor_not_found() {
        let mut repo = MockCustomerRepository::new();
        repo.expect_list()
            .returning(|_| Err(StoreError::MissingReference));
        let err = service(repo, None)
            .list(PageRequest::default())
            .await
            .unwrap_err();
        assert!(matches!(err, CustomerError::CursorNotFound));
    }
}

//! `CustomerRepository` on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use orderpay_domain::customer::{
    Customer, CustomerChanges, CustomerId, CustomerName, CustomerRepository, Email,
};
use orderpay_domain::phone::PhoneNumber;
use orderpay_domain::store::StoreError;
use orderpay_domain::{Page, PageRequest};

use crate::PgStore;
use crate::errors::{corrupt, store_error};
use crate::schema::customers;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = customers, check_for_backend(diesel::pg::Pg))]
pub(crate) struct CustomerRow {
    pub(crate) id: Uuid,
    pub(crate) phone: String,
    pub(crate) name: String,
    pub(crate) email: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

/// The columns a PATCH may change: `None` leaves a column alone, `Some(None)` clears `email`.
#[derive(AsChangeset)]
#[diesel(table_name = customers)]
struct CustomerChangeset<'a> {
    name: Option<&'a str>,
    email: Option<Option<&'a str>>,
    updated_at: DateTime<Utc>,
}

impl From<&Customer> for CustomerRow {
    fn from(c: &Customer) -> Self {
        Self {
            id: c.id.as_uuid(),
            phone: c.phone.as_str().to_owned(),
            name: c.name.as_str().to_owned(),
            email: c.email.as_ref().map(|e| e.as_str().to_owned()),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

impl TryFrom<CustomerRow> for Customer {
    type Error = StoreError;

    fn try_from(row: CustomerRow) -> Result<Self, StoreError> {
        Ok(Customer {
            id: CustomerId::from_uuid(row.id),
            phone: PhoneNumber::from_stored(&row.phone)
                .map_err(|e| corrupt("customer phone", e))?,
            name: CustomerName::from_stored(row.name),
            email: row.email.map(Email::from_stored),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The one customer `query` selects.
async fn find_one(
    store: &PgStore,
    query: customers::BoxedQuery<'_, Pg>,
) -> Result<Option<Customer>, StoreError> {
    store
        .with_conn(async |conn| {
            query
                .select(CustomerRow::as_select())
                .first(conn)
                .await
                .optional()
                .map_err(store_error)?
                .map(Customer::try_from)
                .transpose()
        })
        .await
}

#[async_trait]
impl CustomerRepository for PgStore {
    async fn insert_or_get(&self, customer: &Customer) -> Result<(Customer, bool), StoreError> {
        self.with_conn(async |conn| {
            let inserted = diesel::insert_into(customers::table)
                .values(CustomerRow::from(customer))
                .on_conflict(customers::phone)
                .do_nothing()
                .returning(CustomerRow::as_returning())
                .get_result(conn)
                .await
                .optional()
                .map_err(store_error)?;
            if let Some(row) = inserted {
                return Ok((row.try_into()?, true));
            }
            // The phone was taken, by now committed: ON CONFLICT waited for the other writer.
            let existing = customers::table
                .filter(customers::phone.eq(customer.phone.as_str()))
                .select(CustomerRow::as_select())
                .first(conn)
                .await
                .map_err(store_error)?;
            Ok((existing.try_into()?, false))
        })
        .await
    }

    async fn find_by_id(&self, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        find_one(self, customers::table.find(id.as_uuid()).into_boxed()).await
    }

    async fn find_by_phone(&self, phone: &PhoneNumber) -> Result<Option<Customer>, StoreError> {
        let query = customers::table.filter(customers::phone.eq(phone.as_str()));
        find_one(self, query.into_boxed()).await
    }

    async fn update(
        &self,
        id: CustomerId,
        changes: &CustomerChanges,
        updated_at: DateTime<Utc>,
    ) -> Result<Customer, StoreError> {
        // One UPDATE that sets only the given columns: no read-modify-write to race with.
        let changeset = CustomerChangeset {
            name: changes.name.as_ref().map(CustomerName::as_str),
            email: changes
                .email
                .as_ref()
                .map(|email| email.as_ref().map(Email::as_str)),
            updated_at,
        };
        self.with_conn(async |conn| {
            diesel::update(customers::table.find(id.as_uuid()))
                .set(&changeset)
                .returning(CustomerRow::as_returning())
                .get_result(conn)
                .await
                .optional()
                .map_err(store_error)?
                .ok_or(StoreError::MissingReference)?
                .try_into()
        })
        .await
    }

    async fn list(&self, page: PageRequest) -> Result<Page<Customer>, StoreError> {
        self.with_conn(async |conn| {
            let rows: Vec<CustomerRow> =
                newest_first_page!(customers, customers::table.into_boxed(), page)
                    .select(CustomerRow::as_select())
                    .load(conn)
                    .await
                    .map_err(store_error)?;
            check_cursor!(customers, conn, page, rows.is_empty());
            let customers = rows
                .into_iter()
                .map(Customer::try_from)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Page::from_overfetch(customers, page.limit))
        })
        .await
    }
}

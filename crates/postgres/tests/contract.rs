//! The shared repository contract, against a real PostgreSQL: each test on its own database.

use std::sync::Arc;

use orderpay_domain::api_key::ApiKeyRepository;
use orderpay_domain::contract::Store;
use orderpay_domain::customer::CustomerRepository;
use orderpay_domain::order::OrderRepository;
use orderpay_postgres::testing::TestDatabase;

struct Fresh(TestDatabase);

impl Store for Fresh {
    fn customers(&self) -> Arc<dyn CustomerRepository> {
        Arc::new(self.0.store.clone())
    }
    fn orders(&self) -> Arc<dyn OrderRepository> {
        Arc::new(self.0.store.clone())
    }
    fn api_keys(&self) -> Arc<dyn ApiKeyRepository> {
        Arc::new(self.0.store.clone())
    }
    fn payments(&self) -> Arc<dyn orderpay_domain::payment::PaymentRepository> {
        Arc::new(self.0.store.clone())
    }
    fn idempotency(&self) -> Arc<dyn orderpay_domain::idempotency::IdempotencyStore> {
        Arc::new(self.0.store.clone())
    }
    fn leases(&self) -> Arc<dyn orderpay_domain::payment::Leases> {
        Arc::new(self.0.store.clone())
    }
    fn webhooks(&self) -> Arc<dyn orderpay_domain::webhook::WebhookRepository> {
        Arc::new(self.0.store.clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_repository_contract_holds() {
    orderpay_domain::contract::run_all(async || Fresh(TestDatabase::new().await)).await;
}

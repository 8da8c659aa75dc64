use std::sync::Arc;

use anyhow::anyhow;

use chrono::{DateTime, Utc};

use super::{
    Inserted, NewOrder, Order, OrderCustomer, OrderEvent, OrderEventType, OrderFilter, OrderId,
    OrderReference, OrderRepository, PayToken, ReferenceGenerator,
};
use crate::clock::Clock;
use crate::idempotency::{Claim, IdempotencyKey, KeyedAnswer, StoredResponse};
use crate::pagination::{Page, PageRequest};
use crate::payment::{Payment, PaymentGateway};
use crate::store::{StoreError, UniqueKey};
use crate::validation::Violations;

/// How many references to draw before giving up. With 32^8 possible references a second
/// collision in a row means something other than chance is wrong.
const REFERENCE_ATTEMPTS: usize = 5;

/// Why an order could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateOrderError {
    #[error("no such customer")]
    CustomerNotFound,
    /// Fields the payment provider could not charge as given.
    #[error("{0}")]
    Invalid(Violations),
    /// The idempotency key given was taken: nothing was stored; what it holds.
    #[error("the idempotency key is taken")]
    KeyTaken(Claim),
    /// The store cannot be reached now: worth a retry (503).
    #[error("the store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

/// Why one order could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("no such order")]
    NotFound,
    /// The store cannot be reached now: worth a retry (503).
    #[error("the store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

/// Why a page of orders could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ListOrdersError {
    #[error("no order matches `starting_after`")]
    CursorNotFound,
    /// The store cannot be reached now: worth a retry (503).
    #[error("the store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

crate::store::from_store_error!(CreateOrderError, OrderError, ListOrdersError);

/// How the edge answers an order's creation, so the answer can be stored with the order.
pub type Render<'a> = &'a (dyn Fn(&Order) -> StoredResponse + Send + Sync);

/// A request under a client's idempotency key, as the edge read it.
#[derive(Debug, Clone)]
pub struct KeyedRequest {
    pub key: IdempotencyKey,
    /// Method, path and body, hashed.
    pub fingerprint: Vec<u8>,
    pub now: DateTime<Utc>,
    /// A key older than this counts as new.
    pub expired_before: DateTime<Utc>,
}

/// Creating, finding and cancelling orders.
#[derive(Clone)]
pub struct OrderService {
    orders: Arc<dyn OrderRepository>,
    references: Arc<dyn ReferenceGenerator>,
    /// The payment provider, asked what amounts it can express.
    provider: Arc<dyn PaymentGateway>,
    clock: Arc<dyn Clock>,
}

impl OrderService {
    pub fn new(
        orders: Arc<dyn OrderRepository>,
        references: Arc<dyn ReferenceGenerator>,
        provider: Arc<dyn PaymentGateway>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            orders,
            references,
            provider,
            clock,
        }
    }

    /// Every amount of `new` the provider cannot express, by field: refused now, not when a
    /// customer opens the pay link. (A currency it does not take at all is refused when the
    /// pay link is asked for, where the rest of what it cannot charge is.)
    fn check_expressible(&self, new: &NewOrder) -> Result<(), CreateOrderError> {
        let limits = self.provider.limits(new.currency);
        if !limits.supported {
            return Ok(());
        }
        let mut v = Violations::new();
        for (i, item) in new.items.iter().enumerate() {
            if let Err(why) = limits.expressible(item.unit_amount, new.currency) {
                v.add(format!("items[{i}].unit_amount"), why);
            }
        }
        if new.total > limits.maximum {
            v.add(
                "items",
                format!(
                    "the order total must be at most {} minor units with this payment provider",
                    limits.maximum
                ),
            );
        }
        v.finish(|| ()).map_err(CreateOrderError::Invalid)
    }

    /// Creates an order for an existing customer, or for a phone number whose customer is
    /// found or created by the same store call that stores the order (one statement on
    /// PostgreSQL): a failed order leaves no customer behind, and whoever stores a phone
    /// first, the order goes to that customer. The reference is drawn again on a collision.
    ///
    /// # Errors
    /// `Invalid` for amounts the payment provider cannot express; `CustomerNotFound` when
    /// `customer_id` names no customer.
    #[tracing::instrument(skip_all)]
    pub async fn create(&self, new: NewOrder) -> Result<Order, CreateOrderError> {
        self.create_answered(new, None).await
    }

    /// As [`OrderService::create`], claiming the client's idempotency key in the write that
    /// stores the order, with `render`'s answer for it: a retry finds both or neither. When
    /// the key is taken, nothing is stored and `KeyTaken` says what it holds.
    ///
    /// # Errors
    /// As [`OrderService::create`], and `KeyTaken`.
    #[tracing::instrument(skip_all)]
    pub async fn create_answered(
        &self,
        new: NewOrder,
        answer: Option<(&KeyedRequest, Render<'_>)>,
    ) -> Result<Order, CreateOrderError> {
        self.check_expressible(&new)?;
        let (customer_id, new_customer) = match &new.customer {
            OrderCustomer::Id(id) => (*id, None),
            OrderCustomer::FindOrCreate(customer) => {
                let fresh = customer.clone().into_customer(self.clock.now());
                (fresh.id, Some(fresh))
            }
        };
        for _ in 0..REFERENCE_ATTEMPTS {
            let mut order = Order::create(
                new.clone(),
                customer_id,
                self.references.generate(),
                self.clock.now(),
            );
            let created = OrderEvent::new(order.id(), OrderEventType::Created, order.created_at());
            let answer = answer.map(|(request, render)| KeyedAnswer {
                key: request.key.clone(),
                fingerprint: request.fingerprint.clone(),
                now: request.now,
                expired_before: request.expired_before,
                response: render(&order),
            });
            let stored = match &new_customer {
                None => self.orders.insert(&order, &created, answer.as_ref()).await,
                // Whoever stores this phone first, the order goes to that customer.
                Some(customer) => {
                    self.orders
                        .insert_with_customer(customer, &order, &created, answer.as_ref())
                        .await
                }
            };
            match stored {
                Ok(Inserted::KeyTaken(claim)) => return Err(CreateOrderError::KeyTaken(claim)),
                Ok(Inserted::Stored(customer_id)) => {
                    order.customer_id = customer_id;
                    tracing::info!(order_id = %order.id(), reference = %order.reference(), "order created");
                    return Ok(order);
                }
                Err(StoreError::Duplicate(UniqueKey::OrderReference)) => {
                    tracing::warn!(reference = %order.reference(), "order reference collision, drawing another");
                }
                Err(StoreError::MissingReference) => {
                    return Err(CreateOrderError::CustomerNotFound);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(CreateOrderError::Unexpected(anyhow!(
            "{REFERENCE_ATTEMPTS} order references in a row were already taken"
        )))
    }

    #[tracing::instrument(skip_all, fields(order_id = %id))]
    pub async fn get(&self, id: OrderId) -> Result<Order, OrderError> {
        self.orders
            .find_by_id(id)
            .await?
            .ok_or(OrderError::NotFound)
    }

    #[tracing::instrument(skip_all, fields(reference = %reference))]
    pub async fn get_by_reference(&self, reference: &OrderReference) -> Result<Order, OrderError> {
        self.orders
            .find_by_reference(reference)
            .await?
            .ok_or(OrderError::NotFound)
    }

    /// The order a pay link's token names, if any.
    pub async fn get_by_pay_token(&self, token: &PayToken) -> Result<Option<Order>, OrderError> {
        Ok(self.orders.find_by_pay_token(token).await?)
    }

    pub async fn list(
        &self,
        filter: OrderFilter,
        page: PageRequest,
    ) -> Result<Page<Order>, ListOrdersError> {
        match self.orders.list(filter, page).await {
            Ok(page) => Ok(page),
            Err(StoreError::MissingReference) => Err(ListOrdersError::CursorNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// The order and its most recent payment, read together: the order as shown, with its
    /// payment state.
    #[tracing::instrument(skip_all, fields(order_id = %id))]
    pub async fn get_with_payment(
        &self,
        id: OrderId,
    ) -> Result<(Order, Option<Payment>), OrderError> {
        self.orders
            .order_with_latest_payment(id)
            .await?
            .ok_or(OrderError::NotFound)
    }

    /// The order's history, oldest first.
    ///
    /// # Errors
    /// `NotFound` when there is no such order.
    pub async fn history(&self, id: OrderId) -> Result<Vec<OrderEvent>, OrderError> {
        self.orders
            .find_by_id(id)
            .await?
            .ok_or(OrderError::NotFound)?;
        Ok(self.orders.history(id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::MockClock;
    use crate::customer::{CustomerId, NewCustomer};
    use crate::order::{MockOrderRepository, MockReferenceGenerator, OrderStatus, order_of};
    use crate::payment::MockPaymentGateway;
    use chrono::Utc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use uuid::Uuid;

    fn clock() -> Arc<dyn Clock> {
        let mut clock = MockClock::new();
        clock.expect_now().returning(Utc::now);
        Arc::new(clock)
    }

    fn references(codes: &'static [&'static str]) -> Arc<dyn ReferenceGenerator> {
        let next = AtomicUsize::new(0);
        let mut generator = MockReferenceGenerator::new();
        generator.expect_generate().returning(move || {
            let i = next.fetch_add(1, Ordering::SeqCst);
            OrderReference::parse(codes[i % codes.len()]).unwrap()
        });
        Arc::new(generator)
    }

    /// A provider that can charge any amount.
    fn any_amount() -> Arc<dyn PaymentGateway> {
        let mut gateway = MockPaymentGateway::new();
        gateway
            .expect_limits()
            .returning(|_| crate::payment::ChargeLimits::ANY);
        Arc::new(gateway)
    }

    fn service(orders: MockOrderRepository) -> OrderService {
        OrderService::new(
            Arc::new(orders),
            references(&["AAAA-AAAA", "BBBB-BBBB"]),
            any_amount(),
            clock(),
        )
    }

    fn new_order(customer: OrderCustomer) -> NewOrder {
        order_of(customer, "usd", &[("Tea", 2, 450)], Default::default()).unwrap()
    }

    fn by_id() -> NewOrder {
        new_order(OrderCustomer::Id(CustomerId::from_uuid(Uuid::now_v7())))
    }

    #[tokio::test]
    async fn create_for_a_customer_id_stores_a_pending_order() {
        let mut orders = MockOrderRepository::new();
        orders
            .expect_insert()
            .withf(|o, created, _| {
                created.kind == OrderEventType::Created
                    && o.status() == OrderStatus::PendingPayment
                    && o.total().minor_units() == 900
                    && o.reference().to_string() == "AAAA-AAAA"
            })
            .times(1)
            .returning(|o, _, _| Ok(Inserted::Stored(o.customer_id())));
        let order = service(orders).create(by_id()).await.unwrap();
        assert_eq!(order.reference().to_string(), "AAAA-AAAA");
    }

    #[tokio::test]
    async fn amounts_the_provider_cannot_express_are_refused_by_field_and_nothing_stored() {
        let mut orders = MockOrderRepository::new();
        orders.expect_insert().never();
        orders.expect_insert_with_customer().never();
        let mut gateway = MockPaymentGateway::new();
        gateway
            .expect_limits()
            .returning(|_| crate::payment::ChargeLimits {
                step: 100,
                maximum: crate::money::Amount::new(800).unwrap(),
                ..crate::payment::ChargeLimits::ANY
            });
        let service = OrderService::new(
            Arc::new(orders),
            references(&["AAAA-AAAA"]),
            Arc::new(gateway),
            clock(),
        );
        let Err(CreateOrderError::Invalid(v)) = service.create(by_id()).await else {
            panic!("450 is not a multiple of 100, and 900 is over 800");
        };
        let fields: Vec<&str> = v.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["items[0].unit_amount", "items"]);
    }

    #[tokio::test]
    async fn a_reference_collision_draws_another_reference() {
        let mut orders = MockOrderRepository::new();
        orders
            .expect_insert()
            .withf(|o, _, _| o.reference().to_string() == "AAAA-AAAA")
            .times(1)
            .returning(|_, _, _| Err(StoreError::Duplicate(UniqueKey::OrderReference)));
        orders
            .expect_insert()
            .withf(|o, _, _| o.reference().to_string() == "BBBB-BBBB")
            .times(1)
            .returning(|o, _, _| Ok(Inserted::Stored(o.customer_id())));
        let order = service(orders).create(by_id()).await.unwrap();
        assert_eq!(order.reference().to_string(), "BBBB-BBBB");
    }

    #[tokio::test]
    async fn endless_collisions_give_up() {
        let mut orders = MockOrderRepository::new();
        orders
            .expect_insert()
            .times(REFERENCE_ATTEMPTS)
            .returning(|_, _, _| Err(StoreError::Duplicate(UniqueKey::OrderReference)));
        let err = service(orders).create(by_id()).await.unwrap_err();
        assert!(matches!(err, CreateOrderError::Unexpected(_)));
    }

    #[tokio::test]
    async fn an_unknown_customer_id_is_customer_not_found() {
        let mut orders = MockOrderRepository::new();
        orders
            .expect_insert()
            .returning(|_, _, _| Err(StoreError::MissingReference));
        let err = service(orders).create(by_id()).await.unwrap_err();
        assert!(matches!(err, CreateOrderError::CustomerNotFound));
    }

    #[tokio::test]
    async fn create_by_phone_finds_or_stores_the_customer_with_its_order_in_one_call() {
        let mut orders = MockOrderRepository::new();
        orders.expect_insert().never();
        // The store says another request created this phone's customer first.
        let winner = crate::customer::CustomerId::generate();
        orders
            .expect_insert_with_customer()
            .withf(|c, o, _, _| c.phone.as_str() == "+14155550100" && o.customer_id() == c.id)
            .times(1)
            .returning(move |_, _, _, _| Ok(Inserted::Stored(winner)));
        let order = service(orders)
            .create(new_order(OrderCustomer::FindOrCreate(
                NewCustomer::parse("+14155550100", "Ada", None, None).unwrap(),
            )))
            .await
            .unwrap();
        assert_eq!(order.customer_id(), winner);
    }

    #[tokio::test]
    async fn get_of_a_missing_order_is_not_found() {
        let mut orders = MockOrderRepository::new();
        orders.expect_find_by_id().returning(|_| Ok(None));
        orders.expect_find_by_reference().returning(|_| Ok(None));
        let svc = service(orders);
        assert!(matches!(
            svc.get(OrderId::generate()).await,
            Err(OrderError::NotFound)
        ));
        let r = OrderReference::parse("AAAA-AAAA").unwrap();
        assert!(matches!(
            svc.get_by_reference(&r).await,
            Err(OrderError::NotFound)
        ));
    }

    #[tokio::test]
    async fn list_with_an_unknown_cursor_is_cursor_not_found() {
        let mut orders = MockOrderRepository::new();
        orders
            .expect_list()
            .returning(|_, _| Err(StoreError::MissingReference));
        let err = service(orders)
            .list(OrderFilter::default(), PageRequest::default())
            .await
            .unwrap_err();
        assert!(matches!(err, ListOrdersError::CursorNotFound));
    }
}

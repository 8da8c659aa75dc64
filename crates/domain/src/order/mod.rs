//! Orders: what a customer buys, its reference, its totals and its status.

mod events;
mod input;
mod models;
mod ports;
mod reference;
mod service;
mod status;
mod values;

pub use events::{OrderEvent, OrderEventId, OrderEventType, OrderFlag};
#[cfg(any(test, feature = "testing"))]
pub use input::order_of;
pub use input::{MAX_ITEMS, MAX_TOTAL_MINOR_UNITS, NewOrder, OrderCustomer};
pub use models::{Order, OrderFilter, OrderId, OrderParts};
pub use ports::{Inserted, OrderRepository, ReferenceGenerator};
#[cfg(any(test, feature = "testing"))]
pub use ports::{MockOrderRepository, MockReferenceGenerator};
pub use reference::{OrderReference, RandomReferences};
pub use service::{
    CreateOrderError, KeyedRequest, ListOrdersError, OrderError, OrderService, Render,
};
pub use status::{IllegalTransition, OrderStatus, StatusEvent};
pub use values::{ItemName, LineItem, Metadata, PayToken, Quantity};

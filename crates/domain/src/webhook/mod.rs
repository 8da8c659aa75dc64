//! Webhooks out: merchants' endpoints, the events they subscribe to (written with the change
//! each reports, by the store), and deliveries signed by the Standard Webhooks scheme, retried
//! on a schedule, in order per order and endpoint.

mod address;
mod delivery;
mod dispatch;
mod endpoint;
mod ports;
mod service;

pub use address::is_public;
pub use delivery::{
    Attempt, Delivery, DeliveryId, DeliveryStatus, EndpointHealth, RetryRules, RetrySchedule,
    Verdict,
};
pub use dispatch::Dispatcher;
pub use endpoint::{
    EndpointStatus, EndpointUrl, EventSelection, UrlPolicy, WebhookEndpoint, WebhookEndpointId,
    parse_description,
};
pub use ports::{
    Claim, DueDelivery, Event, EventRenderer, OutgoingWebhook, RecordedAttempt, Secrets,
    WebhookRepository, WebhookSender,
};
#[cfg(any(test, feature = "testing"))]
pub use ports::{MockEventRenderer, MockSecrets, MockWebhookRepository, MockWebhookSender};
pub use service::{
    EndpointChanges, NewEndpoint, RETENTION_BATCH, WebhookError, WebhookService, purge_expired,
};

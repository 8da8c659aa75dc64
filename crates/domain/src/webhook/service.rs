//! The API's webhook operations: endpoints (create, read, change, delete, rotate the secret),
//! the event feed, and an endpoint's deliveries.

use std::sync::Arc;

use chrono::TimeDelta;

use super::delivery::{Delivery, DeliveryId};
use super::endpoint::{
    EndpointStatus, EndpointUrl, EventSelection, UrlPolicy, WebhookEndpoint, WebhookEndpointId,
};
use super::ports::{Event, Secrets, WebhookRepository};
use crate::Clock;
use crate::order::{OrderEventId, OrderEventType};
use crate::pagination::{Page, PageRequest};
use crate::store::StoreError;

/// What a webhook operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("no such {0}")]
    NotFound(&'static str),
    /// `starting_after` names nothing in the list.
    #[error("no {0} matches `starting_after`")]
    CursorNotFound(&'static str),
    /// The store cannot be reached now: worth a retry (503).
    #[error("the store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

crate::store::from_store_error!(WebhookError);

/// A list's error: an unknown cursor is the client's, the rest the store's.
fn listing(what: &'static str) -> impl FnOnce(StoreError) -> WebhookError {
    move |e| match e {
        StoreError::MissingReference => WebhookError::CursorNotFound(what),
        other => other.into(),
    }
}

/// A new endpoint, its fields parsed.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: EndpointUrl,
    pub enabled_events: EventSelection,
    pub description: Option<String>,
}

/// Changes to an endpoint: only what is given.
#[derive(Debug, Clone, Default)]
pub struct EndpointChanges {
    pub url: Option<EndpointUrl>,
    pub enabled_events: Option<EventSelection>,
    pub status: Option<EndpointStatus>,
    pub description: Option<Option<String>>,
}

#[derive(Clone)]
pub struct WebhookService {
    repo: Arc<dyn WebhookRepository>,
    secrets: Arc<dyn Secrets>,
    clock: Arc<dyn Clock>,
    url_policy: UrlPolicy,
    /// How long both secrets sign after a rotation.
    overlap: TimeDelta,
}

impl WebhookService {
    pub fn new(
        repo: Arc<dyn WebhookRepository>,
        secrets: Arc<dyn Secrets>,
        clock: Arc<dyn Clock>,
        url_policy: UrlPolicy,
        overlap: TimeDelta,
    ) -> Self {
        Self {
            repo,
            secrets,
            clock,
            url_policy,
            overlap,
        }
    }

    /// Which URLs endpoints may have here.
    pub fn url_policy(&self) -> UrlPolicy {
        self.url_policy
    }

    /// Creates an enabled endpoint; its secret is answered now and on rotation only.
    pub async fn create(
        &self,
        new: NewEndpoint,
    ) -> Result<(WebhookEndpoint, String), WebhookError> {
        let now = self.clock.now();
        let endpoint = WebhookEndpoint {
            id: WebhookEndpointId::generate(),
            url: new.url,
            description: new.description,
            enabled_events: new.enabled_events,
            status: EndpointStatus::Enabled,
            secret_version: 1,
            previous_secret_until: None,
            failing_since: None,
            disabled_reason: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        self.repo.insert_endpoint(&endpoint).await?;
        let secret = self.secrets.secret(endpoint.id, endpoint.secret_version);
        Ok((endpoint, secret))
    }

    pub async fn get(&self, id: WebhookEndpointId) -> Result<WebhookEndpoint, WebhookError> {
        self.repo
            .endpoint(id)
            .await?
            .ok_or(WebhookError::NotFound("webhook endpoint"))
    }

    pub async fn list(&self, page: PageRequest) -> Result<Page<WebhookEndpoint>, WebhookError> {
        self.repo
            .endpoints(page)
            .await
            .map_err(listing("webhook endpoint"))
    }

    /// Applies the changes; enabling an endpoint forgets its failures.
    pub async fn update(
        &self,
        id: WebhookEndpointId,
        changes: EndpointChanges,
    ) -> Result<WebhookEndpoint, WebhookError> {
        self.change(id, |endpoint, _| {
            if let Some(url) = changes.url.clone() {
                endpoint.url = url;
            }
            if let Some(events) = changes.enabled_events.clone() {
                endpoint.enabled_events = events;
            }
            if let Some(description) = changes.description.clone() {
                endpoint.description = description;
            }
            if let Some(status) = changes.status {
                if status == EndpointStatus::Enabled {
                    endpoint.failing_since = None;
                    endpoint.disabled_reason = None;
                }
                endpoint.status = status;
            }
        })
        .await
    }

    /// Reads the endpoint, applies `change` (given the time), and writes it over the version
    /// it read; when another write came first, reads it again and applies the change to that,
    /// so no write is lost (a rotation racing a PATCH keeps both).
    async fn change(
        &self,
        id: WebhookEndpointId,
        change: impl Fn(&mut WebhookEndpoint, chrono::DateTime<chrono::Utc>),
    ) -> Result<WebhookEndpoint, WebhookError> {
        // Each round one writer wins, so this many bounds any realistic crowd of writers.
        const ATTEMPTS: usize = 32;
        for _ in 0..ATTEMPTS {
            let mut endpoint = self.get(id).await?;
            let now = self.clock.now();
            change(&mut endpoint, now);
            endpoint.updated_at = now;
            match self.repo.update_endpoint(&endpoint).await {
                Ok(true) => {
                    endpoint.version += 1;
                    return Ok(endpoint);
                }
                Ok(false) => return Err(WebhookError::NotFound("webhook endpoint")),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(WebhookError::Unexpected(anyhow::anyhow!(
            "webhook endpoint {id} kept changing while being written"
        )))
    }

    pub async fn delete(&self, id: WebhookEndpointId) -> Result<(), WebhookError> {
        if self.repo.delete_endpoint(id).await? {
            Ok(())
        } else {
            Err(WebhookError::NotFound("webhook endpoint"))
        }
    }

    /// A new secret; the old one keeps signing (beside it) for the overlap. The endpoint as
    /// rotated, and its new secret.
    pub async fn rotate_secret(
        &self,
        id: WebhookEndpointId,
    ) -> Result<(WebhookEndpoint, String), WebhookError> {
        let overlap = self.overlap;
        let endpoint = self
            .change(id, |endpoint, now| {
                endpoint.secret_version += 1;
                endpoint.previous_secret_until = Some(now + overlap);
            })
            .await?;
        let secret = self.secret_of(endpoint.id, endpoint.secret_version);
        Ok((endpoint, secret))
    }

    /// The secret of `endpoint` at `version`, derived again (it is never stored): what an
    /// answer that carried it is replayed with.
    pub fn secret_of(&self, endpoint: WebhookEndpointId, version: i32) -> String {
        self.secrets.secret(endpoint, version)
    }

    pub async fn event(&self, id: OrderEventId) -> Result<Event, WebhookError> {
        self.repo
            .event(id)
            .await?
            .ok_or(WebhookError::NotFound("event"))
    }

    pub async fn events(
        &self,
        kind: Option<OrderEventType>,
        page: PageRequest,
    ) -> Result<Page<Event>, WebhookError> {
        self.repo.events(kind, page).await.map_err(listing("event"))
    }

    pub async fn deliveries(
        &self,
        endpoint: WebhookEndpointId,
        page: PageRequest,
    ) -> Result<Page<Delivery>, WebhookError> {
        self.get(endpoint).await?;
        self.repo
            .deliveries(endpoint, page)
            .await
            .map_err(listing("delivery"))
    }

    /// Sends the delivery again now (the sender picks it up at once).
    pub async fn retry(
        &self,
        endpoint: WebhookEndpointId,
        delivery: DeliveryId,
    ) -> Result<Delivery, WebhookError> {
        self.repo
            .retry_delivery(endpoint, delivery, self.clock.now())
            .await?
            .ok_or(WebhookError::NotFound("delivery"))
    }

    /// Retention: removes settled deliveries created before `deliveries_before`, and takes
    /// events created before `events_before` out of the feed, [`RETENTION_BATCH`] rows a
    /// statement (each short: it never holds a long lock), until none is left. How many of
    /// each.
    ///
    /// # Errors
    /// The store's, after what was done before it.
    pub async fn purge_expired(
        &self,
        deliveries_before: chrono::DateTime<chrono::Utc>,
        events_before: chrono::DateTime<chrono::Utc>,
    ) -> Result<(usize, usize), WebhookError> {
        purge_expired(
            self.repo.as_ref(),
            deliveries_before,
            events_before,
            RETENTION_BATCH,
        )
        .await
        .map_err(Into::into)
    }
}

/// Rows removed or retired per statement by retention.
pub const RETENTION_BATCH: usize = 5_000;

/// [`WebhookService::purge_expired`], `batch` rows a statement.
///
/// # Errors
/// The store's.
pub async fn purge_expired(
    repo: &dyn WebhookRepository,
    deliveries_before: chrono::DateTime<chrono::Utc>,
    events_before: chrono::DateTime<chrono::Utc>,
    batch: usize,
) -> Result<(usize, usize), StoreError> {
    let mut deliveries = 0;
    loop {
        let removed = repo.purge_deliveries(deliveries_before, batch).await?;
        deliveries += removed;
        if removed < batch {
            break;
        }
    }
    let mut events = 0;
    loop {
        let retired = repo.retire_events(events_before, batch).await?;
        events += retired;
        if retired < batch {
            break;
        }
    }
    Ok((deliveries, events))
}

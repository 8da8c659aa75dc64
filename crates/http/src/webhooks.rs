//! `POST /webhooks/stripe`: the provider's signed events, authenticated by their signature
//! (never by API key), applied exactly once.

use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse};

use orderpay_domain::payment::{Applied, ApplyError, EventFeedError};

use crate::AppState;
use crate::problem::{Code, Problem};

/// The largest event body read; Stripe's events are a few kilobytes.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// Stripe's events, authenticated by their signature (no API key), applied exactly once.
#[utoipa::path(post, path = "/webhooks/stripe", tag = "webhooks",
    params(("Stripe-Signature" = String, Header, description = "Stripe's signature of the raw body")),
    request_body(content = serde_json::Value, description = "A Stripe event", content_type = "application/json"),
    responses((status = 200, description = "Received: `{\"received\": true, \"outcome\": applied|unchanged|duplicate|ignored}`", body = serde_json::Value),
        (status = 400, description = "`invalid_signature`, or an event that cannot be read (`malformed_json`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 404, description = "No Stripe configured (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 429, description = "Over the rate limit (`rate_limited`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"), (status = 503, description = "An event for a payment not known here yet, or the database does not answer: delivered again later", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn stripe(
    state: Data<AppState>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, Problem> {
    let Some(feed) = &state.webhooks else {
        return Err(Problem::not_found(
            "webhook endpoint (no Stripe configured)",
        ));
    };
    let signature = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let event = match feed.receive(&body, signature, chrono::Utc::now()) {
        Ok(Some(event)) => event,
        Ok(None) => return Ok(received("ignored")),
        Err(EventFeedError::BadSignature(why)) => {
            tracing::warn!(%why, "webhook refused");
            crate::metrics::record_webhook("refused");
            return Err(Problem::new(
                Code::InvalidSignature,
                "the Stripe-Signature header does not verify for this body",
            ));
        }
        Err(EventFeedError::Malformed(why)) => {
            crate::metrics::record_webhook("refused");
            return Err(Problem::new(
                Code::MalformedJson,
                format!("the event cannot be read: {why}"),
            ));
        }
    };
    match state.public.payments.events.apply(&event).await {
        Ok(Applied::Changed) => Ok(received("applied")),
        Ok(Applied::Unchanged) => Ok(received("unchanged")),
        Ok(Applied::Duplicate) => Ok(received("duplicate")),
        Ok(Applied::Ignored) => Ok(received("ignored")),
        // Not ours to drop: answer so that Stripe delivers it again later.
        Err(ApplyError::UnknownPayment(id)) => {
            crate::metrics::record_webhook("retry");
            tracing::warn!(event_id = %event.id, payment_id = %id, "event for an unknown payment");
            Err(Problem::new(
                Code::ServiceUnavailable,
                "the event names a payment this service does not know yet; deliver it again",
            ))
        }
        Err(ApplyError::Unavailable(cause)) => {
            crate::metrics::record_webhook("retry");
            Err(Problem::unavailable(&cause))
        }
        Err(ApplyError::Unexpected(cause)) => {
            crate::metrics::record_webhook("retry");
            Err(Problem::unexpected(&cause))
        }
    }
}

fn received(outcome: &'static str) -> HttpResponse {
    crate::metrics::record_webhook(outcome);
    HttpResponse::Ok().json(serde_json::json!({"received": true, "outcome": outcome}))
}

//! `Idempotency-Key` on every `POST` under `/v1`, with Stripe's semantics: the first request
//! with a key claims it and its answer is stored; a retry of the same request (same API key,
//! method, path and body) gets that answer again with `Idempotent-Replayed: true`; the same key
//! for another request is `422 idempotency_key_reused`; a retry while the first still runs is
//! `409 idempotency_key_in_use`. Answers that say the request could not be read (400, 413,
//! 415, 422), that the service failed (5xx), or that the same request should be retried later
//! (409 `payment_processing`, `refund_in_progress`) are not stored: the key is released, and a
//! corrected or later retry runs.
//!
//! Creating an order stores its answer in the same statement as the order (the handler asks
//! for it, see [`claimed_key`]); other answers are stored here once the handler answered. Those
//! operations are safe to run again should the process die in between: a pay link is the
//! same link, a refund's provider key derives from the client's key, a cancel or a customer
//! creation answers 409 the second time and changes nothing.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use sha2::{Digest, Sha256};

use orderpay_domain::api_key::ApiKey;
use orderpay_domain::idempotency::{Claim, Completion, IdempotencyKey, StoredResponse};
use orderpay_domain::order::KeyedRequest;
use orderpay_domain::webhook::{WebhookEndpoint, WebhookEndpointId};

use crate::AppState;
use crate::problem::{Code, Problem};

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The key this request claimed.
#[derive(Debug, Clone)]
struct Claimed(IdempotencyKey);

/// Set on a response whose answer the handler stored with its work.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AnswerStored;

/// The routes whose handler claims the key in the very write that does the work (so an
/// idempotent request costs no extra round trip): the middleware leaves the claim to them.
const CLAIMED_BY_HANDLER: &[&str] = &["/v1/orders"];

/// The idempotency key this request claimed, if it sent one.
pub(crate) fn claimed_key(req: &HttpRequest) -> Option<IdempotencyKey> {
    req.extensions().get::<Claimed>().map(|c| c.0.clone())
}

/// The keyed request a handler in `CLAIMED_BY_HANDLER` claims itself, if a key was sent.
pub(crate) fn keyed_request(req: &HttpRequest) -> Option<KeyedRequest> {
    req.extensions().get::<KeyedRequest>().cloned()
}

/// Set on an answer that carries a webhook endpoint's secret: it is stored without the
/// secret, with what derives it again (the endpoint and the secret's version), so the store
/// of idempotent answers never holds a secret, and a replay answers what the first call did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CarriesSecret {
    endpoint: WebhookEndpointId,
    version: i32,
}

impl CarriesSecret {
    pub(crate) fn of(endpoint: &WebhookEndpoint) -> Self {
        Self {
            endpoint: endpoint.id,
            version: endpoint.secret_version,
        }
    }
}

/// The member of a stored answer that says which secret to derive again on replay.
const SECRET_OF: &str = "__orderpay_secret_of";

/// The answer to store for `body`: without its `secret` when it carries one.
fn storable(body: &[u8], secret: Option<CarriesSecret>) -> String {
    let Some(CarriesSecret { endpoint, version }) = secret else {
        return String::from_utf8_lossy(body).into_owned();
    };
    let Ok(serde_json::Value::Object(mut answer)) = serde_json::from_slice(body) else {
        // Not the JSON an endpoint's answer is: keep nothing of it rather than a secret.
        return String::new();
    };
    answer.insert("secret".into(), serde_json::Value::Null);
    answer.insert(
        SECRET_OF.into(),
        serde_json::json!({"endpoint": endpoint.as_uuid(), "version": version}),
    );
    serde_json::Value::Object(answer).to_string()
}

/// A stored answer as it is replayed: with its secret derived again, if it had one.
fn restored(body: &str, state: &AppState) -> String {
    if !body.contains(SECRET_OF) {
        return body.to_owned();
    }
    let Ok(serde_json::Value::Object(mut answer)) = serde_json::from_str(body) else {
        return body.to_owned();
    };
    let secret_of = answer.remove(SECRET_OF).unwrap_or_default();
    let endpoint = secret_of["endpoint"]
        .as_str()
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
        .map(WebhookEndpointId::from_uuid);
    let version = secret_of["version"]
        .as_i64()
        .and_then(|v| i32::try_from(v).ok());
    if let (Some(endpoint), Some(version)) = (endpoint, version) {
        let secret = state.outbound.secret_of(endpoint, version);
        answer.insert("secret".into(), serde_json::Value::String(secret));
    }
    serde_json::Value::Object(answer).to_string()
}

/// The answer to a request whose key was found taken: the stored answer, replayed, or why
/// the request cannot run.
pub(crate) fn taken_answer(claim: &Claim, state: &AppState) -> HttpResponse {
    match claim {
        Claim::Replay(response) => replay(response, state),
        Claim::InUse => Problem::new(
            Code::IdempotencyKeyInUse,
            "a request with this Idempotency-Key is still being processed; retry shortly",
        )
        .error_response(),
        Claim::Reused => Problem::new(
            Code::IdempotencyKeyReused,
            "this Idempotency-Key was used for a different request (method, path or body); \
             use a new key for a new request",
        )
        .error_response(),
        Claim::Started => Problem::internal(&"a claimed key reported as taken").error_response(),
    }
}

/// A stable name for the client's key at a provider (at most 64 characters whatever the
/// client's key was): the same client key, the same provider request.
pub(crate) fn provider_key(key: &IdempotencyKey) -> String {
    let digest = Sha256::new()
        .chain_update(key.api_key().as_uuid().as_bytes())
        .chain_update(key.as_str().as_bytes())
        .finalize();
    hex::encode(&digest[..16])
}

/// `response` as the answer to store.
pub(crate) fn stored(status: StatusCode, content_type: &str, body: String) -> StoredResponse {
    StoredResponse {
        status: status.as_u16(),
        content_type: content_type.to_owned(),
        body,
    }
}

fn fingerprint(req: &ServiceRequest, body: &[u8]) -> Vec<u8> {
    let uri = req.uri();
    Sha256::new()
        .chain_update(req.method().as_str().as_bytes())
        .chain_update([0])
        .chain_update(uri.path().as_bytes())
        .chain_update([0])
        .chain_update(uri.query().unwrap_or_default().as_bytes())
        .chain_update([0])
        .chain_update(body)
        .finalize()
        .to_vec()
}

/// Whether an answer is the outcome of the request (stored), or says it could not be read or
/// the service failed (not stored: the key is released).
fn worth_storing(status: StatusCode) -> bool {
    !(status.is_server_error()
        || matches!(status.as_u16(), 400 | 401 | 403 | 413 | 415 | 422 | 429))
}

fn replay(response: &StoredResponse, state: &AppState) -> HttpResponse {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK);
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, response.content_type.as_str()))
        .insert_header((IDEMPOTENT_REPLAYED, HeaderValue::from_static("true")))
        .body(restored(&response.body, state))
}

/// The middleware, inside API-key authentication (it needs the key).
pub async fn idempotent(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let raw = req.headers().get(&IDEMPOTENCY_KEY).cloned();
    let (Some(raw), true) = (raw, req.method() == Method::POST) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let api_key = req.extensions().get::<ApiKey>().map(|k| k.id);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let (Some(api_key), Some(state)) = (api_key, state) else {
        let problem = Problem::internal(&"idempotency without an API key or state");
        return Ok(req.into_response(problem.error_response()));
    };
    let key = match raw
        .to_str()
        .map_err(|_| "must be visible ASCII characters".to_owned())
        .and_then(|raw| IdempotencyKey::parse(api_key, raw))
    {
        Ok(key) => key,
        Err(why) => {
            let problem = Problem::field("Idempotency-Key", why);
            return Ok(req.into_response(problem.error_response()));
        }
    };
    // The body, read once to fingerprint the request, then handed back to the handler.
    let body = match req.extract::<Bytes>().await {
        Ok(body) => body,
        Err(e) => return Ok(req.into_response(e.error_response())),
    };
    let fingerprint = fingerprint(&req, &body);
    let (_, mut payload) = actix_http::h1::Payload::create(true);
    payload.unread_data(body);
    req.set_payload(payload.into());

    let now = chrono::Utc::now();
    let expired_before = now - state.idempotency_ttl;
    let by_handler = crate::routes::declared(req.request())
        .is_some_and(|route| CLAIMED_BY_HANDLER.contains(&route.path));
    if by_handler {
        req.extensions_mut().insert(KeyedRequest {
            key,
            fingerprint,
            now,
            expired_before,
        });
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    match state
        .idempotency
        .claim(&key, &fingerprint, now, expired_before)
        .await
    {
        Ok(Claim::Started) => {}
        Ok(taken) => return Ok(req.into_response(taken_answer(&taken, &state))),
        Err(e) => {
            let problem = Problem::from(e);
            return Ok(req.into_response(problem.error_response()));
        }
    }
    req.extensions_mut().insert(Claimed(key.clone()));
    let response = next.call(req).await?.map_into_boxed_body();
    if response
        .response()
        .extensions()
        .get::<AnswerStored>()
        .is_some()
    {
        return Ok(response);
    }
    let status = response.status();
    let retry_later = response
        .response()
        .extensions()
        .get::<crate::problem::RetryLater>()
        .is_some();
    if retry_later || !worth_storing(status) {
        if let Err(e) = state.idempotency.release(&key).await {
            tracing::warn!(error = %e, "could not release an idempotency key");
        }
        return Ok(response);
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let secret = response
        .response()
        .extensions()
        .get::<CarriesSecret>()
        .copied();
    let (req, res) = response.into_parts();
    let (res, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
    let completion = Completion {
        key,
        response: stored(status, &content_type, storable(&bytes, secret)),
    };
    if let Err(e) = state.idempotency.complete(&completion).await {
        // The work is done and answered; a retry past the claim's lease runs it again, which
        // the operations here are safe to do.
        tracing::warn!(error = %e, "could not store an idempotent answer");
    }
    Ok(ServiceResponse::new(req, res.set_body(BoxBody::new(bytes))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_outcomes_are_stored() {
        for kept in [200, 201, 404, 409] {
            assert!(worth_storing(StatusCode::from_u16(kept).unwrap()), "{kept}");
        }
        for released in [400, 413, 415, 422, 429, 500, 502, 503] {
            assert!(
                !worth_storing(StatusCode::from_u16(released).unwrap()),
                "{released}"
            );
        }
    }

    #[test]
    fn provider_keys_are_short_stable_and_per_api_key() {
        let api = orderpay_domain::api_key::ApiKeyId::generate();
        let long = IdempotencyKey::parse(api, &"k".repeat(255)).unwrap();
        assert_eq!(provider_key(&long).len(), 32);
        assert_eq!(provider_key(&long), provider_key(&long.clone()));
        let other = IdempotencyKey::parse(
            orderpay_domain::api_key::ApiKeyId::generate(),
            long.as_str(),
        )
        .unwrap();
        assert_ne!(provider_key(&long), provider_key(&other));
    }
}

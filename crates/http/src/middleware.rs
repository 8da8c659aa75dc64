//! Cross-cutting request handling: a request id and one tracing span per request, problem
//! details for every error answer (including those actix makes itself), and API-key auth.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use tracing::Instrument;
use uuid::Uuid;

use crate::AppState;
use crate::problem::{Code, PROBLEM_JSON, Problem};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A caller's `X-Request-Id` when it is a sane token, else a new one.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned)
}

/// The outermost middleware: request id, span, access log line, problem details fallback.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = request_id(&req);
    // Load balancers probe these every few seconds: keep them out of the info log.
    let probe = matches!(req.path(), "/healthz" | "/readyz");
    let span = tracing::info_span!(
        "http_request",
        method = %req.method(),
        path = %req.path(),
        request_id = %id,
        status = tracing::field::Empty,
        api_key_id = tracing::field::Empty,
    );
    let started = Instant::now();
    // Inner layers answer errors as responses (never `Err`), so every answer passes here.
    let response = next.call(req).instrument(span.clone()).await?;
    let mut response = as_problem(response.map_into_boxed_body());
    let status = response.status();
    span.record("status", status.as_u16());
    span.in_scope(|| {
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if status.is_server_error() {
            tracing::error!(latency_ms = ms, "request finished");
        } else if probe && status.is_success() {
            tracing::debug!(latency_ms = ms, "request finished");
        } else {
            tracing::info!(latency_ms = ms, "request finished");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}

/// Error answers that are not problem details yet (an unknown route, a wrong method, an
/// oversized body rejected by actix) become problem details for their status.
fn as_problem(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let code = Code::for_status(status);
    let detail = match code {
        Code::NotFound => "no such route; see the API overview in the README".to_string(),
        Code::MethodNotAllowed => "this route does not take this method".to_string(),
        Code::PayloadTooLarge => format!(
            "request bodies are limited to {} bytes",
            crate::body::MAX_BODY_BYTES
        ),
        _ => status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_string(),
    };
    let (req, _) = response.into_parts();
    ServiceResponse::new(req, Problem::new(code, detail).error_response())
}

/// Requires `Authorization: Bearer <live API key>` for everything it wraps.
pub async fn require_api_key(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .map(str::to_owned);
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        let problem = Problem::internal(&"application state missing");
        return Ok(req.into_response(problem.error_response()));
    };
    let Some(token) = token else {
        let problem = Problem::new(
            Code::Unauthorized,
            "send your API key as `Authorization: Bearer <key>`",
        );
        return Ok(req.into_response(problem.error_response()));
    };
    let key = match state.api_keys.authenticate(&token).await {
        Ok(key) => key,
        Err(e) => return Ok(req.into_response(Problem::from(e).error_response())),
    };
    tracing::Span::current().record("api_key_id", tracing::field::display(key.id));
    req.extensions_mut().insert(key);
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

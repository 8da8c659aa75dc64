//! Cross-cutting request handling: a request id and one tracing span per request, problem
//! details for every error answer (including those actix makes itself), and API-key auth.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use futures_util::FutureExt;
use tracing::Instrument;
use uuid::Uuid;

use orderpay_domain::api_key::Scope;

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

/// The outermost middleware: request id, span, access log line, problem details fallback,
/// and a panic in a handler caught here and answered as a 500 like any other error, so it
/// never takes down the worker and the other requests it is serving. It runs before routing,
/// so it knows no route: the route's guard records it (see `routes`), and the log line and
/// the metrics read it from there once the answer is back.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = request_id(&req);
    // Load balancers probe these every few seconds: keep them out of the info log.
    let probe = matches!(req.path(), "/healthz" | "/readyz");
    // The route's pattern (`/pay/{token}`), never the path: paths carry pay tokens and
    // sandbox session ids, which would let a log reader pay or decline for a customer.
    let span = tracing::info_span!(
        "http_request",
        method = %req.method(),
        route = tracing::field::Empty,
        request_id = %id,
        trace_id = tracing::field::Empty,
        status = tracing::field::Empty,
        api_key_id = tracing::field::Empty,
    );
    if let Some(trace) = trace_id(&req) {
        span.record("trace_id", trace);
    }
    // Counted only while /metrics is served (`METRICS_TOKEN`).
    let counted = req
        .app_data::<actix_web::web::Data<crate::AppState>>()
        .is_some_and(|state| state.metrics.is_some());
    let method = req.method().clone();
    let started = Instant::now();
    // Inner layers answer errors as responses (never `Err`), so every answer passes here.
    let outcome = AssertUnwindSafe(next.call(req).instrument(span.clone()))
        .catch_unwind()
        .await;
    let response = match outcome {
        Ok(response) => response?.map_into_boxed_body(),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            span.record("status", 500);
            span.in_scope(|| tracing::error!(panic = %what, "a handler panicked; answered 500"));
            // The request went into the panicking service, so there is none left to build a
            // `ServiceResponse` from: answer through actix's error path instead.
            return Err(Panicked { request_id: id }.into());
        }
    };
    let mut response = as_problem(response);
    let status = response.status();
    let route = route_label(&response);
    span.record("route", route.as_ref());
    span.record("status", status.as_u16());
    if counted {
        crate::metrics::record_request(
            &method,
            route.into_owned(),
            status.as_u16(),
            started.elapsed(),
        );
    }
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

/// The route an answer came from, for logs and metrics: the pattern its guard declared; for a
/// 405, the pattern of the resource actix matched (it has no route for that method); else
/// `(no route)`.
fn route_label(response: &ServiceResponse<BoxBody>) -> std::borrow::Cow<'static, str> {
    if let Some(declared) = crate::routes::declared(response.request()) {
        return declared.path.into();
    }
    if response.status() == actix_web::http::StatusCode::METHOD_NOT_ALLOWED
        && let Some(pattern) = response.request().match_pattern()
    {
        return pattern.into();
    }
    "(no route)".into()
}

/// The trace id of a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`), when the
/// request carries a well-formed one: logs then join the caller's trace. Anything else is
/// ignored, never logged as sent.
fn trace_id(req: &ServiceRequest) -> Option<&str> {
    let value = req.headers().get("traceparent")?.to_str().ok()?;
    let mut parts = value.split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let well_formed = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(parent, 16)
        && hex(flags, 2)
        && (version != "00" || parts.next().is_none());
    well_formed.then_some(trace)
}

/// The answer to a request whose handler panicked: a 500 in problem details, with its id.
#[derive(Debug)]
struct Panicked {
    request_id: String,
}

impl std::fmt::Display for Panicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the handler panicked")
    }
}

impl ResponseError for Panicked {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::INTERNAL_SERVER_ERROR
    }

    fn error_response(&self) -> actix_web::HttpResponse {
        let mut response = Problem::new(
            Code::InternalError,
            "something went wrong on our side; retry later, quoting the x-request-id header",
        )
        .error_response();
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        response
    }
}

/// Error answers that are not problem details yet (an unknown route, a wrong method, an
/// oversized body rejected by actix) become problem details for their status.
fn as_problem(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE);
    let is_problem = content_type.is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    // Pages for people (an unknown pay link) keep their HTML.
    let is_page = content_type.is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem || is_page {
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
    let mut answer = Problem::new(code, detail).error_response();
    if code == Code::MethodNotAllowed
        && let Some(allow) = req
            .match_pattern()
            .and_then(|route| crate::openapi::allowed_methods(&route))
    {
        answer
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    ServiceResponse::new(req, answer)
}

/// The client's address as the limits see it (behind `RATE_LIMIT_TRUSTED_PROXIES`, what the
/// first trusted proxy saw), or `None` when unknown.
fn client_of(req: &ServiceRequest, state: &AppState) -> Option<std::net::IpAddr> {
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok());
    crate::limits::client_address(
        req.peer_addr().map(|a| a.ip()),
        forwarded,
        state.limits.settings.trusted_proxies,
    )
}

/// For the routes that need no key: a token bucket per client address (429 with
/// `Retry-After` past it), its state in the `RateLimit-*` headers of every answer.
pub(crate) async fn limited_per_address(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let verdict = req.app_data::<web::Data<AppState>>().and_then(|state| {
        let address = client_of(&req, state)?;
        state.limits.per_address.check(&address, Instant::now())
    });
    if let Some(verdict) = verdict.filter(|v| !v.allowed) {
        tracing::warn!("rate limited (per client address)");
        return Ok(req.into_response(crate::limits::refused(&verdict)));
    }
    let mut response = next.call(req).await?.map_into_boxed_body();
    if let Some(verdict) = &verdict {
        crate::limits::write_headers(response.headers_mut(), verdict);
    }
    Ok(response)
}

/// For a route that needs `scope`: `Authorization: Bearer <live API key>` that has it (403
/// `insufficient_scope` naming it otherwise), within the key's rate limit; then the route's
/// `Idempotency-Key` handling and its handler. An address that keeps sending keys that fail
/// is refused (429) before its keys are looked up.
pub(crate) async fn require_api_key(
    scope: Scope,
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
    let address = client_of(&req, &state);
    let failures = &state.limits.failed_auth;
    if let Some(verdict) = address.and_then(|a| failures.refuses(&a, Instant::now())) {
        tracing::warn!("rate limited (failed authentication per client address)");
        return Ok(req.into_response(crate::limits::refused(&verdict)));
    }
    let key = match state.api_keys.authenticate(&token).await {
        Ok(key) => key,
        Err(e) => {
            let problem = Problem::from(e);
            if problem.code() == Code::Unauthorized
                && let Some(address) = address
            {
                failures.check(&address, Instant::now());
            }
            return Ok(req.into_response(problem.error_response()));
        }
    };
    tracing::Span::current().record("api_key_id", tracing::field::display(key.id));
    if !key.allows(scope) {
        let problem = Problem::new(
            Code::InsufficientScope,
            format!("this API key is restricted; this request needs the scope `{scope}`"),
        )
        .with(crate::problem::Member::RequiredScope, scope.as_str());
        return Ok(req.into_response(problem.error_response()));
    }
    let verdict = state
        .limits
        .per_key
        .check(&key.id.as_uuid(), Instant::now());
    if let Some(verdict) = verdict.filter(|v| !v.allowed) {
        tracing::warn!("rate limited (per API key)");
        return Ok(req.into_response(crate::limits::refused(&verdict)));
    }
    req.extensions_mut().insert(key);
    let mut response = crate::idempotency::idempotent(req, next).await?;
    if let Some(verdict) = &verdict {
        crate::limits::write_headers(response.headers_mut(), verdict);
    }
    // API answers carry personal data (phones, emails, orders): no cache may keep them.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test};

    #[actix_web::test]
    async fn only_a_well_formed_traceparent_gives_a_trace_id() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let with = |value: &str| {
            test::TestRequest::get()
                .insert_header(("traceparent", value.to_owned()))
                .to_srv_request()
        };
        let good = with(&format!("00-{trace}-00f067aa0ba902b7-01"));
        assert_eq!(trace_id(&good), Some(trace));
        for bad in [
            format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)),
            format!("ff-{trace}-00f067aa0ba902b7-01"),
            format!("00-{trace}-00f067aa0ba902b7-01-extra"),
            format!("00-{}-00f067aa0ba902b7-01", trace.to_uppercase()),
            format!("00-{trace}\nforged=1-00f067aa0ba902b7-01"),
            "00-short-00f067aa0ba902b7-01".to_owned(),
            String::new(),
        ] {
            let request = test::TestRequest::get()
                .insert_header((
                    "traceparent",
                    actix_web::http::header::HeaderValue::from_bytes(bad.as_bytes())
                        .unwrap_or(actix_web::http::header::HeaderValue::from_static("x")),
                ))
                .to_srv_request();
            assert_eq!(trace_id(&request), None, "{bad:?}");
        }
        assert_eq!(trace_id(&test::TestRequest::get().to_srv_request()), None);
    }

    async fn boom() -> HttpResponse {
        panic!("a handler bug");
    }

    async fn slow() -> HttpResponse {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        HttpResponse::Ok().body("done")
    }

    #[actix_web::test]
    async fn a_panicking_handler_answers_500_problem_details_and_spares_the_others() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(request_context))
                .route("/boom", web::get().to(boom))
                .route("/slow", web::get().to(slow)),
        )
        .await;
        // A slow request in flight on the same worker while another one panics.
        let (slow_response, boom) = futures_util::future::join(
            test::call_service(&app, test::TestRequest::get().uri("/slow").to_request()),
            test::try_call_service(&app, test::TestRequest::get().uri("/boom").to_request()),
        )
        .await;
        // actix turns the error into the response the client gets.
        let boom_response = boom
            .expect_err("a panic is answered as an error")
            .error_response();
        assert_eq!(boom_response.status(), 500);
        assert_eq!(
            boom_response.headers().get(header::CONTENT_TYPE).unwrap(),
            PROBLEM_JSON,
            "a panic is answered as problem details"
        );
        assert!(boom_response.headers().contains_key(REQUEST_ID));
        let body = actix_web::body::to_bytes(boom_response.into_body())
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "internal_error");
        assert!(
            !body.to_string().contains("a handler bug"),
            "5xx bodies say nothing internal: {body}"
        );
        assert_eq!(slow_response.status(), 200);
        assert_eq!(test::read_body(slow_response).await, "done");
        // The worker goes on serving.
        let again =
            test::call_service(&app, test::TestRequest::get().uri("/slow").to_request()).await;
        assert_eq!(again.status(), 200);
    }
}

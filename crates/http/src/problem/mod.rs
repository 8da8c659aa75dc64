//! RFC 9457 problem details, and the one place where errors become HTTP statuses.
//!
//! Every error answer has a stable machine-readable `code` from [`Code`]; 5xx answers say
//! nothing internal (the log gets the whole cause chain).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Map, Value};

use orderpay_domain::validation::Violations;

mod from_errors;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Defines [`Code`] from one table: each code's variant, its name in the API, its status and
/// its title. The README's table of errors is checked against it (`the_readme_lists_every_code`).
macro_rules! codes {
    ($($variant:ident => $name:literal, $status:ident, $title:literal;)*) => {
        /// The catalogue of error codes. Codes are part of the API: never renamed, only added.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in the catalogue's order.
            pub const ALL: &[Code] = &[$(Self::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            pub fn status(self) -> StatusCode {
                match self {
                    $(Self::$variant => StatusCode::$status,)*
                }
            }

            pub fn title(self) -> &'static str {
                match self {
                    $(Self::$variant => $title,)*
                }
            }
        }
    };
}

codes! {
    MalformedJson => "malformed_json", BAD_REQUEST, "The request body is not valid JSON";
    UnsupportedMediaType => "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE,
        "The request body must be application/json";
    PayloadTooLarge => "payload_too_large", PAYLOAD_TOO_LARGE, "The request body is too large";
    ValidationFailed => "validation_failed", UNPROCESSABLE_ENTITY, "The request has invalid fields";
    Unauthorized => "unauthorized", UNAUTHORIZED, "A valid API key is required";
    InsufficientScope => "insufficient_scope", FORBIDDEN, "The API key may not do this";
    RateLimited => "rate_limited", TOO_MANY_REQUESTS, "Too many requests";
    NotFound => "not_found", NOT_FOUND, "Not found";
    MethodNotAllowed => "method_not_allowed", METHOD_NOT_ALLOWED, "Method not allowed";
    CustomerExists => "customer_exists", CONFLICT,
        "A customer with this phone number already exists";
    OrderAlreadyPaid => "order_already_paid", CONFLICT, "The order is already paid";
    OrderAlreadyCancelled => "order_already_cancelled", CONFLICT, "The order is already cancelled";
    OrderCancelled => "order_cancelled", CONFLICT, "The order is cancelled";
    OrderNotPaid => "order_not_paid", CONFLICT, "The order has no payment to refund";
    OrderFlagged => "order_flagged", CONFLICT, "The order is flagged and needs a person's attention";
    PaymentProcessing => "payment_processing", CONFLICT, "A payment for the order is on its way";
    IdempotencyKeyInUse => "idempotency_key_in_use", CONFLICT,
        "A request with this Idempotency-Key is in progress";
    IdempotencyKeyReused => "idempotency_key_reused", UNPROCESSABLE_ENTITY,
        "The Idempotency-Key was used for another request";
    RefundInProgress => "refund_in_progress", CONFLICT, "Another refund of the order is in progress";
    CurrencyNotSupportedByProvider => "currency_not_supported_by_provider", UNPROCESSABLE_ENTITY,
        "The payment provider does not take this currency";
    AmountBelowProviderMinimum => "amount_below_provider_minimum", UNPROCESSABLE_ENTITY,
        "The order total is under the payment provider's minimum";
    DirectoryUnavailable => "directory_unavailable", BAD_GATEWAY,
        "The customer directory is unavailable";
    PaymentProviderRefused => "payment_provider_refused", BAD_GATEWAY,
        "The payment provider refused the request";
    PaymentProviderUnavailable => "payment_provider_unavailable", BAD_GATEWAY,
        "The payment provider is unavailable";
    InvalidSignature => "invalid_signature", BAD_REQUEST, "The webhook signature does not verify";
    ServiceUnavailable => "service_unavailable", SERVICE_UNAVAILABLE, "The service is unavailable";
    InternalError => "internal_error", INTERNAL_SERVER_ERROR, "Internal server error";
}

impl Code {
    /// The code a bare status maps to, for answers actix makes itself (unknown routes, say).
    pub fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            400 => Self::MalformedJson,
            401 => Self::Unauthorized,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            413 => Self::PayloadTooLarge,
            415 => Self::UnsupportedMediaType,
            429 => Self::RateLimited,
            422 => Self::ValidationFailed,
            503 => Self::ServiceUnavailable,
            _ => Self::InternalError,
        }
    }
}

#[derive(Debug, Serialize)]
struct FieldProblem {
    field: String,
    message: String,
}

/// The members a problem may carry beside RFC 9457's, each in the document's `ProblemBody`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    ExistingCustomerId,
    RequiredScope,
    MinimumAmount,
    Flags,
    Currency,
    OrderStatus,
}

impl Member {
    pub const ALL: [Member; 6] = [
        Self::ExistingCustomerId,
        Self::RequiredScope,
        Self::MinimumAmount,
        Self::Flags,
        Self::Currency,
        Self::OrderStatus,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ExistingCustomerId => "existing_customer_id",
            Self::RequiredScope => "required_scope",
            Self::MinimumAmount => "minimum_amount",
            Self::Flags => "flags",
            Self::Currency => "currency",
            Self::OrderStatus => "order_status",
        }
    }
}

/// An error answer. Build one from a [`Code`], or convert a domain error.
#[derive(Debug)]
pub struct Problem {
    code: Code,
    detail: String,
    errors: Vec<FieldProblem>,
    extra: Map<String, Value>,
}

impl Problem {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            errors: Vec::new(),
            extra: Map::new(),
        }
    }

    pub fn code(&self) -> Code {
        self.code
    }

    pub fn validation(violations: &Violations) -> Self {
        let mut p = Self::new(Code::ValidationFailed, violations.to_string());
        p.errors = violations
            .errors()
            .iter()
            .map(|e| FieldProblem {
                field: e.field.clone(),
                message: e.message.clone(),
            })
            .collect();
        p
    }

    pub fn field(field: &str, message: impl std::fmt::Display) -> Self {
        Self::validation(&Violations::one(field, message))
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(Code::NotFound, format!("no such {what}"))
    }

    /// An unexpected failure: logged whole here, answered with nothing internal.
    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %error, "request failed");
        Self::new(
            Code::InternalError,
            "something went wrong on our side; retry later, quoting the x-request-id header",
        )
    }

    /// A failure the client did not cause and nobody expected: 500, the cause in the log.
    pub fn unexpected(cause: &anyhow::Error) -> Self {
        Self::internal(&format!("{cause:#}"))
    }

    /// The store is out of reach (an error's `Unavailable` variant said so): 503, worth a
    /// retry.
    pub fn unavailable(cause: &anyhow::Error) -> Self {
        tracing::warn!(error = %format!("{cause:#}"), "store unavailable");
        Self::new(
            Code::ServiceUnavailable,
            "the database is not answering; retry shortly",
        )
    }

    pub(crate) fn with(mut self, member: Member, value: impl Into<Value>) -> Self {
        self.extra.insert(member.as_str().to_string(), value.into());
        self
    }

    fn body(&self) -> String {
        let body = Body {
            kind: format!("/problems/{}", self.code.as_str()),
            title: self.code.title(),
            status: self.code.status().as_u16(),
            code: self.code.as_str(),
            detail: &self.detail,
            errors: &self.errors,
            extra: &self.extra,
        };
        serde_json::to_string(&body).unwrap_or_default()
    }
}

/// The members in RFC 9457's order, then orderpay's.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    code: &'static str,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldProblem],
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        match self.code {
            Code::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            Code::ServiceUnavailable => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
        let mut response = response.body(self.body());
        if self.code.asks_for_a_retry() {
            response.extensions_mut().insert(RetryLater);
        }
        response
    }
}

/// Set on an answer that tells the client to retry the same request later: an idempotency
/// key is released for it rather than keeping that answer as the request's outcome.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryLater;

impl Code {
    /// Whether the answer says "not now, retry" (the request may succeed as it is later),
    /// rather than the request's outcome.
    pub fn asks_for_a_retry(self) -> bool {
        matches!(
            self,
            Self::PaymentProcessing
                | Self::RefundInProgress
                | Self::IdempotencyKeyInUse
                | Self::RateLimited
                | Self::ServiceUnavailable
        )
    }
}

#[cfg(test)]
mod catalogue_tests {
    use super::*;

    /// The README's table of errors is the catalogue: every code once, with its status, and
    /// nothing else.
    #[test]
    fn the_readme_lists_every_code_with_its_status() {
        let readme = include_str!("../../../../README.md");
        let section = readme
            .split("### Errors")
            .nth(1)
            .expect("the README has an Errors section");
        let listed: Vec<(String, u16)> = section
            .lines()
            .skip_while(|l| !l.starts_with("| code"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|row| {
                let cells: Vec<&str> = row.split('|').map(str::trim).collect();
                (
                    cells[1].trim_matches('`').to_owned(),
                    cells[2].parse().expect("a status"),
                )
            })
            .collect();
        let catalogue: Vec<(String, u16)> = Code::ALL
            .iter()
            .map(|c| (c.as_str().to_owned(), c.status().as_u16()))
            .collect();
        let mut sorted_listed = listed.clone();
        sorted_listed.sort();
        let mut sorted_catalogue = catalogue.clone();
        sorted_catalogue.sort();
        assert_eq!(
            sorted_listed, sorted_catalogue,
            "README's errors vs Code::ALL"
        );
        assert_eq!(listed.len(), catalogue.len(), "each code once");
    }
}

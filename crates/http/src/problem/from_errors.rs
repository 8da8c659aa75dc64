//! Each operation's error as problem details: the one place where the domain's errors
//! become codes and statuses.

use orderpay_domain::api_key::ApiKeyError;
use orderpay_domain::customer::CustomerError;
use orderpay_domain::order::{CreateOrderError, ListOrdersError, OrderError, OrderStatus};
use orderpay_domain::payment::{
    CancelError, ChargeRefusal, ClearFlagsError, PayLinkError, RefundError,
};
use orderpay_domain::store::StoreError;
use orderpay_domain::webhook::WebhookError;

use super::{Code, Problem};

impl From<CustomerError> for Problem {
    fn from(e: CustomerError) -> Self {
        match e {
            CustomerError::NotFound => Self::not_found("customer"),
            CustomerError::Duplicate { existing } => Self::new(
                Code::CustomerExists,
                format!("customer {existing} has this phone number"),
            )
            .with(
                crate::problem::Member::ExistingCustomerId,
                existing.to_string(),
            ),
            CustomerError::CursorNotFound => {
                Self::field("starting_after", "no customer has this id")
            }
            CustomerError::DirectoryUnavailable(cause) => {
                tracing::warn!(error = %format!("{cause:#}"), "customer directory failed");
                Self::new(
                    Code::DirectoryUnavailable,
                    "the customer is not known here and the customer directory did not answer usefully; retry later",
                )
            }
            CustomerError::Unavailable(cause) => Self::unavailable(&cause),
            CustomerError::Unexpected(cause) => Self::unexpected(&cause),
        }
    }
}

impl From<CreateOrderError> for Problem {
    fn from(e: CreateOrderError) -> Self {
        match e {
            CreateOrderError::CustomerNotFound => {
                Self::field("customer_id", "no customer has this id")
            }
            CreateOrderError::Invalid(v) => Self::validation(&v),
            // Answered by the handler (a replay is not a problem); never reaches here.
            CreateOrderError::KeyTaken(claim) => {
                Self::internal(&format!("unanswered claim {claim:?}"))
            }
            CreateOrderError::Unavailable(cause) => Self::unavailable(&cause),
            CreateOrderError::Unexpected(cause) => Self::unexpected(&cause),
        }
    }
}

impl From<OrderError> for Problem {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::NotFound => Self::not_found("order"),
            OrderError::Unavailable(cause) => Self::unavailable(&cause),
            OrderError::Unexpected(cause) => Self::unexpected(&cause),
        }
    }
}

impl From<ListOrdersError> for Problem {
    fn from(e: ListOrdersError) -> Self {
        match e {
            ListOrdersError::CursorNotFound => {
                Self::field("starting_after", "no order has this id")
            }
            ListOrdersError::Unavailable(cause) => Self::unavailable(&cause),
            ListOrdersError::Unexpected(cause) => Self::unexpected(&cause),
        }
    }
}

impl From<PayLinkError> for Problem {
    fn from(e: PayLinkError) -> Self {
        match e {
            PayLinkError::NotFound => Self::not_found("order"),
            PayLinkError::AlreadyPaid => Self::new(
                Code::OrderAlreadyPaid,
                "the order is paid; there is nothing left to pay",
            ),
            PayLinkError::Cancelled => Self::new(
                Code::OrderCancelled,
                "the order is cancelled; it cannot be paid",
            ),
            PayLinkError::Flagged(flags) => Self::new(
                Code::OrderFlagged,
                "the order is flagged; no new payment opens until a person clears its flags \
                 (POST /v1/orders/{id}/clear-flags)",
            )
            .with(
                crate::problem::Member::Flags,
                flags.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
            ),
            PayLinkError::NotChargeable(refusal) => Self::not_chargeable(refusal),
            PayLinkError::ProviderUnavailable(cause) => Self::provider_unavailable(&cause),
            PayLinkError::Unavailable(cause) => Self::unavailable(&cause),
            PayLinkError::Unexpected(cause) => Self::unexpected(&cause),
        }
    }
}

impl Problem {
    fn not_chargeable(refusal: ChargeRefusal) -> Self {
        match refusal {
            ChargeRefusal::CurrencyNotSupported(currency) => Self::new(
                Code::CurrencyNotSupportedByProvider,
                format!("the payment provider does not charge in {currency}"),
            )
            .with(crate::problem::Member::Currency, currency.code()),
            ChargeRefusal::BelowMinimum { minimum, currency } => Self::new(
                Code::AmountBelowProviderMinimum,
                format!(
                    "the payment provider charges at least {minimum} minor units of {currency}"
                ),
            )
            .with(crate::problem::Member::MinimumAmount, minimum.minor_units())
            .with(crate::problem::Member::Currency, currency.code()),
        }
    }

    fn provider_unavailable(cause: &anyhow::Error) -> Self {
        tracing::warn!(error = %format!("{cause:#}"), "payment provider failed");
        Self::new(
            Code::PaymentProviderUnavailable,
            "the payment provider did not answer; nothing changed; retry later",
        )
    }
}

impl From<CancelError> for Problem {
    fn from(e: CancelError) -> Self {
        match e {
            CancelError::NotFound => Self::not_found("order"),
            CancelError::AlreadyPaid(status) => Self::new(
                Code::OrderAlreadyPaid,
                format!("the order is {status}; only a pending_payment order can be cancelled"),
            )
            .with(crate::problem::Member::OrderStatus, status.as_str()),
            CancelError::AlreadyCancelled => Self::new(
                Code::OrderAlreadyCancelled,
                "the order is cancelled; only a pending_payment order can be cancelled",
            )
            .with(
                crate::problem::Member::OrderStatus,
                OrderStatus::Cancelled.as_str(),
            ),
            CancelError::PaymentProcessing => Self::new(
                Code::PaymentProcessing,
                "a payment for this order is processing (a bank debit, say); wait for its \
                 outcome, then cancel or refund",
            ),
            CancelError::ProviderUnavailable(cause) => Self::provider_unavailable(&cause),
            CancelError::Unavailable(cause) => Self::unavailable(&cause),
            CancelError::Unexpected(cause) => Self::unexpected(&cause),
        }
    }
}

impl From<RefundError> for Problem {
    fn from(e: RefundError) -> Self {
        match e {
            RefundError::NotFound => Self::not_found("order"),
            RefundError::NotPaid(status) => Self::new(
                Code::OrderNotPaid,
                format!("the order is {status}; only a paid order can be refunded"),
            )
            .with(crate::problem::Member::OrderStatus, status.as_str()),
            RefundError::ExceedsRemaining { remaining } => Self::field(
                "amount",
                format!("must be between 1 and {remaining}, what is left to refund"),
            ),
            RefundError::InProgress => Self::new(
                Code::RefundInProgress,
                "another refund of this order is still being made; retry in a moment",
            ),
            RefundError::ProviderUnavailable(cause) => Self::provider_unavailable(&cause),
            RefundError::ProviderRejected(why) => {
                tracing::warn!(%why, "the payment provider refused a refund");
                Self::new(Code::PaymentProviderRefused, why)
            }
            RefundError::Unavailable(cause) => Self::unavailable(&cause),
            RefundError::Unexpected(cause) => Self::unexpected(&cause),
        }
    }
}

impl From<ClearFlagsError> for Problem {
    fn from(e: ClearFlagsError) -> Self {
        match e {
            ClearFlagsError::NotFound => Self::not_found("order"),
            ClearFlagsError::Unavailable(cause) => Self::unavailable(&cause),
            ClearFlagsError::Unexpected(cause) => Self::unexpected(&cause),
        }
    }
}

impl From<ApiKeyError> for Problem {
    fn from(e: ApiKeyError) -> Self {
        match e {
            ApiKeyError::Unavailable(cause) => Self::unavailable(&cause),
            ApiKeyError::Unexpected(cause) => Self::unexpected(&cause),
            _ => Self::new(
                Code::Unauthorized,
                "send a live API key as `Authorization: Bearer <key>`",
            ),
        }
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => Self::unavailable(&cause),
            other => Self::unexpected(&other.into()),
        }
    }
}

impl From<WebhookError> for Problem {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::NotFound(what) => Self::not_found(what),
            WebhookError::CursorNotFound(what) => {
                Self::field("starting_after", format!("no {what} has this id"))
            }
            WebhookError::Unavailable(cause) => Self::unavailable(&cause),
            WebhookError::Unexpected(cause) => Self::unexpected(&cause),
        }
    }
}

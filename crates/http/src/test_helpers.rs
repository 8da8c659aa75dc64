//! Test helpers, as Stripe has them: a bot's own tests pay or decline an order as a customer
//! would, without scraping the sandbox's pages. Only while the sandbox is the provider (404
//! otherwise); each makes exactly the history entries, events and webhook deliveries a
//! customer's payment would.

use actix_web::HttpResponse;
use actix_web::web::{Data, Path};

use orderpay_domain::payment::{ApplyError, TestPaymentError};

use crate::AppState;
use crate::orders::order_id;
use crate::problem::{Code, Problem};
use crate::views::OrderView;

impl From<TestPaymentError> for Problem {
    fn from(e: TestPaymentError) -> Self {
        match e {
            TestPaymentError::NotSandbox => Self::new(
                Code::NotFound,
                "no such route: test helpers exist only while the sandbox is the payment provider",
            ),
            TestPaymentError::PayLink(e) => e.into(),
            TestPaymentError::Processing => Self::new(
                Code::PaymentProcessing,
                "a payment of the order is on its way; it settles by itself",
            ),
            TestPaymentError::Apply(ApplyError::Unavailable(cause)) => Self::unavailable(&cause),
            TestPaymentError::Apply(e) => Self::unexpected(&e.into()),
        }
    }
}

async fn test_payment(state: &AppState, id: &str, pay: bool) -> Result<HttpResponse, Problem> {
    let id = order_id(id)?;
    state.payments.checkout.test_payment(id, pay).await?;
    let (order, payment) = state.orders.get_with_payment(id).await?;
    Ok(HttpResponse::Ok().json(OrderView::with_payment(&order, payment.as_ref())))
}

/// The customer opens the pay link's checkout and pays: `order.payment_link_created` (if the
/// link was not made yet), `payment.session_opened`, then `order.paid`, as in the sandbox's
/// own checkout page.
#[utoipa::path(post, path = "/v1/test_helpers/orders/{id}/pay", tag = "test_helpers",
    params(("id" = uuid::Uuid, Path, description = "The order's id")),
    responses((status = 200, description = "The order, paid, with its payment", body = crate::views::OrderView),
        (status = 404, description = "No such order, or the sandbox is not the provider (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`order_already_paid`, `order_cancelled`, `order_flagged`, `payment_processing`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`currency_not_supported_by_provider`, `amount_below_provider_minimum`", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn pay(state: Data<AppState>, id: Path<String>) -> Result<HttpResponse, Problem> {
    test_payment(&state, &id, true).await
}

/// The customer opens the pay link's checkout and declines: `payment.failed`; the order can
/// be paid again.
#[utoipa::path(post, path = "/v1/test_helpers/orders/{id}/decline", tag = "test_helpers",
    params(("id" = uuid::Uuid, Path, description = "The order's id")),
    responses((status = 200, description = "The order, still payable, with its failed payment", body = crate::views::OrderView),
        (status = 404, description = "No such order, or the sandbox is not the provider (`not_found`)", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "`order_already_paid`, `order_cancelled`, `order_flagged`, `payment_processing`", body = crate::openapi::ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "`currency_not_supported_by_provider`, `amount_below_provider_minimum`", body = crate::openapi::ProblemBody, content_type = "application/problem+json")))]
pub async fn decline(state: Data<AppState>, id: Path<String>) -> Result<HttpResponse, Problem> {
    test_payment(&state, &id, false).await
}

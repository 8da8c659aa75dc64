//! `/v1/orders/{id}/payment-link` and `/v1/orders/{id}/events`.

use actix_web::HttpResponse;
use actix_web::web::{Data, Path};

use crate::AppState;
use crate::orders::order_id;
use crate::problem::Problem;
use crate::views::{ListView, OrderEventView, PaymentLinkView};

/// The order's pay link: the same URL every time while it awaits payment.
pub async fn payment_link(
    state: Data<AppState>,
    id: Path<String>,
) -> Result<HttpResponse, Problem> {
    let link = state.payments.pay_link(order_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(PaymentLinkView::from(&link)))
}

/// The order's history, oldest first.
pub async fn events(state: Data<AppState>, id: Path<String>) -> Result<HttpResponse, Problem> {
    let history = state.payments.history(order_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(ListView::all(&history, |e| OrderEventView::from(e))))
}

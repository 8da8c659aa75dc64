//! The sandbox provider's checkout page, with its Pay and Decline buttons: served only while
//! the sandbox is the provider (no Stripe key), to try the whole flow without money.

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use maud::html;

use orderpay_domain::payment::{PaymentStatus, SandboxOutcome};

use crate::AppState;
use crate::pages::{Ctx, order_page, order_summary, page};
use crate::pay::{failed, forbidden, from_own_pages, not_found, see_other};

/// The sandbox's routes where it is not the provider: no such route.
fn no_sandbox() -> HttpResponse {
    use actix_web::ResponseError;
    crate::problem::Problem::new(
        crate::problem::Code::NotFound,
        "no such route; see the API overview in the README",
    )
    .error_response()
}

/// `GET /sandbox/checkout/{session}`: the sandbox provider's checkout page.
pub async fn checkout(
    state: Data<AppState>,
    req: HttpRequest,
    session: Path<String>,
) -> HttpResponse {
    if !state.sandbox {
        return no_sandbox();
    }
    let checkout = &state.public.payments.checkout;
    let ctx = Ctx::of(&req, checkout.merchant());
    let t = ctx.t;
    match checkout.session(&session).await {
        Ok(Some((payment, order))) if payment.status() == PaymentStatus::Open => {
            let action = crate::links::sandbox_checkout_path(&session);
            page(
                ctx,
                StatusCode::OK,
                t.sandbox_title,
                html! {
                    p.note { (t.sandbox_note) }
                    (order_summary(ctx, &order))
                    form method="post" action={ (action) "/pay" } {
                        button.pay type="submit" { (t.sandbox_pay) }
                    }
                    form method="post" action={ (action) "/decline" } {
                        button.decline type="submit" { (t.sandbox_decline) }
                    }
                },
            )
        }
        Ok(Some((_, order))) => see_other(&checkout.links().pay(order.pay_token())),
        Ok(None) => not_found(ctx),
        Err(e) => failed(ctx, "reading a sandbox session failed", &e),
    }
}

/// `POST /sandbox/checkout/{session}/pay` and `.../decline`: the customer's choice, applied as
/// the provider's event would be, through the same domain path. Refused from other sites
/// (403), and for a session that no longer takes a choice (409). Declining returns to the
/// pay link's page as a real checkout's cancel does: without going straight back.
pub async fn decide(
    state: Data<AppState>,
    req: HttpRequest,
    path: Path<(String, String)>,
) -> HttpResponse {
    if !state.sandbox {
        return no_sandbox();
    }
    let checkout = &state.public.payments.checkout;
    let ctx = Ctx::of(&req, checkout.merchant());
    let (session_id, choice) = path.into_inner();
    let pay = match choice.as_str() {
        "pay" => true,
        "decline" => false,
        _ => return not_found(ctx),
    };
    if !from_own_pages(&req, checkout.links().base(), false) {
        return forbidden(ctx);
    }
    match checkout.sandbox_choice(&session_id, pay).await {
        Ok(Some(SandboxOutcome::Applied(order))) => {
            let links = checkout.links();
            see_other(&if pay {
                links.paid(order.pay_token())
            } else {
                links.returned(order.pay_token())
            })
        }
        Ok(Some(SandboxOutcome::NotOpen(order))) => order_page(
            ctx,
            StatusCode::CONFLICT,
            ctx.t.closed_title,
            &order,
            ctx.t.closed_text,
        ),
        Ok(None) => not_found(ctx),
        Err(e) => failed(ctx, "applying a sandbox choice failed", &e),
    }
}

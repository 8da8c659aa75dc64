//! The route table: each route's method, path, who may call it and its handler, declared once
//! in [`declare`]. The router, the authorizer, the per-address limiter, the metrics label and
//! the OpenAPI document's `security` all read it.
//!
//! Authorization runs on the route actix matched: every route is wrapped in [`guard`], which
//! knows its own declaration. actix routes on the percent-decoded path, so a check on the
//! path as written (`cance%6C`) would check another route than the one that runs; here no
//! spelling can reach a handler without its route's check. A path under `/v1` that matches
//! no route reaches no guard, so no key is looked up and no handler runs: it is a 404.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, FromRequest, Handler, HttpMessage, Responder, web};

use orderpay_domain::api_key::Scope;

use crate::{
    customers, endpoints, events, metrics, orders, pay, payments, sandbox, test_helpers, webhooks,
};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// An API key that has this scope (a key with no scopes listed has them all).
    Key(Scope),
    /// Anyone, without a key: what a customer opens, Stripe's events, readiness. Limited per
    /// client address, and served from a database pool of their own.
    Public,
    /// Anyone, unlimited: liveness, the docs, `/metrics` (which checks its own token).
    Open,
}

/// One route as declared: what the guard of the route knows about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declared {
    pub path: &'static str,
    pub access: Access,
}

/// One operation of the table, as [`operations`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub named: Named,
}

/// Where routes are declared to: the actix router, or a list of operations.
trait Table {
    fn route<F, Args>(
        &mut self,
        method: Method,
        path: &'static str,
        access: Access,
        named: Named,
        handler: F,
    ) where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static;

    /// Bodies of up to `bytes` on `path` (instead of the API's limit).
    fn body_limit(&mut self, path: &'static str, bytes: usize);
}

/// A route's name and one-line summary in the OpenAPI document: the `operationId` client
/// generators name their functions and types after (unique, `<resource>_<verb>`), and what
/// `/docs` and editors show beside the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Named {
    pub id: &'static str,
    pub summary: &'static str,
}

/// Declares routes to `$t`, one line each: method, path, access, operationId, summary and
/// handler.
macro_rules! table {
    ($t:ident; $($method:ident $path:literal $access:expr, $id:literal, $summary:literal => $handler:path;)*) => {
        $($t.route(Method::$method, $path, $access, Named { id: $id, summary: $summary }, $handler);)*
    };
}

/// Every route. Order matters only among paths that could match the same request.
fn declare(t: &mut impl Table) {
    use Access::{Key, Open, Public};
    use Scope::*;
    table! { t;
        GET "/healthz" Open, "health_live", "Whether the process runs" => crate::healthz;
        GET "/readyz" Public, "health_ready", "Whether the service can work now (its database answers)" => crate::readyz;
        GET "/metrics" Open, "metrics", "Prometheus metrics (to METRICS_TOKEN)" => metrics::metrics;
        GET "/docs" Open, "docs", "The API's docs page" => crate::docs_index;

        GET "/v1/customers" Key(CustomersRead), "customers_list", "List customers, or look one up by phone" => customers::list_or_lookup;
        POST "/v1/customers" Key(CustomersWrite), "customers_create", "Create a customer" => customers::create;
        GET "/v1/customers/lookup" Key(CustomersRead), "customers_lookup", "Look a customer up by phone" => customers::lookup;
        GET "/v1/customers/{id}" Key(CustomersRead), "customers_get", "Get a customer" => customers::get;
        PATCH "/v1/customers/{id}" Key(CustomersWrite), "customers_update", "Update a customer" => customers::update;

        GET "/v1/orders" Key(OrdersRead), "orders_list", "List orders" => orders::list;
        POST "/v1/orders" Key(OrdersWrite), "orders_create", "Create an order" => orders::create;
        GET "/v1/orders/by-reference/{reference}" Key(OrdersRead), "orders_get_by_reference", "Find an order by its reference" => orders::get_by_reference;
        GET "/v1/orders/{id}" Key(OrdersRead), "orders_get", "Get an order" => orders::get;
        POST "/v1/orders/{id}/cancel" Key(OrdersWrite), "orders_cancel", "Cancel an order" => orders::cancel;
        GET "/v1/orders/{id}/events" Key(OrdersRead), "orders_history", "An order's history" => payments::events;
        POST "/v1/orders/{id}/clear-flags" Key(OrdersClearFlags), "orders_clear_flags", "Clear an order's flags" => payments::clear_flags;
        POST "/v1/orders/{id}/payment-link" Key(PaymentsWrite), "payment_links_create", "Get an order's pay link" => payments::payment_link;
        // The QR code is the pay link drawn: the same scope as the link.
        GET "/v1/orders/{id}/payment-link/qr" Key(PaymentsWrite), "payment_links_qr", "An order's pay link as a QR code (SVG)" => payments::payment_link_qr;
        POST "/v1/orders/{id}/refunds" Key(RefundsWrite), "refunds_create", "Refund an order, in full or in part" => payments::refund;

        GET "/v1/webhook_endpoints" Key(WebhooksRead), "webhook_endpoints_list", "List webhook endpoints" => endpoints::list;
        POST "/v1/webhook_endpoints" Key(WebhooksWrite), "webhook_endpoints_create", "Create a webhook endpoint" => endpoints::create;
        GET "/v1/webhook_endpoints/{id}" Key(WebhooksRead), "webhook_endpoints_get", "Get a webhook endpoint" => endpoints::get;
        PATCH "/v1/webhook_endpoints/{id}" Key(WebhooksWrite), "webhook_endpoints_update", "Update a webhook endpoint" => endpoints::update;
        DELETE "/v1/webhook_endpoints/{id}" Key(WebhooksWrite), "webhook_endpoints_delete", "Delete a webhook endpoint" => endpoints::delete;
        POST "/v1/webhook_endpoints/{id}/rotate_secret" Key(WebhooksWrite), "webhook_endpoints_rotate_secret", "Rotate a webhook endpoint's secret" => endpoints::rotate_secret;
        GET "/v1/webhook_endpoints/{id}/deliveries" Key(WebhooksRead), "webhook_deliveries_list", "List a webhook endpoint's deliveries" => endpoints::deliveries;
        POST "/v1/webhook_endpoints/{id}/deliveries/{delivery_id}/retry" Key(WebhooksWrite), "webhook_deliveries_retry", "Send a delivery again now" => endpoints::retry;

        POST "/v1/test_helpers/orders/{id}/pay" Key(PaymentsWrite), "test_helpers_pay", "Pay an order as its customer would (sandbox only)" => test_helpers::pay;
        POST "/v1/test_helpers/orders/{id}/decline" Key(PaymentsWrite), "test_helpers_decline", "Decline an order's payment as its customer would (sandbox only)" => test_helpers::decline;

        GET "/v1/events" Key(EventsRead), "events_list", "List events, newest first" => events::list;
        GET "/v1/events/{id}" Key(EventsRead), "events_get", "Get an event" => events::get;

        POST "/webhooks/stripe" Public, "stripe_events_receive", "Receive Stripe's signed events" => webhooks::stripe;
        GET "/pay/{token}" Public, "pay_links_page", "The pay link's page" => pay::preview;
        HEAD "/pay/{token}" Public, "pay_links_page_head", "The pay link's page, headers only" => pay::preview;
        POST "/pay/{token}" Public, "pay_links_open_checkout", "Open checkout from the pay link's page" => pay::open;
        GET "/pay/{token}/done" Public, "pay_links_done", "Where checkout returns the customer" => pay::done;
        // Answer 404 unless the sandbox is the provider.
        GET "/sandbox/checkout/{session}" Public, "sandbox_checkout", "The sandbox's checkout page" => sandbox::checkout;
        POST "/sandbox/checkout/{session}/{choice}" Public, "sandbox_choose", "Pay or decline in the sandbox" => sandbox::decide;
    }
    t.body_limit("/webhooks/stripe", webhooks::MAX_EVENT_BYTES);
}

/// Every operation of the table.
pub fn operations() -> Vec<Operation> {
    struct List(Vec<Operation>);
    impl Table for List {
        fn route<F, Args>(
            &mut self,
            method: Method,
            path: &'static str,
            access: Access,
            named: Named,
            _: F,
        ) where
            F: Handler<Args>,
            Args: FromRequest + 'static,
            F::Output: Responder + 'static,
        {
            self.0.push(Operation {
                method,
                path,
                access,
                named,
            });
        }

        fn body_limit(&mut self, _: &'static str, _: usize) {}
    }
    let mut list = List(Vec::new());
    declare(&mut list);
    list.0
}

/// The operation declared for `method` on `path` (a pattern such as `/v1/orders/{id}`).
pub fn operation(method: &Method, path: &str) -> Option<Operation> {
    static ALL: std::sync::LazyLock<Vec<Operation>> = std::sync::LazyLock::new(operations);
    ALL.iter()
        .find(|op| op.method == method && op.path == path)
        .cloned()
}

/// Registers the table's routes, each behind its guard, for `App::configure`.
pub fn register(cfg: &mut web::ServiceConfig) {
    register_where(cfg, |_| true);
}

/// Registers the routes whose path `keep` keeps (a workers-only process serves its health).
pub fn register_where(cfg: &mut web::ServiceConfig, keep: fn(&str) -> bool) {
    struct Router(Vec<(&'static str, actix_web::Resource)>, fn(&str) -> bool);
    impl Router {
        fn resource(&mut self, path: &'static str) -> &mut actix_web::Resource {
            let at = match self.0.iter().position(|(p, _)| *p == path) {
                Some(at) => at,
                None => {
                    // A resource, not bare routes: another method on a known path is 405.
                    self.0.push((path, web::resource(path)));
                    self.0.len() - 1
                }
            };
            &mut self.0[at].1
        }

        fn update(
            &mut self,
            path: &'static str,
            f: impl FnOnce(actix_web::Resource) -> actix_web::Resource,
        ) {
            let slot = self.resource(path);
            let resource = std::mem::replace(slot, web::resource(path));
            *slot = f(resource);
        }
    }
    impl Table for Router {
        fn route<F, Args>(
            &mut self,
            method: Method,
            path: &'static str,
            access: Access,
            _: Named,
            handler: F,
        ) where
            F: Handler<Args>,
            Args: FromRequest + 'static,
            F::Output: Responder + 'static,
        {
            if !(self.1)(path) {
                return;
            }
            let declared = Declared { path, access };
            let route = web::method(method)
                .to(handler)
                .wrap(from_fn(move |req, next| guard(declared, req, next)));
            self.update(path, |resource| resource.route(route));
        }

        fn body_limit(&mut self, path: &'static str, bytes: usize) {
            if (self.1)(path) {
                self.update(path, |r| r.app_data(web::PayloadConfig::new(bytes)));
            }
        }
    }
    let mut router = Router(Vec::new(), keep);
    declare(&mut router);
    for (_, resource) in router.0 {
        cfg.service(resource);
    }
}

/// The declaration of the route `req` ran, once its guard has seen it.
pub(crate) fn declared(req: &actix_web::HttpRequest) -> Option<Declared> {
    req.extensions().get::<Declared>().copied()
}

/// Runs before a route's handler, and only once actix has matched that route: notes the
/// route for the log and the metrics, then applies its access rule.
async fn guard(
    declared: Declared,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    req.extensions_mut().insert(declared);
    tracing::Span::current().record("route", declared.path);
    match declared.access {
        Access::Open => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body),
        Access::Public => crate::middleware::limited_per_address(req, next).await,
        Access::Key(scope) => crate::middleware::require_api_key(scope, req, next).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_under_v1_needs_a_key_and_every_route_is_declared_once() {
        let all = operations();
        for op in &all {
            assert_eq!(
                op.path.starts_with("/v1/"),
                matches!(op.access, Access::Key(_)),
                "{} {}",
                op.method,
                op.path
            );
            let same = all
                .iter()
                .filter(|o| o.method == op.method && o.path == op.path)
                .count();
            assert_eq!(same, 1, "{} {} declared twice", op.method, op.path);
        }
    }

    /// openapi-typescript builds its map of operations from `operationId`: a duplicated one
    /// silently gives one operation another's types. Every operation has its own, a summary
    /// and a description.
    #[test]
    fn every_operation_has_a_unique_operation_id_and_a_summary() {
        let document = serde_json::to_value(crate::openapi::document()).unwrap();
        let mut ids = std::collections::BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap_or_default();
                assert!(!id.is_empty(), "{method} {path} has no operationId");
                assert!(
                    id.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                    "{id}: snake_case, resource then verb"
                );
                assert!(
                    ids.insert(id.to_owned()),
                    "{id} is used twice ({method} {path})"
                );
                let summary = op["summary"].as_str().unwrap_or_default();
                assert!(!summary.is_empty(), "{method} {path} has no summary");
                let description = op["description"].as_str().unwrap_or_default();
                assert!(
                    !description.is_empty(),
                    "{method} {path} has no description"
                );
            }
        }
        let table: std::collections::BTreeSet<&str> =
            operations().iter().map(|op| op.named.id).collect();
        assert_eq!(
            table.len(),
            operations().len(),
            "the table's names are unique"
        );
    }

    #[test]
    fn the_document_lists_every_keyed_route_with_its_scope_and_no_other() {
        let document = serde_json::to_value(crate::openapi::document()).unwrap();
        let mut documented = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let method: Method = method.to_uppercase().parse().unwrap();
                let declared = operation(&method, path);
                let scopes = &op["security"][0]["bearer"];
                match declared.map(|d| d.access) {
                    Some(Access::Key(scope)) => {
                        assert_eq!(scopes, &serde_json::json!([scope.as_str()]), "{path}");
                        documented += 1;
                    }
                    Some(_) => assert_eq!(
                        op["security"],
                        serde_json::json!([{}]),
                        "{method} {path}: no key needed, said so"
                    ),
                    None => assert_eq!(path, "/openapi.json", "{method} {path} is not routed"),
                }
            }
        }
        let keyed = operations()
            .into_iter()
            .filter(|o| matches!(o.access, Access::Key(_)))
            .count();
        assert_eq!(documented, keyed, "every keyed route is in the document");
    }
}

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

use crate::{customers, endpoints, events, metrics, orders, pay, payments, sandbox, webhooks};

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
}

/// Where routes are declared to: the actix router, or a list of operations.
trait Table {
    fn route<F, Args>(&mut self, method: Method, path: &'static str, access: Access, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static;

    /// Bodies of up to `bytes` on `path` (instead of the API's limit).
    fn body_limit(&mut self, path: &'static str, bytes: usize);
}

/// Every route. Order matters only among paths that could match the same request.
fn declare(t: &mut impl Table) {
    use Access::{Key, Open, Public};
    use Scope::*;
    let (get, post, patch, delete) = (Method::GET, Method::POST, Method::PATCH, Method::DELETE);

    t.route(get.clone(), "/healthz", Open, crate::healthz);
    t.route(get.clone(), "/readyz", Public, crate::readyz);
    t.route(get.clone(), "/metrics", Open, metrics::metrics);
    t.route(get.clone(), "/docs", Open, crate::docs_index);

    t.route(
        get.clone(),
        "/v1/customers",
        Key(CustomersRead),
        customers::list_or_lookup,
    );
    t.route(
        post.clone(),
        "/v1/customers",
        Key(CustomersWrite),
        customers::create,
    );
    t.route(
        get.clone(),
        "/v1/customers/{id}",
        Key(CustomersRead),
        customers::get,
    );
    t.route(
        patch.clone(),
        "/v1/customers/{id}",
        Key(CustomersWrite),
        customers::update,
    );

    t.route(get.clone(), "/v1/orders", Key(OrdersRead), orders::list);
    t.route(post.clone(), "/v1/orders", Key(OrdersWrite), orders::create);
    let by_reference = "/v1/orders/by-reference/{reference}";
    t.route(
        get.clone(),
        by_reference,
        Key(OrdersRead),
        orders::get_by_reference,
    );
    t.route(get.clone(), "/v1/orders/{id}", Key(OrdersRead), orders::get);
    t.route(
        post.clone(),
        "/v1/orders/{id}/cancel",
        Key(OrdersWrite),
        orders::cancel,
    );
    let link = "/v1/orders/{id}/payment-link";
    t.route(
        post.clone(),
        link,
        Key(PaymentsWrite),
        payments::payment_link,
    );
    // The QR code is the pay link drawn: the same scope as the link.
    let qr = "/v1/orders/{id}/payment-link/qr";
    t.route(
        get.clone(),
        qr,
        Key(PaymentsWrite),
        payments::payment_link_qr,
    );
    t.route(
        get.clone(),
        "/v1/orders/{id}/events",
        Key(OrdersRead),
        payments::events,
    );
    t.route(
        post.clone(),
        "/v1/orders/{id}/refunds",
        Key(RefundsWrite),
        payments::refund,
    );
    let clear = "/v1/orders/{id}/clear-flags";
    t.route(
        post.clone(),
        clear,
        Key(OrdersClearFlags),
        payments::clear_flags,
    );

    let endpoints = "/v1/webhook_endpoints";
    t.route(get.clone(), endpoints, Key(WebhooksRead), endpoints::list);
    t.route(
        post.clone(),
        endpoints,
        Key(WebhooksWrite),
        endpoints::create,
    );
    let endpoint = "/v1/webhook_endpoints/{id}";
    t.route(get.clone(), endpoint, Key(WebhooksRead), endpoints::get);
    t.route(patch, endpoint, Key(WebhooksWrite), endpoints::update);
    t.route(delete, endpoint, Key(WebhooksWrite), endpoints::delete);
    let rotate = "/v1/webhook_endpoints/{id}/rotate_secret";
    t.route(
        post.clone(),
        rotate,
        Key(WebhooksWrite),
        endpoints::rotate_secret,
    );
    let deliveries = "/v1/webhook_endpoints/{id}/deliveries";
    t.route(
        get.clone(),
        deliveries,
        Key(WebhooksRead),
        endpoints::deliveries,
    );
    let retry = "/v1/webhook_endpoints/{id}/deliveries/{delivery_id}/retry";
    t.route(post.clone(), retry, Key(WebhooksWrite), endpoints::retry);

    t.route(get.clone(), "/v1/events", Key(EventsRead), events::list);
    t.route(get.clone(), "/v1/events/{id}", Key(EventsRead), events::get);

    t.route(post.clone(), "/webhooks/stripe", Public, webhooks::stripe);
    t.body_limit("/webhooks/stripe", webhooks::MAX_EVENT_BYTES);
    t.route(get.clone(), "/pay/{token}", Public, pay::preview);
    t.route(Method::HEAD, "/pay/{token}", Public, pay::preview);
    t.route(post.clone(), "/pay/{token}", Public, pay::open);
    t.route(get.clone(), "/pay/{token}/done", Public, pay::done);
    // Answer 404 unless the sandbox is the provider.
    let session = "/sandbox/checkout/{session}";
    t.route(get, session, Public, sandbox::checkout);
    t.route(
        post,
        "/sandbox/checkout/{session}/{choice}",
        Public,
        sandbox::decide,
    );
}

/// Every operation of the table.
pub fn operations() -> Vec<Operation> {
    struct List(Vec<Operation>);
    impl Table for List {
        fn route<F, Args>(&mut self, method: Method, path: &'static str, access: Access, _: F)
        where
            F: Handler<Args>,
            Args: FromRequest + 'static,
            F::Output: Responder + 'static,
        {
            self.0.push(Operation {
                method,
                path,
                access,
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
    struct Router(Vec<(&'static str, actix_web::Resource)>);
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
        fn route<F, Args>(&mut self, method: Method, path: &'static str, access: Access, handler: F)
        where
            F: Handler<Args>,
            Args: FromRequest + 'static,
            F::Output: Responder + 'static,
        {
            let declared = Declared { path, access };
            let route = web::method(method)
                .to(handler)
                .wrap(from_fn(move |req, next| guard(declared, req, next)));
            self.update(path, |resource| resource.route(route));
        }

        fn body_limit(&mut self, path: &'static str, bytes: usize) {
            self.update(path, |r| r.app_data(web::PayloadConfig::new(bytes)));
        }
    }
    let mut router = Router(Vec::new());
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
                    Some(_) => assert!(op["security"].is_null(), "{method} {path}"),
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

//! The addresses of the customer-facing routes, built here and only here: the routes are
//! registered in `lib.rs` (`/pay/{token}`, `/pay/{token}/done`, `/sandbox/checkout/{session}`),
//! and [`RouteLinks`] is the domain's `CustomerLinks` over them. The tests that follow a pay
//! link to the sandbox checkout and back (over HTTP and in a browser) hold the two together.

use orderpay_domain::order::PayToken;
use orderpay_domain::payment::CustomerLinks;

/// The customer-facing routes' addresses under the service's public address.
#[derive(Debug, Clone)]
pub struct RouteLinks {
    base: String,
}

impl RouteLinks {
    /// Links under `base_url` (`PUBLIC_BASE_URL`, or the local address it defaults to).
    pub fn new(base_url: &str) -> Self {
        Self {
            base: base_url.trim_end_matches('/').to_owned(),
        }
    }
}

/// The path of the pay link of `token`.
pub(crate) fn pay_path(token: &str) -> String {
    format!("/pay/{token}")
}

/// The path of the sandbox's checkout page of `session` (its forms post below it).
pub(crate) fn sandbox_checkout_path(session: &str) -> String {
    format!("/sandbox/checkout/{session}")
}

impl CustomerLinks for RouteLinks {
    fn base(&self) -> &str {
        &self.base
    }

    fn pay(&self, token: &PayToken) -> String {
        format!("{}{}", self.base, pay_path(token.as_str()))
    }

    fn returned(&self, token: &PayToken) -> String {
        format!("{}{}?returned", self.base, pay_path(token.as_str()))
    }

    fn paid(&self, token: &PayToken) -> String {
        format!("{}{}/done", self.base, pay_path(token.as_str()))
    }

    fn sandbox_checkout(&self, session: &str) -> String {
        format!("{}{}", self.base, sandbox_checkout_path(session))
    }
}

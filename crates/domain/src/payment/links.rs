//! Where a customer is sent: the pay link and the pages around checkout. The routes are the
//! HTTP adapter's, and so is the one builder of their addresses (`orderpay_http::RouteLinks`);
//! the domain asks it for a link and never formats a path.

use crate::order::PayToken;

pub trait CustomerLinks: Send + Sync + std::fmt::Debug + 'static {
    /// The service's public address, as configured (no trailing `/`).
    fn base(&self) -> &str;
    /// The pay link of an order: what a customer opens, and where checkout returns on cancel.
    fn pay(&self, token: &PayToken) -> String;
    /// Where checkout returns when the customer leaves it without paying: the pay link's
    /// page, told not to go straight back to checkout.
    fn returned(&self, token: &PayToken) -> String;
    /// Where checkout returns after paying.
    fn paid(&self, token: &PayToken) -> String;
    /// The sandbox's own checkout page of `session`.
    fn sandbox_checkout(&self, session: &str) -> String;
}

/// Links of a recognisable shape, for tests of the domain and of adapters other than HTTP.
#[cfg(any(test, feature = "testing"))]
#[derive(Debug)]
pub struct TestLinks(pub &'static str);

#[cfg(any(test, feature = "testing"))]
impl CustomerLinks for TestLinks {
    fn base(&self) -> &str {
        self.0
    }

    fn pay(&self, token: &PayToken) -> String {
        format!("{}/link/{}", self.0, token.as_str())
    }

    fn returned(&self, token: &PayToken) -> String {
        format!("{}/link/{}?returned", self.0, token.as_str())
    }

    fn paid(&self, token: &PayToken) -> String {
        format!("{}/link/{}/paid", self.0, token.as_str())
    }

    fn sandbox_checkout(&self, session: &str) -> String {
        format!("{}/sandbox/{session}", self.0)
    }
}

//! The `CustomerDirectory` port over HTTP and JSON: the upstream system a business already
//! keeps its customers in, asked only when orderpay's database does not know a phone number.
//!
//! Protocol: `GET {base}/customers?phone=<E.164>`, answered `200 {"name": "...",
//! "email": "..."}` when the directory knows the number and `404` when it does not. Anything
//! else, or no answer within the timeout, is "unavailable". The adapter follows no redirect,
//! reads at most [`MAX_ANSWER_BYTES`] of an answer, and never puts the URL (which carries a
//! customer's phone number) into an error.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use reqwest::{StatusCode, Url};
use serde::Deserialize;

use orderpay_domain::customer::{CustomerDirectory, DirectoryEntry, DirectoryError};
use orderpay_domain::phone::PhoneNumber;

/// The largest answer read from the directory; a bigger one is "unavailable".
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

pub struct HttpCustomerDirectory {
    client: reqwest::Client,
    /// `{base}/customers`, with the base URL's own query (an access token, say) kept.
    lookup_url: Url,
}

#[derive(Deserialize)]
struct Answer {
    name: String,
    #[serde(default)]
    email: Option<String>,
}

impl HttpCustomerDirectory {
    /// # Errors
    /// When `base_url` is not an absolute http(s) URL.
    pub fn new(base_url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let lookup_url = lookup_url(base_url)?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("orderpay/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the customer directory client")?;
        Ok(Self { client, lookup_url })
    }
}

/// `{base}/customers`: the path segment appended with the `url` crate, so a base with a path
/// (`https://crm.example.com/api/`) or a query (`?token=...`) stays what it was.
fn lookup_url(base_url: &str) -> anyhow::Result<Url> {
    let mut url = Url::parse(base_url).context("CUSTOMER_DIRECTORY_URL is not a URL")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(anyhow!("CUSTOMER_DIRECTORY_URL must be http or https"));
    }
    url.path_segments_mut()
        .map_err(|()| anyhow!("CUSTOMER_DIRECTORY_URL cannot have a path"))?
        .pop_if_empty()
        .push("customers");
    Ok(url)
}

/// Reads at most `MAX_ANSWER_BYTES` of the body, chunk by chunk, so a huge (or endless)
/// answer costs no more memory than that.
async fn bounded_body(mut response: reqwest::Response) -> anyhow::Result<Vec<u8>> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(anyhow!(
            "the answer is larger than {MAX_ANSWER_BYTES} bytes"
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| anyhow!(e.without_url()))
        .context("reading the answer")?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(anyhow!(
                "the answer is larger than {MAX_ANSWER_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

#[async_trait]
impl CustomerDirectory for HttpCustomerDirectory {
    #[tracing::instrument(skip_all)]
    async fn lookup(&self, phone: &PhoneNumber) -> Result<Option<DirectoryEntry>, DirectoryError> {
        let unavailable = |e: anyhow::Error| DirectoryError::Unavailable(e);
        let mut url = self.lookup_url.clone();
        url.query_pairs_mut().append_pair("phone", phone.as_str());
        let response = self
            .client
            .get(url)
            .send()
            .await
            // The URL holds the customer's phone number: keep it out of errors and logs.
            .map_err(|e| anyhow!(e.without_url()))
            .context("calling the customer directory")
            .map_err(unavailable)?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => {
                let body = bounded_body(response)
                    .await
                    .context("reading the customer directory's answer")
                    .map_err(unavailable)?;
                let answer: Answer = serde_json::from_slice(&body)
                    .context("the customer directory's answer is not the expected JSON")
                    .map_err(unavailable)?;
                Ok(Some(DirectoryEntry {
                    name: answer.name,
                    email: answer.email,
                }))
            }
            status => Err(unavailable(anyhow!(
                "the customer directory answered {status}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lookup_url;

    #[test]
    fn the_lookup_url_keeps_the_base_path_and_query() {
        for (base, expected) in [
            (
                "https://crm.example.com",
                "https://crm.example.com/customers",
            ),
            (
                "https://crm.example.com/",
                "https://crm.example.com/customers",
            ),
            (
                "https://crm.example.com/api/v2/",
                "https://crm.example.com/api/v2/customers",
            ),
            (
                "https://crm.example.com/api?token=abc",
                "https://crm.example.com/api/customers?token=abc",
            ),
        ] {
            assert_eq!(lookup_url(base).unwrap().as_str(), expected, "{base}");
        }
        assert!(lookup_url("ftp://crm.example.com").is_err());
        assert!(lookup_url("not a url").is_err());
    }
}

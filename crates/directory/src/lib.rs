//! The `CustomerDirectory` port over HTTP and JSON: the upstream system a business already
//! keeps its customers in, asked only when orderpay's database does not know a phone number.
//!
//! Protocol: `GET {base}/customers?phone=<E.164>`, answered `200 {"name": "...",
//! "email": "..."}` when the directory knows the number and `404` when it does not. Anything
//! else, or no answer within the timeout, is "unavailable".

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use reqwest::StatusCode;
use serde::Deserialize;

use orderpay_domain::customer::{CustomerDirectory, DirectoryEntry, DirectoryError};
use orderpay_domain::phone::PhoneNumber;

pub struct HttpCustomerDirectory {
    client: reqwest::Client,
    lookup_url: reqwest::Url,
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
        let base = reqwest::Url::parse(base_url)
            .with_context(|| format!("CUSTOMER_DIRECTORY_URL `{base_url}` is not a URL"))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(anyhow!("CUSTOMER_DIRECTORY_URL must be http or https"));
        }
        let lookup_url = reqwest::Url::parse(&format!(
            "{}/customers",
            base.as_str().trim_end_matches('/')
        ))?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("orderpay/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the customer directory client")?;
        Ok(Self { client, lookup_url })
    }
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
        let response = self
            .client
            .get(self.lookup_url.clone())
            .query(&[("phone", phone.as_str())])
            .send()
            .await
            .context("calling the customer directory")
            .map_err(unavailable)?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => {
                let answer: Answer = response
                    .json()
                    .await
                    .context("reading the customer directory's answer")
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

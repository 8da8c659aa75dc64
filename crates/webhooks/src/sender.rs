//! One POST per attempt. In production (`UrlPolicy::PublicHttpsOnly`) the client's resolver
//! drops every private address a name resolves to and fails when none is left, so the check
//! holds for the address connected to, whatever DNS says between two lookups; an IP literal
//! is checked before connecting. No proxy, no redirect, at most 64 KiB of the answer read.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::TimeDelta;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use orderpay_domain::webhook::{Attempt, OutgoingWebhook, UrlPolicy, WebhookSender, is_public};

use crate::signing::{SigningKey, sign};

/// Most of an answer read; the rest is not.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

pub struct HttpSender {
    client: reqwest::Client,
    key: SigningKey,
    policy: UrlPolicy,
}

impl HttpSender {
    pub fn new(key: SigningKey, policy: UrlPolicy, timeout: Duration) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config())
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(32)
            .user_agent(concat!("orderpay-webhooks/", env!("CARGO_PKG_VERSION")));
        if policy == UrlPolicy::PublicHttpsOnly {
            builder = builder.dns_resolver(Arc::new(PublicOnly)).https_only(true);
        }
        let client = builder.build().map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            key,
            policy,
        })
    }

    /// The `webhook-signature` header: one signature per secret version, space-separated.
    fn signatures(&self, webhook: &OutgoingWebhook, timestamp: i64) -> String {
        webhook
            .secret_versions
            .iter()
            .map(|version| {
                let key = self.key.key_bytes(webhook.endpoint, *version);
                sign(
                    &key,
                    &webhook.message_id,
                    timestamp,
                    webhook.body.as_bytes(),
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Refuses, before connecting, a URL whose host is a private IP literal (the resolver
    /// never sees those).
    fn refused(&self, url: &str) -> Option<String> {
        if self.policy != UrlPolicy::PublicHttpsOnly {
            return None;
        }
        let parsed = url::Url::parse(url).ok()?;
        let ip = match parsed.host()? {
            url::Host::Ipv4(v4) => IpAddr::V4(v4),
            url::Host::Ipv6(v6) => IpAddr::V6(v6),
            url::Host::Domain(_) => return None,
        };
        (!is_public(ip)).then(|| format!("could not connect: {REFUSED}"))
    }
}

#[async_trait]
impl WebhookSender for HttpSender {
    async fn send(&self, webhook: &OutgoingWebhook) -> Attempt {
        let started = Instant::now();
        let elapsed =
            |started: Instant| TimeDelta::from_std(started.elapsed()).unwrap_or(TimeDelta::MAX);
        if let Some(why) = self.refused(&webhook.url) {
            return Attempt {
                status: None,
                duration: elapsed(started),
                response: String::new(),
                error: Some(why),
            };
        }
        let timestamp = webhook.timestamp.timestamp();
        let sent = self
            .client
            .post(&webhook.url)
            .header("content-type", "application/json")
            .header("webhook-id", &webhook.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", self.signatures(webhook, timestamp))
            .body(webhook.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let answer = bounded_text(response).await;
                Attempt {
                    status: Some(status),
                    duration: elapsed(started),
                    response: answer,
                    error: None,
                }
            }
            Err(e) => Attempt {
                status: None,
                duration: elapsed(started),
                response: String::new(),
                error: Some(describe(&e)),
            },
        }
    }
}

/// The start of the answer, as the text kept of it, reading no more than
/// [`MAX_ANSWER_BYTES`].
async fn bounded_text(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_ANSWER_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    Attempt::answer_text(&body)
}

/// Why there was no answer, without the URL (it may carry a token) and with the cause.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {cause}")
    }
}

/// Why a delivery was not sent, as the deliveries list shows it: never the address, which
/// would let any key that reads deliveries map the internal network's DNS.
const REFUSED: &str = "refused: not a public address";

/// A resolver that keeps only public addresses, and fails when a name has none.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|a| is_public(a.ip()))
                .collect();
            if public.is_empty() {
                return Err(REFUSED.into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
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

/// The secret bytes of a `whsec_` secret (for receivers written in Rust, and tests).
pub fn secret_bytes(secret: &str) -> Option<Vec<u8>> {
    STANDARD.decode(secret.strip_prefix("whsec_")?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use orderpay_domain::webhook::{Secrets, WebhookEndpointId};
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn webhook(url: String, endpoint: WebhookEndpointId, versions: Vec<i32>) -> OutgoingWebhook {
        OutgoingWebhook {
            url,
            endpoint,
            secret_versions: versions,
            message_id: "evt_1".into(),
            timestamp: Utc::now(),
            body: r#"{"id":"evt_1"}"#.into(),
        }
    }

    #[tokio::test]
    async fn a_delivery_carries_the_standard_headers_and_one_signature_per_secret() {
        let receiver = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(204))
            .mount(&receiver)
            .await;
        let key = SigningKey::new(&[9u8; 32]).unwrap();
        let sender =
            HttpSender::new(key.clone(), UrlPolicy::AllowPrivate, Duration::from_secs(5)).unwrap();
        let endpoint = WebhookEndpointId::generate();
        let attempt = sender
            .send(&webhook(receiver.uri(), endpoint, vec![2, 1]))
            .await;
        assert_eq!(attempt.status, Some(204), "{attempt:?}");
        let request = &receiver.received_requests().await.unwrap()[0];
        assert_eq!(request.headers["webhook-id"], "evt_1");
        let timestamp: i64 = request.headers["webhook-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let signatures: Vec<&str> = request.headers["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .collect();
        for (signature, version) in signatures.iter().zip([2, 1]) {
            let secret = secret_bytes(&key.secret(endpoint, version)).unwrap();
            assert_eq!(*signature, sign(&secret, "evt_1", timestamp, &request.body));
        }
        assert_eq!(signatures.len(), 2);
    }

    #[tokio::test]
    async fn in_production_private_addresses_are_never_connected_to() {
        let receiver = MockServer::start().await;
        let port = receiver.address().port();
        let key = SigningKey::new(&[9u8; 32]).unwrap();
        let sender =
            HttpSender::new(key, UrlPolicy::PublicHttpsOnly, Duration::from_secs(5)).unwrap();
        for url in [
            format!("https://127.0.0.1:{port}/"),
            "https://10.0.0.1/hooks".to_owned(),
            "https://169.254.169.254/latest/meta-data".to_owned(),
            "https://[::1]/".to_owned(),
            // A name: refused by the resolver, on the address it resolves to.
            format!("https://localhost:{port}/"),
        ] {
            let attempt = sender
                .send(&webhook(
                    url.clone(),
                    WebhookEndpointId::generate(),
                    vec![1],
                ))
                .await;
            assert_eq!(attempt.status, None, "{url}");
            // Said without the address: the deliveries list would otherwise map the
            // internal DNS for any key that may read it.
            let error = attempt.error.unwrap_or_default();
            assert_eq!(error, format!("could not connect: {REFUSED}"), "{url}");
            for internal in ["127.0.0.1", "10.0.0.1", "169.254", "::1"] {
                assert!(!error.contains(internal), "{url}: {error}");
            }
        }
        assert!(receiver.received_requests().await.unwrap().is_empty());
    }
}

//! Secrets and signatures, as the Standard Webhooks scheme has them: a secret is `whsec_` and
//! the base64 of its key bytes; a signature is `v1,` and the base64 HMAC-SHA256 of
//! `{webhook-id}.{webhook-timestamp}.{body}`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use orderpay_domain::webhook::{Secrets, WebhookEndpointId};

/// The service's key (`WEBHOOK_SIGNING_KEY`), from which each endpoint's secret is derived:
/// HMAC-SHA256(key, "orderpay webhook secret" | endpoint id | version). The database holds
/// no secret; rotating an endpoint's secret is a version increment.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl SigningKey {
    /// At least 32 bytes of key material.
    pub fn new(key: &[u8]) -> Result<Self, String> {
        if key.len() < 32 {
            return Err("must be at least 32 bytes (64 hex characters, say)".into());
        }
        Ok(Self(key.to_vec()))
    }

    /// An endpoint's secret key bytes at `version`.
    pub fn key_bytes(&self, endpoint: WebhookEndpointId, version: i32) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"orderpay webhook secret");
        mac.update(endpoint.as_uuid().as_bytes());
        mac.update(&version.to_be_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl SigningKey {
    /// A key for another `purpose`, derived from this one, so that no second secret has to be
    /// configured (and kept the same on every replica).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"orderpay derived key: ");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl Secrets for SigningKey {
    fn secret(&self, endpoint: WebhookEndpointId, version: i32) -> String {
        format!(
            "whsec_{}",
            STANDARD.encode(self.key_bytes(endpoint, version))
        )
    }
}

/// `v1,<base64 HMAC-SHA256 of id.timestamp.body>` with `key`.
pub fn sign(key: &[u8], message_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_standard_webhooks_reference_vector() {
        // From the Standard Webhooks specification's reference implementations.
        let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_differ_per_endpoint_and_version_and_never_repeat_the_key() {
        let key = SigningKey::new(&[7u8; 32]).unwrap();
        let a = WebhookEndpointId::generate();
        let b = WebhookEndpointId::generate();
        let a1 = key.secret(a, 1);
        assert!(a1.starts_with("whsec_"));
        assert_eq!(a1, key.secret(a, 1), "derived, so the same every time");
        assert_ne!(a1, key.secret(a, 2));
        assert_ne!(a1, key.secret(b, 1));
        assert!(SigningKey::new(&[1u8; 31]).is_err());
        assert_eq!(format!("{key:?}"), "SigningKey(***)");
    }
}

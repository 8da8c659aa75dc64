//! Stripe's webhook deliveries: the `Stripe-Signature` check over the raw body, and the
//! translation of the events orderpay acts on into domain [`ProviderEvent`]s.
//!
//! The signature is `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">[,v1=...][,v0=...]`.
//! Every `v1` is tried against every configured secret (so a secret can be rotated without a
//! gap), other schemes are ignored, the timestamp must be within 300 s of now either way,
//! and signatures are compared in constant time.
//!
//! Events are read leniently (only the fields orderpay uses), so an endpoint on a newer API
//! version keeps working as long as those fields keep their meaning.

use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use orderpay_domain::order::OrderId;

use crate::units;
use orderpay_domain::payment::{
    EventFeed, EventFeedError, PaymentEventKind, PaymentId, ProviderEvent, SessionRef,
};

/// How far a signature's timestamp may be from now, in seconds, in either direction.
pub const TOLERANCE_SECONDS: u64 = 300;

/// Stripe's webhook endpoint secrets (`whsec_...`), newest first while rotating.
pub struct StripeWebhooks {
    secrets: Vec<Vec<u8>>,
}

impl StripeWebhooks {
    pub fn new<S: AsRef<str>>(secrets: &[S]) -> Self {
        Self {
            secrets: secrets
                .iter()
                .map(|s| s.as_ref().as_bytes().to_vec())
                .collect(),
        }
    }

    /// Checks `header` (the `Stripe-Signature` value) over `payload` as of `now`.
    ///
    /// # Errors
    /// `BadSignature`, saying why, when no `v1` signature matches any secret in time.
    pub fn verify(
        &self,
        payload: &[u8],
        header: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), EventFeedError> {
        let bad = |why: &str| EventFeedError::BadSignature(why.to_owned());
        let header = header.ok_or_else(|| bad("no Stripe-Signature header"))?;
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for part in header.split(',') {
            let (key, value) = part
                .trim()
                .split_once('=')
                .ok_or_else(|| bad("malformed Stripe-Signature header"))?;
            match key {
                "t" => {
                    timestamp = Some(
                        value
                            .parse::<i64>()
                            .map_err(|_| bad("malformed timestamp"))?,
                    );
                }
                "v1" => signatures.push(hex::decode(value).map_err(|_| bad("malformed v1"))?),
                _ => {} // v0 and future schemes: not ours to trust
            }
        }
        let timestamp = timestamp.ok_or_else(|| bad("no timestamp"))?;
        if signatures.is_empty() {
            return Err(bad("no v1 signature"));
        }
        // `abs_diff`: no overflow, however far from now a forged timestamp is.
        if now.timestamp().abs_diff(timestamp) > TOLERANCE_SECONDS {
            return Err(bad("timestamp outside the tolerance"));
        }
        let mut signed = timestamp.to_string().into_bytes();
        signed.push(b'.');
        signed.extend_from_slice(payload);
        let matched = self.secrets.iter().any(|secret| {
            let expected = sign(secret, &signed);
            signatures
                .iter()
                .any(|given| bool::from(given.as_slice().ct_eq(expected.as_slice())))
        });
        if matched {
            Ok(())
        } else {
            Err(bad("no signature matches"))
        }
    }
}

impl EventFeed for StripeWebhooks {
    fn receive(
        &self,
        payload: &[u8],
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ProviderEvent>, EventFeedError> {
        self.verify(payload, Some(signature).filter(|s| !s.is_empty()), now)?;
        translate(payload)
    }
}

fn sign(secret: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// `t=<now>,v1=<signature>` for `payload` with `secret`: how Stripe signs, for tests and tools.
pub fn signature_header(secret: &str, payload: &[u8], at: i64) -> String {
    let mut signed = at.to_string().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(payload);
    let hex = hex::encode(sign(secret.as_bytes(), &signed));
    format!("t={at},v1={hex}")
}

#[derive(Deserialize)]
struct RawEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    data: RawData,
}

#[derive(Deserialize)]
struct RawData {
    object: serde_json::Value,
}

#[derive(Deserialize)]
struct RawSession {
    id: String,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
    #[serde(default)]
    payment_status: Option<String>,
    #[serde(default)]
    amount_total: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    payment_intent: Option<Expandable>,
}

#[derive(Deserialize)]
struct RawCharge {
    #[serde(default)]
    payment_intent: Option<Expandable>,
    amount_refunded: i64,
    #[serde(default)]
    currency: String,
}

#[derive(Deserialize)]
struct RawDispute {
    #[serde(default)]
    payment_intent: Option<Expandable>,
    #[serde(default)]
    reason: Option<String>,
}

/// An id, or the object it names when the endpoint expands it.
#[derive(Deserialize)]
#[serde(untagged)]
enum Expandable {
    Id(String),
    Object { id: String },
}

impl Expandable {
    fn id(self) -> String {
        match self {
            Self::Id(id) | Self::Object { id } => id,
        }
    }
}

fn malformed(why: impl std::fmt::Display) -> EventFeedError {
    EventFeedError::Malformed(why.to_string())
}

/// The domain event for a verified payload, or `None` when orderpay does not act on it.
///
/// # Errors
/// `Malformed` when the payload is not an event, or an event it acts on lacks what it needs.
pub fn translate(payload: &[u8]) -> Result<Option<ProviderEvent>, EventFeedError> {
    let event: RawEvent = serde_json::from_slice(payload).map_err(malformed)?;
    let created = Utc
        .timestamp_opt(event.created, 0)
        .single()
        .ok_or_else(|| malformed("bad created time"))?;
    let kind = match event.kind.as_str() {
        "checkout.session.completed"
        | "checkout.session.async_payment_succeeded"
        | "checkout.session.async_payment_failed"
        | "checkout.session.expired" => session_event(&event.kind, event.data.object)?,
        "charge.refunded" => {
            let charge: RawCharge = serde_json::from_value(event.data.object).map_err(malformed)?;
            charge.payment_intent.map(|pi| PaymentEventKind::Refunded {
                provider_payment_id: pi.id(),
                refunded_total: units::from_stripe(charge.amount_refunded, &charge.currency),
            })
        }
        "charge.dispute.created" => {
            let dispute: RawDispute =
                serde_json::from_value(event.data.object).map_err(malformed)?;
            dispute
                .payment_intent
                .map(|pi| PaymentEventKind::DisputeCreated {
                    provider_payment_id: pi.id(),
                    reason: dispute.reason.unwrap_or_else(|| "unknown".into()),
                })
        }
        _ => None,
    };
    Ok(kind.map(|kind| ProviderEvent {
        id: event.id,
        kind,
        created,
    }))
}

fn session_event(
    kind: &str,
    object: serde_json::Value,
) -> Result<Option<PaymentEventKind>, EventFeedError> {
    let session: RawSession = serde_json::from_value(object).map_err(malformed)?;
    // Sessions another integration made on the same account carry no orderpay ids.
    let (Some(payment), Some(order)) = (
        session.metadata.get("payment_id"),
        session.metadata.get("order_id"),
    ) else {
        return Ok(None);
    };
    let payment_id = payment
        .parse()
        .map(PaymentId::from_uuid)
        .map_err(|_| malformed("metadata.payment_id is not an id"))?;
    let order_id = order
        .parse()
        .map(OrderId::from_uuid)
        .map_err(|_| malformed("metadata.order_id is not an id"))?;
    let reference = SessionRef {
        session_id: session.id,
        payment_id,
        order_id,
    };
    let currency = session.currency.unwrap_or_default();
    let amount = units::from_stripe(session.amount_total.unwrap_or(0), &currency);
    let provider_payment_id = session.payment_intent.map(Expandable::id);
    Ok(Some(match kind {
        "checkout.session.completed" => PaymentEventKind::SessionCompleted {
            session: reference,
            paid: matches!(
                session.payment_status.as_deref(),
                Some("paid" | "no_payment_required")
            ),
            amount,
            currency,
            provider_payment_id,
        },
        "checkout.session.async_payment_succeeded" => PaymentEventKind::AsyncPaymentSucceeded {
            session: reference,
            amount,
            currency,
            provider_payment_id,
        },
        "checkout.session.async_payment_failed" => {
            PaymentEventKind::AsyncPaymentFailed { session: reference }
        }
        _ => PaymentEventKind::SessionExpired { session: reference },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"ping","created":1,"data":{"object":{}}}"#;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).unwrap()
    }

    fn hooks() -> StripeWebhooks {
        StripeWebhooks::new(&[SECRET])
    }

    #[test]
    fn a_valid_signature_verifies() {
        let header = signature_header(SECRET, BODY, 1_000_000);
        assert_eq!(hooks().verify(BODY, Some(&header), at(1_000_010)), Ok(()));
    }

    #[test]
    fn the_wrong_secret_a_tampered_body_or_no_header_fail() {
        let header = signature_header("whsec_other", BODY, 1_000_000);
        assert!(hooks().verify(BODY, Some(&header), at(1_000_000)).is_err());
        let header = signature_header(SECRET, BODY, 1_000_000);
        let tampered = br#"{"id":"evt_1","type":"ping","created":2,"data":{"object":{}}}"#;
        assert!(
            hooks()
                .verify(tampered, Some(&header), at(1_000_000))
                .is_err()
        );
        assert!(hooks().verify(BODY, None, at(1_000_000)).is_err());
    }

    #[test]
    fn stale_and_future_timestamps_fail_past_300_seconds() {
        let header = signature_header(SECRET, BODY, 1_000_000);
        assert!(hooks().verify(BODY, Some(&header), at(1_000_300)).is_ok());
        assert!(hooks().verify(BODY, Some(&header), at(1_000_301)).is_err());
        assert!(hooks().verify(BODY, Some(&header), at(999_700)).is_ok());
        assert!(hooks().verify(BODY, Some(&header), at(999_699)).is_err());
    }

    #[test]
    fn timestamps_at_the_ends_of_i64_fail_without_overflowing() {
        for t in [i64::MIN, i64::MAX, i64::MIN + 1] {
            let header = signature_header(SECRET, BODY, t);
            for now in [0, 1_000_000, 200_000_000_000] {
                let now = Utc.timestamp_opt(now, 0).unwrap();
                assert!(
                    matches!(
                        hooks().verify(BODY, Some(&header), now),
                        Err(EventFeedError::BadSignature(_))
                    ),
                    "t={t}"
                );
            }
        }
    }

    #[test]
    fn any_of_several_v1_signatures_and_any_secret_may_match() {
        let good = signature_header(SECRET, BODY, 1_000_000);
        let wrong = signature_header("whsec_other", BODY, 1_000_000);
        let wrong_v1 = wrong.split(",v1=").nth(1).unwrap();
        let good_v1 = good.split(",v1=").nth(1).unwrap();
        let header = format!("t=1000000,v1={wrong_v1},v1={good_v1}");
        assert!(hooks().verify(BODY, Some(&header), at(1_000_000)).is_ok());
        // Rotation: the endpoint knows the new and the old secret.
        let rotating = StripeWebhooks::new(&["whsec_new", SECRET]);
        assert!(rotating.verify(BODY, Some(&good), at(1_000_000)).is_ok());
    }

    #[test]
    fn only_v0_or_a_malformed_header_fails() {
        let good = signature_header(SECRET, BODY, 1_000_000);
        let sig = good.split(",v1=").nth(1).unwrap();
        let only_v0 = format!("t=1000000,v0={sig}");
        assert!(hooks().verify(BODY, Some(&only_v0), at(1_000_000)).is_err());
        for header in [
            "",
            "garbage",
            "t=abc,v1=00",
            "v1=00",
            "t=1000000,v1=zz",
            "t=1000000",
        ] {
            assert!(
                hooks().verify(BODY, Some(header), at(1_000_000)).is_err(),
                "{header}"
            );
        }
    }

    fn session_event(kind: &str, extra: serde_json::Value) -> Vec<u8> {
        let mut object = serde_json::json!({
            "id": "cs_test_1",
            "object": "checkout.session",
            "metadata": {
                "order_id": "01a21a43-f48a-7512-a62a-33f588cf96cf",
                "payment_id": "01a21a43-f48a-7512-a62a-33f588cf96d0",
                "reference": "K7M2-Q9XD"
            },
            "payment_status": "paid",
            "amount_total": 900,
            "currency": "usd",
            "payment_intent": "pi_1",
        });
        if let serde_json::Value::Object(extra) = extra {
            object.as_object_mut().unwrap().extend(extra);
        }
        serde_json::to_vec(&serde_json::json!({
            "id": "evt_9", "object": "event", "type": kind, "created": 1_700_000_000,
            "data": {"object": object}
        }))
        .unwrap()
    }

    #[test]
    fn checkout_events_translate_with_their_orderpay_ids() {
        let completed = translate(&session_event(
            "checkout.session.completed",
            serde_json::json!({}),
        ))
        .unwrap()
        .unwrap();
        assert_eq!(completed.id, "evt_9");
        match completed.kind {
            PaymentEventKind::SessionCompleted {
                session,
                paid,
                amount,
                currency,
                provider_payment_id,
            } => {
                assert_eq!(session.session_id, "cs_test_1");
                assert_eq!(
                    session.payment_id.to_string(),
                    "01a21a43-f48a-7512-a62a-33f588cf96d0"
                );
                assert!(paid);
                assert_eq!((amount, currency.as_str()), (900, "usd"));
                assert_eq!(provider_payment_id.as_deref(), Some("pi_1"));
            }
            other => panic!("{other:?}"),
        }
        let unpaid = translate(&session_event(
            "checkout.session.completed",
            serde_json::json!({"payment_status": "unpaid", "payment_intent": {"id": "pi_2"}}),
        ))
        .unwrap()
        .unwrap();
        assert!(
            matches!(unpaid.kind, PaymentEventKind::SessionCompleted { paid: false, ref provider_payment_id, .. } if provider_payment_id.as_deref() == Some("pi_2"))
        );
        for (kind, expect) in [
            (
                "checkout.session.async_payment_succeeded",
                "AsyncPaymentSucceeded",
            ),
            (
                "checkout.session.async_payment_failed",
                "AsyncPaymentFailed",
            ),
            ("checkout.session.expired", "SessionExpired"),
        ] {
            let event = translate(&session_event(kind, serde_json::json!({})))
                .unwrap()
                .unwrap();
            assert!(format!("{:?}", event.kind).starts_with(expect), "{kind}");
        }
    }

    #[test]
    fn foreign_sessions_and_other_types_are_ignored_and_garbage_is_malformed() {
        let foreign = session_event(
            "checkout.session.completed",
            serde_json::json!({"metadata": {}}),
        );
        assert_eq!(translate(&foreign).unwrap(), None);
        let other = session_event("customer.created", serde_json::json!({}));
        assert_eq!(translate(&other).unwrap(), None);
        assert!(translate(b"not json").is_err());
        let bad_id = session_event(
            "checkout.session.completed",
            serde_json::json!({"metadata": {"order_id": "x", "payment_id": "y"}}),
        );
        assert!(translate(&bad_id).is_err());
    }

    #[test]
    fn refunds_and_disputes_name_the_payment_intent() {
        let refunded = serde_json::json!({
            "id": "evt_r", "type": "charge.refunded", "created": 1,
            "data": {"object": {"id": "ch_1", "object": "charge", "payment_intent": "pi_1",
                                "amount": 900, "amount_refunded": 400}}
        });
        let event = translate(&serde_json::to_vec(&refunded).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(
            event.kind,
            PaymentEventKind::Refunded {
                provider_payment_id: "pi_1".into(),
                refunded_total: 400
            }
        );
        let dispute = serde_json::json!({
            "id": "evt_d", "type": "charge.dispute.created", "created": 1,
            "data": {"object": {"id": "dp_1", "object": "dispute", "payment_intent": "pi_1",
                                "reason": "fraudulent"}}
        });
        let event = translate(&serde_json::to_vec(&dispute).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(
            event.kind,
            PaymentEventKind::DisputeCreated {
                provider_payment_id: "pi_1".into(),
                reason: "fraudulent".into()
            }
        );
    }
}

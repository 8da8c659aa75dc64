//! Stripe-shaped fixtures for the tests of this crate and of the crates that use it: the
//! objects a fake Stripe answers with, complete enough for async-stripe's strict parsing.

use serde_json::{Value, json};

/// A Checkout Session as Stripe answers it (the fields async-stripe requires).
pub fn checkout_session_json(id: &str, expires_at: i64) -> Value {
    let mut session = json!({
        "id": id, "object": "checkout.session", "adaptive_pricing": null,
        "after_expiration": null, "allow_promotion_codes": null, "amount_subtotal": 900,
        "amount_total": 900,
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "billing_address_collection": null, "branding_settings": null, "cancel_url": null,
        "client_reference_id": null, "client_secret": null, "collected_information": null,
        "consent": null, "consent_collection": null, "created": expires_at - 3600,
        "currency": "usd", "currency_conversion": null, "custom_fields": [],
    });
    let rest = json!({
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null,
                        "terms_of_service_acceptance": null},
        "customer": null, "customer_account": null, "customer_creation": "if_required",
        "customer_details": null, "customer_email": null, "discounts": [],
        "expires_at": expires_at, "invoice": null, "invoice_creation": null, "livemode": false,
        "locale": null, "metadata": {}, "mode": "payment", "origin_context": null,
        "payment_intent": null, "payment_link": null, "payment_method_collection": "if_required",
        "payment_method_configuration_details": null, "payment_method_options": {},
        "payment_method_types": ["card"], "payment_status": "unpaid", "permissions": null,
    });
    let more = json!({
        "phone_number_collection": {"enabled": false}, "recovered_from": null,
        "saved_payment_method_options": null, "setup_intent": null,
        "shipping_address_collection": null, "shipping_cost": null, "shipping_options": [],
        "status": "open", "submit_type": null, "subscription": null, "success_url": null,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted", "url": format!("https://checkout.stripe.com/c/pay/{id}"),
        "wallet_options": null
    });
    for part in [rest, more] {
        if let Value::Object(fields) = part {
            session.as_object_mut().unwrap().extend(fields);
        }
    }
    session
}

/// A Refund as Stripe answers it.
pub fn refund_json(id: &str, amount: i64, payment_intent: &str) -> Value {
    json!({
        "id": id, "object": "refund", "amount": amount, "balance_transaction": null,
        "charge": "ch_1", "created": 1_900_000_000, "currency": "usd", "customer": null,
        "customer_account": null, "description": null, "destination_details": null,
        "failure_balance_transaction": null, "failure_reason": null, "instructions_email": null,
        "metadata": {}, "next_action": null, "payment_intent": payment_intent,
        "payment_method": null, "pending_reason": null, "presentment_details": null,
        "reason": null, "receipt_number": null, "source_transfer_reversal": null,
        "status": "succeeded", "transfer_reversal": null
    })
}

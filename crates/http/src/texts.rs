//! Every word a customer reads on orderpay's pages, per language, in this one place. A page
//! speaks the first language of the request's `Accept-Language` that is here, English
//! otherwise. To add a language, add a `Texts` below and list it in [`LANGUAGES`].
//!
//! Placeholders: `{amount}` (as people read it in the currency), `{merchant}`, `{reference}`,
//! `{count}`.

/// The words of one language.
#[derive(Debug)]
pub struct Texts {
    /// The BCP 47 tag the page declares (`<html lang>`).
    pub lang: &'static str,
    pub pay_title: &'static str,
    pub paid_title: &'static str,
    pub cancelled_title: &'static str,
    pub processing_title: &'static str,
    pub attention_title: &'static str,
    pub not_chargeable_title: &'static str,
    /// The preview's description: `Order K7M2-Q9XD · 3 items`.
    pub description_one: &'static str,
    pub description_other: &'static str,
    pub pay_button: &'static str,
    pub pay_note: &'static str,
    pub returned_note: &'static str,
    pub paid_text: &'static str,
    pub cancelled_text: &'static str,
    pub processing_text: &'static str,
    pub attention_text: &'static str,
    pub not_chargeable_text: &'static str,
    pub qr_alt: &'static str,
    pub qr_caption: &'static str,
    pub order: &'static str,
    pub total: &'static str,
    pub support: &'static str,
    pub not_found_title: &'static str,
    pub not_found_text: &'static str,
    pub unavailable_title: &'static str,
    pub unavailable_text: &'static str,
    pub confirming_title: &'static str,
    pub confirming_text: &'static str,
    pub received_title: &'static str,
    pub received_text: &'static str,
    pub done_cancelled_text: &'static str,
    pub sandbox_title: &'static str,
    pub sandbox_note: &'static str,
    pub sandbox_pay: &'static str,
    pub sandbox_decline: &'static str,
    pub closed_title: &'static str,
    pub closed_text: &'static str,
    pub forbidden_title: &'static str,
    pub forbidden_text: &'static str,
}

pub const EN: Texts = Texts {
    lang: "en",
    pay_title: "Pay {amount} to {merchant}",
    paid_title: "Paid: {amount} to {merchant}",
    cancelled_title: "Cancelled: {amount} to {merchant}",
    processing_title: "Payment on its way: {amount} to {merchant}",
    attention_title: "On hold: {amount} to {merchant}",
    not_chargeable_title: "Cannot be paid online: {amount} to {merchant}",
    description_one: "Order {reference} · 1 item",
    description_other: "Order {reference} · {count} items",
    pay_button: "Pay {amount}",
    pay_note: "You continue to a secure checkout. Nothing is charged until you confirm there.",
    returned_note: "You left checkout without paying. You can pay whenever you are ready.",
    paid_text: "This order is paid. Thank you!",
    cancelled_text: "This order was cancelled and cannot be paid. Contact {merchant} if this is unexpected.",
    processing_text: "Your payment is on its way. {merchant} will confirm when it arrives.",
    attention_text: "This order needs {merchant}'s attention before it can be paid. Contact {merchant}.",
    not_chargeable_text: "This order cannot be paid online as it stands. Contact {merchant}.",
    qr_alt: "QR code of this payment link",
    qr_caption: "Scan to pay on your phone",
    order: "Order",
    total: "Total",
    support: "Questions?",
    not_found_title: "Link not found",
    not_found_text: "This payment link is not valid. Check the link you were sent.",
    unavailable_title: "Please try again",
    unavailable_text: "Payments are not available right now. Open the link again in a minute.",
    confirming_title: "Thank you",
    confirming_text: "Your payment is being confirmed. {merchant} will be in touch shortly.",
    received_title: "Payment received",
    received_text: "Thank you! Your order is paid.",
    done_cancelled_text: "This order was cancelled. Contact {merchant}.",
    sandbox_title: "Sandbox checkout",
    sandbox_note: "Sandbox: no money moves. Pay and Decline act as a real provider's events would.",
    sandbox_pay: "Pay",
    sandbox_decline: "Decline",
    closed_title: "This checkout is closed",
    closed_text: "This checkout no longer takes payment. Open the payment link again.",
    forbidden_title: "Not allowed",
    forbidden_text: "This button can only be pressed on the payment page itself.",
};

pub const ES: Texts = Texts {
    lang: "es",
    pay_title: "Pagar {amount} a {merchant}",
    paid_title: "Pagado: {amount} a {merchant}",
    cancelled_title: "Cancelado: {amount} a {merchant}",
    processing_title: "Pago en camino: {amount} a {merchant}",
    attention_title: "En espera: {amount} a {merchant}",
    not_chargeable_title: "No se puede pagar en línea: {amount} a {merchant}",
    description_one: "Pedido {reference} · 1 artículo",
    description_other: "Pedido {reference} · {count} artículos",
    pay_button: "Pagar {amount}",
    pay_note: "Continúas a un pago seguro. No se cobra nada hasta que lo confirmes allí.",
    returned_note: "Saliste del pago sin pagar. Puedes pagar cuando quieras.",
    paid_text: "Este pedido está pagado. ¡Gracias!",
    cancelled_text: "Este pedido fue cancelado y no se puede pagar. Contacta a {merchant} si no lo esperabas.",
    processing_text: "Tu pago está en camino. {merchant} lo confirmará cuando llegue.",
    attention_text: "Este pedido necesita la atención de {merchant} antes de poder pagarse. Contacta a {merchant}.",
    not_chargeable_text: "Este pedido no se puede pagar en línea tal como está. Contacta a {merchant}.",
    qr_alt: "Código QR de este enlace de pago",
    qr_caption: "Escanéalo para pagar en tu teléfono",
    order: "Pedido",
    total: "Total",
    support: "¿Preguntas?",
    not_found_title: "Enlace no encontrado",
    not_found_text: "Este enlace de pago no es válido. Revisa el enlace que recibiste.",
    unavailable_title: "Inténtalo de nuevo",
    unavailable_text: "Los pagos no están disponibles ahora. Abre el enlace de nuevo en un minuto.",
    confirming_title: "Gracias",
    confirming_text: "Tu pago se está confirmando. {merchant} se pondrá en contacto pronto.",
    received_title: "Pago recibido",
    received_text: "¡Gracias! Tu pedido está pagado.",
    done_cancelled_text: "Este pedido fue cancelado. Contacta a {merchant}.",
    sandbox_title: "Pago de prueba",
    sandbox_note: "Modo de prueba: no se mueve dinero. Pagar y Rechazar actúan como lo harían los eventos de un proveedor real.",
    sandbox_pay: "Pagar",
    sandbox_decline: "Rechazar",
    closed_title: "Este pago está cerrado",
    closed_text: "Este pago ya no acepta dinero. Abre el enlace de pago de nuevo.",
    forbidden_title: "No permitido",
    forbidden_text: "Este botón solo se puede pulsar en la propia página de pago.",
};

/// The languages the pages speak, the first the default.
pub const LANGUAGES: &[&Texts] = &[&EN, &ES];

/// The language for an `Accept-Language` header: its most preferred language that is in
/// [`LANGUAGES`] (by primary subtag: `es-MX` is `es`), English when none is, or the header is
/// absent or unreadable. Only the first 16 entries are looked at.
pub fn negotiate(accept_language: Option<&str>) -> &'static Texts {
    let Some(header) = accept_language else {
        return LANGUAGES[0];
    };
    let mut wanted: Vec<(u16, usize, &str)> = header
        .split(',')
        .take(16)
        .enumerate()
        .filter_map(|(i, entry)| {
            let mut parts = entry.split(';');
            let tag = parts.next()?.trim();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1000), quality)?;
            (quality > 0 && !tag.is_empty()).then_some((quality, i, tag))
        })
        .collect();
    // Most wanted first; among equals, the order given.
    wanted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    wanted
        .iter()
        .find_map(|(_, _, tag)| {
            let primary = tag.split('-').next().unwrap_or(tag);
            LANGUAGES
                .iter()
                .find(|t| t.lang.eq_ignore_ascii_case(primary))
                .copied()
        })
        .unwrap_or(LANGUAGES[0])
}

/// A `q` value in thousandths (`0.8` is 800); `None` when it is not one.
fn quality(q: &str) -> Option<u16> {
    let (whole, fraction) = q.split_once('.').unwrap_or((q, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut padded = fraction.to_owned();
    while padded.len() < 3 {
        padded.push('0');
    }
    let thousandths = padded.parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// `template` with each `{name}` replaced by its value, in one pass: a value is never read
/// as a template (a merchant named `{amount}` stays so). An unknown `{name}` stays as written.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v, close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_wanted_language_spoken_here_wins() {
        let lang = |h: &str| negotiate(Some(h)).lang;
        assert_eq!(negotiate(None).lang, "en");
        assert_eq!(lang("es-MX,es;q=0.9,en;q=0.8"), "es");
        assert_eq!(lang("fr-FR, fr;q=0.9, es;q=0.5, en;q=0.4"), "es");
        assert_eq!(lang("en;q=0.5, ES;q=0.7"), "es");
        assert_eq!(lang("es;q=0, en"), "en");
        assert_eq!(lang("de, *;q=0.1"), "en");
        assert_eq!(lang("es;q=2, en"), "en", "an unreadable q drops its entry");
        assert_eq!(lang(""), "en");
        assert_eq!(lang(&"x,".repeat(10_000)), "en");
    }

    #[test]
    fn every_language_has_every_text_with_the_same_placeholders() {
        let placeholders = |s: &str| {
            let mut names: Vec<String> = s
                .split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_owned()))
                .collect();
            names.sort();
            names.dedup();
            names
        };
        let all = |t: &Texts| {
            [
                t.pay_title,
                t.paid_title,
                t.cancelled_title,
                t.processing_title,
                t.attention_title,
                t.not_chargeable_title,
                t.description_one,
                t.description_other,
                t.pay_button,
                t.pay_note,
                t.returned_note,
                t.paid_text,
                t.cancelled_text,
                t.processing_text,
                t.attention_text,
                t.not_chargeable_text,
                t.qr_alt,
                t.qr_caption,
                t.order,
                t.total,
                t.support,
                t.not_found_title,
                t.not_found_text,
                t.unavailable_title,
                t.unavailable_text,
                t.confirming_title,
                t.confirming_text,
                t.received_title,
                t.received_text,
                t.done_cancelled_text,
                t.sandbox_title,
                t.sandbox_note,
                t.sandbox_pay,
                t.sandbox_decline,
                t.closed_title,
                t.closed_text,
                t.forbidden_title,
                t.forbidden_text,
            ]
        };
        for language in LANGUAGES {
            for (text, english) in all(language).iter().zip(all(&EN)) {
                assert!(!text.trim().is_empty(), "{}: empty text", language.lang);
                assert_eq!(
                    placeholders(text),
                    placeholders(english),
                    "{}: {text}",
                    language.lang
                );
            }
        }
        assert_eq!(
            fill(
                EN.pay_title,
                &[("amount", "$12.25"), ("merchant", "Tea House")]
            ),
            "Pay $12.25 to Tea House"
        );
        // One pass: a value is not a template, and what is not a placeholder stays.
        assert_eq!(
            fill(
                EN.pay_title,
                &[("merchant", "{amount} {x"), ("amount", "$1")]
            ),
            "Pay $1 to {amount} {x"
        );
        assert_eq!(fill("{a}{b}{", &[("a", "1")]), "1{b}{");
    }
}

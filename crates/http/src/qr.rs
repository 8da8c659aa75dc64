//! QR codes of pay links, drawn here as SVG by the `qrcode` crate (no external service sees
//! a pay link): served by the API for print and point of sale, and shown on the pay page on
//! wide screens, to pay on a phone.

use base64::Engine;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// The QR code of `url` as an SVG document: black on white, with the standard quiet zone,
/// medium error correction (a little smudge or glare still scans). `None` only for data too
/// long for a QR code, which a pay link never is.
pub fn svg(url: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(256, 256)
            .quiet_zone(true)
            .build(),
    )
}

/// The QR code of `url` as a `data:` URI, for an `<img>` on a page.
pub fn data_uri(url: &str) -> Option<String> {
    let svg = svg(url)?;
    Some(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pay_link_is_an_svg_qr_code() {
        let link = "https://pay.example.com/pay/0123456789abcdefghijkl";
        let image = svg(link).unwrap();
        assert!(
            image.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{image}"
        );
        assert!(image.ends_with("</svg>"), "{image}");
        // Another link draws another code; the same link, the same code.
        assert_ne!(image, svg("https://pay.example.com/pay/other").unwrap());
        assert_eq!(image, svg(link).unwrap());
        assert!(
            data_uri(link)
                .unwrap()
                .starts_with("data:image/svg+xml;base64,PD94")
        );
        assert!(svg(&"x".repeat(5000)).is_none());
    }
}

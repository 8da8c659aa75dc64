//! Whom customers pay: `MERCHANT_NAME` (required in production), `MERCHANT_LOGO_URL` and
//! `MERCHANT_SUPPORT_CONTACT`, shown on every page a customer sees.

use orderpay_domain::merchant::{Merchant, MerchantError};

use super::reader::{Reader, base_url};

pub(super) fn merchant(r: &mut Reader, production: bool) -> Merchant {
    let logo = r.parse("MERCHANT_LOGO_URL", None, |raw| {
        base_url(raw, production).map(Some)
    });
    let support = r.get("MERCHANT_SUPPORT_CONTACT");
    let name = match r.get("MERCHANT_NAME") {
        Some(name) => name,
        None if production => {
            r.problems.push(
                "MERCHANT_NAME: required when APP_ENV=production (customers see whom they pay)"
                    .into(),
            );
            return Merchant::development();
        }
        None => Merchant::DEVELOPMENT_NAME.to_owned(),
    };
    match Merchant::new(&name, logo.as_deref(), support.as_deref()) {
        Ok(merchant) => merchant,
        Err(e) => {
            let var = match e {
                MerchantError::Name(_) => "MERCHANT_NAME",
                MerchantError::LogoUrl(_) => "MERCHANT_LOGO_URL",
                MerchantError::SupportContact(_) => "MERCHANT_SUPPORT_CONTACT",
            };
            r.problems.push(format!("{var}: {e}"));
            Merchant::development()
        }
    }
}

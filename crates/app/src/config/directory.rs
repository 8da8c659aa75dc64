//! The customer directory: the external API asked for a customer the database does not
//! know, and the region phone numbers without a country code are read in.

use std::time::Duration;

use orderpay_domain::phone::PhoneRegion;

use super::reader::{Reader, base_url};

pub(super) struct DirectorySettings {
    pub(super) url: Option<String>,
    pub(super) timeout: Duration,
    pub(super) default_phone_region: Option<PhoneRegion>,
}

pub(super) fn directory(r: &mut Reader) -> DirectorySettings {
    let customer_directory_url = r.parse("CUSTOMER_DIRECTORY_URL", None, |raw| {
        base_url(raw, false).map(|_| Some(raw.to_owned()))
    });
    let customer_directory_timeout =
        Duration::from_millis(r.number("CUSTOMER_DIRECTORY_TIMEOUT_MS", 2000u64, 1));
    let default_phone_region = r.parse("DEFAULT_PHONE_REGION", None, |raw| {
        PhoneRegion::parse(raw).map(Some)
    });
    DirectorySettings {
        url: customer_directory_url,
        timeout: customer_directory_timeout,
        default_phone_region,
    }
}

//! Who the customer pays: the merchant's name and, when given, a logo and a way to reach them.
//! Every page a customer sees shows them, and the provider's checkout is told whom the
//! payment is for.

/// The merchant the service takes payments for (`MERCHANT_NAME`, `MERCHANT_LOGO_URL`,
/// `MERCHANT_SUPPORT_CONTACT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    name: String,
    logo_url: Option<String>,
    support_contact: Option<String>,
}

/// Which part of a merchant was refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerchantError {
    #[error("{0}")]
    Name(String),
    #[error("{0}")]
    LogoUrl(String),
    #[error("{0}")]
    SupportContact(String),
}

/// Plain text of 1 to `max` characters, without control characters.
fn text(value: &str, max: usize) -> Result<String, String> {
    let value = value.trim();
    match value.chars().count() {
        0 => Err("must not be empty".into()),
        n if n > max => Err(format!("must be at most {max} characters")),
        _ if value.chars().any(char::is_control) => Err("must not hold control characters".into()),
        _ => Ok(value.to_owned()),
    }
}

impl Merchant {
    /// The name shown while `MERCHANT_NAME` is unset in development.
    pub const DEVELOPMENT_NAME: &'static str = "orderpay demo shop";

    /// A merchant of `name` (1 to 80 characters), with a logo at an `http(s)` address and a
    /// support contact (1 to 120 characters: a phone number, an email address or a web page).
    ///
    /// # Errors
    /// The first part refused, and why.
    pub fn new(
        name: &str,
        logo_url: Option<&str>,
        support_contact: Option<&str>,
    ) -> Result<Self, MerchantError> {
        let name = text(name, 80).map_err(MerchantError::Name)?;
        let logo_url = logo_url
            .map(|url| {
                let url = url.trim();
                let rest = url
                    .strip_prefix("https://")
                    .or_else(|| url.strip_prefix("http://"));
                match rest {
                    Some(rest)
                        if !rest.is_empty()
                            && url.len() <= 2000
                            && !rest.starts_with('/')
                            && url.bytes().all(|b| b.is_ascii_graphic())
                            && !url.contains(['"', '\'', '<', '>', '\\']) =>
                    {
                        Ok(url.to_owned())
                    }
                    _ => Err(MerchantError::LogoUrl(
                        "must be an absolute http(s) URL of at most 2000 characters".into(),
                    )),
                }
            })
            .transpose()?;
        let support_contact = support_contact
            .map(|c| text(c, 120).map_err(MerchantError::SupportContact))
            .transpose()?;
        Ok(Self {
            name,
            logo_url,
            support_contact,
        })
    }

    /// The development default: a name and nothing else.
    pub fn development() -> Self {
        Self {
            name: Self::DEVELOPMENT_NAME.to_owned(),
            logo_url: None,
            support_contact: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn logo_url(&self) -> Option<&str> {
        self.logo_url.as_deref()
    }

    /// The origin (`scheme://host[:port]`) the logo is loaded from.
    pub fn logo_origin(&self) -> Option<&str> {
        let url = self.logo_url.as_deref()?;
        let (scheme, rest) = url.split_once("://")?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        url.get(..scheme.len() + 3 + end)
    }

    pub fn support_contact(&self) -> Option<&str> {
        self.support_contact.as_deref()
    }

    /// Where the support contact can be opened: `mailto:` for an email address, `tel:` for a
    /// phone number, the address itself for a web page; `None` for anything else (shown as
    /// text).
    pub fn support_href(&self) -> Option<String> {
        let contact = self.support_contact.as_deref()?;
        if contact.starts_with("https://") && !contact.contains(char::is_whitespace) {
            return Some(contact.to_owned());
        }
        let phone = contact.strip_prefix('+').unwrap_or(contact);
        if contact.starts_with('+')
            && phone
                .chars()
                .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
        {
            return Some(format!("tel:+{}", phone.replace([' ', '-'], "")));
        }
        match contact.split_once('@') {
            Some((user, host))
                if !user.is_empty()
                    && host.contains('.')
                    && !contact
                        .contains(|c: char| c.is_whitespace() || "<>\"'?&:/".contains(c)) =>
            {
                Some(format!("mailto:{contact}"))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merchant_is_checked_part_by_part() {
        let m = Merchant::new(
            " Tea House ",
            Some("https://cdn.example.com/logo.png"),
            Some("help@teahouse.example"),
        )
        .unwrap();
        assert_eq!(m.name(), "Tea House");
        assert_eq!(m.logo_origin(), Some("https://cdn.example.com"));
        assert_eq!(
            m.support_href().as_deref(),
            Some("mailto:help@teahouse.example")
        );
        assert!(matches!(
            Merchant::new("", None, None),
            Err(MerchantError::Name(_))
        ));
        assert!(matches!(
            Merchant::new(&"x".repeat(81), None, None),
            Err(MerchantError::Name(_))
        ));
        assert!(matches!(
            Merchant::new("A\u{7}", None, None),
            Err(MerchantError::Name(_))
        ));
        for bad in [
            "javascript:alert(1)",
            "https://",
            "//cdn.example.com/x",
            "https://a b",
            "https://a/\"x",
        ] {
            assert!(
                matches!(
                    Merchant::new("Tea", Some(bad), None),
                    Err(MerchantError::LogoUrl(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            Merchant::new("Tea", None, Some(" ")),
            Err(MerchantError::SupportContact(_))
        ));
    }

    #[test]
    fn support_contacts_link_only_when_they_are_an_address() {
        let href = |c: &str| Merchant::new("Tea", None, Some(c)).unwrap().support_href();
        assert_eq!(
            href("+44 20 7946-0958").as_deref(),
            Some("tel:+442079460958")
        );
        assert_eq!(
            href("https://teahouse.example/help").as_deref(),
            Some("https://teahouse.example/help")
        );
        assert_eq!(href("Ask at the counter"), None);
        assert_eq!(href("a@b"), None);
        assert_eq!(href("javascript:x@y.z"), None);
    }
}

use chrono::{DateTime, Utc};

use crate::phone::PhoneNumber;
use crate::validation::bounded_text;
#[cfg(any(test, feature = "testing"))]
use crate::{phone::PhoneRegion, validation::Violations};

entity_id!(CustomerId);

/// A customer's name as they or the merchant wrote it: 1 to 200 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerName(String);

impl CustomerName {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(input: &str) -> Result<Self, String> {
        bounded_text(input, Self::MAX_CHARS).map(Self)
    }

    /// A name read back from the store, trusted as stored: a later change of the rules above
    /// must not turn yesterday's rows into errors.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address, checked for shape only (one `@`, a dotted domain, at most 254 bytes once
/// normalised); whether it receives mail is not orderpay's to know.
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// The longest address SMTP carries (RFC 5321), in bytes of the normalised form.
    pub const MAX_BYTES: usize = 254;

    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        let invalid = || "is not a valid email address".to_string();
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = s.split_once('@').ok_or_else(invalid)?;
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && domain
                .split('.')
                .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(invalid());
        }
        // Lower-casing can grow a domain (`Ⱥ` is 2 bytes, `ⱥ` 3): bound what is stored.
        let normalised = format!("{local}@{}", domain.to_lowercase());
        if normalised.len() > Self::MAX_BYTES {
            return Err(format!("must be at most {} bytes", Self::MAX_BYTES));
        }
        Ok(Self(normalised))
    }

    /// An address read back from the store, trusted as stored.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Personal data: `Debug` (and so every `{:?}` in a log) shows the domain only.
impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let domain = self.0.rsplit_once('@').map_or("", |(_, d)| d);
        write!(f, "Email(***@{domain})")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: CustomerId,
    pub phone: PhoneNumber,
    pub name: CustomerName,
    pub email: Option<Email>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A validated customer to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomer {
    pub phone: PhoneNumber,
    pub name: CustomerName,
    pub email: Option<Email>,
}

impl NewCustomer {
    /// Test support: a customer as a client could send it, parsed by the same constructors a
    /// request's fields go through, every bad field reported at once.
    #[cfg(any(test, feature = "testing"))]
    pub fn parse(
        phone: &str,
        name: &str,
        email: Option<&str>,
        region: Option<PhoneRegion>,
    ) -> Result<NewCustomer, Violations> {
        let mut v = Violations::new();
        let phone = v.check("phone", PhoneNumber::parse(phone, region));
        let name = v.check("name", CustomerName::parse(name));
        let email = match email {
            Some(e) => v.check("email", Email::parse(e)).map(Some),
            None => Some(None),
        };
        match (phone, name, email) {
            (Some(phone), Some(name), Some(email)) if v.is_empty() => {
                Ok(NewCustomer { phone, name, email })
            }
            _ => Err(v),
        }
    }

    pub fn into_customer(self, now: DateTime<Utc>) -> Customer {
        Customer {
            id: CustomerId::generate(),
            phone: self.phone,
            name: self.name,
            email: self.email,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Validated changes: only the fields given are written, so two clients changing different
/// fields at once both keep their change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerChanges {
    pub name: Option<CustomerName>,
    pub email: Option<Option<Email>>,
}

impl CustomerChanges {
    /// `customer` with these changes made at `now`, as a store applies them.
    pub fn applied_to(&self, customer: &Customer, now: DateTime<Utc>) -> Customer {
        let mut updated = customer.clone();
        if let Some(name) = &self.name {
            updated.name = name.clone();
        }
        if let Some(email) = &self.email {
            updated.email = email.clone();
        }
        updated.updated_at = now;
        updated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn email_shape_is_checked_and_domain_lowercased() {
        assert_eq!(
            Email::parse("Ada@Example.COM").unwrap().as_str(),
            "Ada@example.com"
        );
        for bad in [
            "", "a@", "@b.c", "a@b", "a@@b.c", "a b@c.d", "a@b..c", "a@-b.c",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn email_length_is_checked_after_lowercasing() {
        // 253 bytes as sent, 377 once `Ⱥ` (2 bytes) becomes `ⱥ` (3 bytes).
        let grows = format!("a@{}.co", "Ⱥ".repeat(124));
        assert_eq!(grows.len(), 253);
        assert!(Email::parse(&grows).is_err());
        let fits = format!("a@{}.co", "Ⱥ".repeat(80));
        assert!(Email::parse(&fits).unwrap().as_str().len() <= Email::MAX_BYTES);
    }

    #[test]
    fn email_debug_hides_the_local_part() {
        let e = Email::parse("ada.lovelace@example.com").unwrap();
        assert_eq!(format!("{e:?}"), "Email(***@example.com)");
    }

    #[test]
    fn patch_changes_only_given_fields_and_can_clear_email() {
        let now = chrono::Utc::now();
        let customer = NewCustomer::parse("+14155550100", "Ada", Some("ada@example.com"), None)
            .unwrap()
            .into_customer(now);
        let changes = CustomerChanges {
            name: None,
            email: Some(None),
        };
        let patched = changes.applied_to(&customer, now);
        assert_eq!(patched.name.as_str(), "Ada");
        assert_eq!(patched.email, None);
        assert_eq!(patched.phone, customer.phone);
    }

    #[test]
    fn a_new_customer_reports_every_bad_field_at_once() {
        let err = NewCustomer::parse("nope", " ", Some("no-at-sign"), None).unwrap_err();
        let fields: Vec<&str> = err.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["phone", "name", "email"]);
    }

    proptest! {
        #[test]
        fn accepted_emails_fit_the_store(s in "\\PC{0,300}") {
            if let Ok(e) = Email::parse(&s) {
                prop_assert!(e.as_str().len() <= Email::MAX_BYTES);
                prop_assert_eq!(Email::parse(e.as_str()).unwrap(), e);
            }
        }

        #[test]
        fn names_are_trimmed_and_bounded(s in "\\PC{0,300}") {
            if let Ok(name) = CustomerName::parse(&s) {
                prop_assert_eq!(name.as_str(), s.trim());
                prop_assert!(name.as_str().chars().count() <= CustomerName::MAX_CHARS);
            }
        }
    }
}

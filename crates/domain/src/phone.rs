//! Phone numbers: accepted in the usual international and national forms, kept in E.164.

use std::fmt;
use std::str::FromStr;

use phonenumber::{Mode, country};

/// The region a national number (one written without `+country code`) is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneRegion(country::Id);

impl PhoneRegion {
    /// Parses a two-letter region code (`US`, `GB`, `KE`), in any case.
    pub fn parse(input: &str) -> Result<Self, String> {
        country::Id::from_str(&input.trim().to_ascii_uppercase())
            .map(Self)
            .map_err(|_| format!("`{input}` is not a known two-letter region code"))
    }
}

/// A valid phone number in E.164 form (`+14155550100`), checked against real numbering metadata.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses `+44 20 7946 0958`, `(415) 555-0100` with a default region, `tel:` forms and the like.
    ///
    /// # Errors
    /// A message fit to show the client when the input is not a valid number, or is a national
    /// number and no region was given.
    pub fn parse(input: &str, default_region: Option<PhoneRegion>) -> Result<Self, String> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err("must not be empty".into());
        }
        if trimmed.len() > 64 {
            return Err("is too long to be a phone number".into());
        }
        let number = phonenumber::parse(default_region.map(|r| r.0), trimmed).map_err(|_| {
            if default_region.is_none() && !trimmed.starts_with('+') {
                "is not a valid phone number; write it in international form, starting with +"
                    .to_string()
            } else {
                "is not a valid phone number".to_string()
            }
        })?;
        if !number.is_valid() {
            return Err("is not a valid phone number".into());
        }
        Ok(Self(number.format().mode(Mode::E164).to_string()))
    }

    /// Rebuilds a number stored by this type. Only the E.164 shape is checked (what the
    /// schema's constraint guarantees), not today's numbering metadata: numbering plans change,
    /// and a stored customer must stay readable when they do.
    pub fn from_stored(stored: &str) -> Result<Self, String> {
        let digits = stored.strip_prefix('+').unwrap_or_default();
        let shaped = (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if shaped {
            Ok(Self(stored.to_owned()))
        } else {
            Err("a stored phone number is not in E.164 form".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Personal data: `Debug` (and so every `{:?}` in a log) keeps only the last two digits.
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tail = self.0.len().saturating_sub(2);
        write!(f, "PhoneNumber(***{})", &self.0[tail..])
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn us() -> Option<PhoneRegion> {
        Some(PhoneRegion::parse("us").unwrap())
    }

    #[test]
    fn international_and_national_forms_become_the_same_e164() {
        let expected = "+14155550100";
        for input in [
            "+14155550100",
            "+1 (415) 555-0100",
            "+1.415.555.0100",
            "tel:+1-415-555-0100",
        ] {
            assert_eq!(
                PhoneNumber::parse(input, None).unwrap().as_str(),
                expected,
                "{input}"
            );
        }
        for input in ["(415) 555-0100", "415 555 0100", "4155550100"] {
            assert_eq!(
                PhoneNumber::parse(input, us()).unwrap().as_str(),
                expected,
                "{input}"
            );
        }
    }

    #[test]
    fn national_form_uses_the_default_region() {
        let gb = Some(PhoneRegion::parse("GB").unwrap());
        assert_eq!(
            PhoneNumber::parse("020 7946 0958", gb).unwrap().as_str(),
            "+442079460958"
        );
        let ke = Some(PhoneRegion::parse("ke").unwrap());
        assert_eq!(
            PhoneNumber::parse("0712 345678", ke).unwrap().as_str(),
            "+254712345678"
        );
    }

    #[test]
    fn national_form_without_region_is_rejected_with_a_hint() {
        let err = PhoneNumber::parse("415 555 0100", None).unwrap_err();
        assert!(err.contains("international"), "{err}");
    }

    #[test]
    fn invalid_numbers_are_rejected() {
        for input in [
            "",
            "   ",
            "hello",
            "+1 415",
            "+999 1234567",
            "+1 415 555 0100 0000 1111",
        ] {
            assert!(PhoneNumber::parse(input, us()).is_err(), "{input}");
        }
    }

    #[test]
    fn inputs_that_once_crashed_the_parser_are_rejected_calmly() {
        // Inputs from rust-phonenumber's issues #43 and #32 (panics in earlier versions).
        let ch = Some(PhoneRegion::parse("CH").unwrap());
        for (input, region) in [("  2 22#:", None), ("003-836-4618x3001", ch), ("+", None)] {
            let _ = PhoneNumber::parse(input, region);
        }
        assert!(PhoneNumber::parse("  2 22#:", us()).is_err());
    }

    #[test]
    fn stored_numbers_need_only_the_e164_shape() {
        // Not a valid number today, but a stored one must read back whatever metadata says.
        assert_eq!(PhoneNumber::from_stored("+19").unwrap().as_str(), "+19");
        for bad in [
            "",
            "+",
            "+0123",
            "14155550100",
            "+1415555010012345",
            "+1 415",
        ] {
            assert!(PhoneNumber::from_stored(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_all_but_the_last_two_digits() {
        let p = PhoneNumber::parse("+14155550177", None).unwrap();
        assert_eq!(format!("{p:?}"), "PhoneNumber(***77)");
    }

    #[test]
    fn unknown_region_is_rejected() {
        assert!(PhoneRegion::parse("ZZ").is_err());
        assert!(PhoneRegion::parse("").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_output_reparses_to_itself(s in "\\PC{0,30}") {
            if let Ok(p) = PhoneNumber::parse(&s, us()) {
                prop_assert!(p.as_str().starts_with('+'));
                prop_assert_eq!(&PhoneNumber::parse(p.as_str(), None).unwrap(), &p);
                prop_assert_eq!(PhoneNumber::from_stored(p.as_str()).unwrap(), p);
            }
        }

        #[test]
        fn number_shaped_input_never_panics(
            s in "[0-9+() .#*x:;,/-]{0,25}",
            region in prop::sample::select(vec![None, Some("US"), Some("CH"), Some("GB"), Some("KE"), Some("IN")]),
        ) {
            let region = region.map(|r| PhoneRegion::parse(r).unwrap());
            if let Ok(p) = PhoneNumber::parse(&s, region) {
                prop_assert!(p.as_str().len() <= 16);
            }
        }

        #[test]
        fn us_numbers_in_any_punctuation_normalise_alike(area in 201u32..989, line in 0u32..10_000) {
            let plain = format!("+1{area}555{line:04}");
            let pretty = format!("+1 ({area}) 555-{line:04}");
            let a = PhoneNumber::parse(&plain, None);
            let b = PhoneNumber::parse(&pretty, None);
            prop_assert_eq!(a, b);
        }
    }
}

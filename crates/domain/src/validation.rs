//! Field-level validation results, reported all at once with the JSON path of each offending field.

use std::fmt;

/// One invalid field: its path as the API spells it (`items[0].quantity`) and why it is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Every problem found in one request; never empty when returned as an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations(Vec<FieldError>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// A single violation, for the common case of one bad field.
    pub fn one(field: impl Into<String>, message: impl fmt::Display) -> Self {
        let mut v = Self::new();
        v.add(field, message);
        v
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl fmt::Display) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.to_string(),
        });
    }

    /// Keeps the parsed value, or records its error under `field` and returns `None`.
    pub fn check<T, E: fmt::Display>(
        &mut self,
        field: impl Into<String>,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.add(field, e);
                None
            }
        }
    }

    /// Adds `other`'s violations for fields not reported yet, nor inside a reported one, so
    /// each problem is reported once (a missing field is "required", not also "must not be
    /// empty"; an item that is not an object hides its fields' complaints).
    pub fn absorb(&mut self, other: Violations) {
        for e in other.0 {
            let covered = self.0.iter().any(|known| {
                e.field == known.field
                    || e.field
                        .strip_prefix(known.field.as_str())
                        .is_some_and(|rest| rest.starts_with(['.', '[']))
            });
            if !covered {
                self.0.push(e);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// `Ok(value)` when nothing was recorded, else all recorded violations.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Violations> {
        if self.is_empty() {
            Ok(value())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for Violations {}

/// Trims `input` and checks its length in characters is within `1..=max`.
pub(crate) fn bounded_text(input: &str, max: usize) -> Result<String, String> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    if trimmed.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if let Some(c) = hidden_character(trimmed) {
        return Err(format!(
            "must not contain invisible formatting characters (U+{:04X})",
            u32::from(c)
        ));
    }
    Ok(trimmed.to_owned())
}

/// Unicode's format characters (category Cf) and line/paragraph separators: invisible, and
/// able to reorder or hide what a customer reads (U+202E turns `Tea` into `aeT`).
const HIDDEN: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

const ZERO_WIDTH_JOINER: char = '\u{200D}';
const BLACK_FLAG: char = '\u{1F3F4}';
const CANCEL_TAG: char = '\u{E007F}';

/// The first invisible formatting character in `text`, if any. Emoji sequences keep working:
/// the zero-width joiner (👩‍💻) is allowed, and tag characters only in a flag sequence that
/// starts with 🏴 and ends with the cancel tag (🏴󠁧󠁢󠁳󠁣󠁴󠁿), so they cannot carry hidden text.
pub fn hidden_character(text: &str) -> Option<char> {
    let mut in_flag = false;
    for c in text.chars() {
        let tag = ('\u{E0020}'..=CANCEL_TAG).contains(&c);
        if c == ZERO_WIDTH_JOINER || (tag && in_flag) {
            if c == CANCEL_TAG {
                in_flag = false;
            }
            continue;
        }
        in_flag = c == BLACK_FLAG;
        let code = u32::from(c);
        if HIDDEN.iter().any(|&(lo, hi)| (lo..=hi).contains(&code)) {
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_records_errors_under_their_field_and_keeps_good_values() {
        let mut v = Violations::new();
        let good: Option<u8> = v.check("a", Ok::<u8, String>(1));
        let bad: Option<u8> = v.check("b[0].c", Err::<u8, _>("nope"));
        assert_eq!(good, Some(1));
        assert_eq!(bad, None);
        assert_eq!(v.errors().len(), 1);
        assert_eq!(v.errors()[0].field, "b[0].c");
        assert!(v.finish(|| ()).is_err());
    }

    #[test]
    fn absorb_keeps_the_first_report_of_a_field() {
        let mut v = Violations::one("a", "is required");
        let mut other = Violations::one("a", "must not be empty");
        other.add("b", "bad");
        other.add("a.b", "hidden by a");
        other.add("a[0]", "hidden by a");
        other.add("ab", "not inside a");
        v.absorb(other);
        let messages: Vec<&str> = v.errors().iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["is required", "bad", "not inside a"]);
    }

    #[test]
    fn bounded_text_trims_and_rejects_empty_long_and_control() {
        assert_eq!(bounded_text("  Ada  ", 10).unwrap(), "Ada");
        assert!(bounded_text("   ", 10).is_err());
        assert!(bounded_text("abcdefghijk", 10).is_err());
        assert!(bounded_text("a\u{0}b", 10).is_err());
    }

    #[test]
    fn invisible_formatting_is_refused_and_emoji_sequences_kept() {
        for hidden in [
            "Tea\u{202E}gnp.exe",
            "Te\u{200B}a",
            "\u{2066}Tea\u{2069}",
            "Tea\u{FEFF}",
            "Tea\u{00AD}",
            "Tea\u{2028}cake",
            "Tea\u{E0041}\u{E0042}",
            "\u{1F3F4}\u{E0067}\u{E007F}\u{E0041}",
        ] {
            let refused = bounded_text(hidden, 100).unwrap_err();
            assert!(refused.contains("invisible"), "{hidden:?}: {refused}");
        }
        for kept in [
            "Tea",
            "Chá com açúcar",
            "👩\u{200D}💻 support",
            "👨\u{200D}👩\u{200D}👧 family box",
            "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F} shortbread",
            "❤\u{FE0F} mug",
            "مرحبا",
            "שלום",
        ] {
            assert_eq!(bounded_text(kept, 100).as_deref(), Ok(kept), "{kept:?}");
        }
    }
}

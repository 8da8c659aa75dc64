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
    Ok(trimmed.to_owned())
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
}

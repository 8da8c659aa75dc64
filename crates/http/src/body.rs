//! Reading request bodies: the content type is checked, the JSON parsed, and then every field
//! read leniently so that *all* problems (a wrong type, a missing or unknown field) are
//! reported at once with their JSON paths, not just the first one serde trips over.

use actix_web::HttpRequest;
use actix_web::http::header;
use serde_json::{Map, Value};

use orderpay_domain::validation::Violations;

use crate::problem::{Code, Problem};

/// The largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Parses `body` as a JSON object, after checking the request says it is JSON.
pub fn json_object(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, Problem> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    let is_json = mime.eq_ignore_ascii_case("application/json")
        || mime.to_ascii_lowercase().ends_with("+json");
    if !is_json {
        return Err(Problem::new(
            Code::UnsupportedMediaType,
            format!("send the body as application/json, not `{content_type}`"),
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Problem::new(
            Code::MalformedJson,
            "the body must be a JSON object",
        )),
        Err(e) => Err(Problem::new(
            Code::MalformedJson,
            format!("invalid JSON: {e}"),
        )),
    }
}

/// As [`json_object`], an empty body (only whitespace, or `null`) being an empty object: for
/// requests whose every field is optional.
pub fn optional_json_object(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null" {
        Ok(Map::new())
    } else {
        json_object(req, body)
    }
}

/// The domain's parse result, unless reading the body already found problems: then those and
/// the domain's, each field reported once.
pub fn parsed<T>(mut read: Violations, parsed: Result<T, Violations>) -> Result<T, Problem> {
    match parsed {
        Ok(value) if read.is_empty() => Ok(value),
        Ok(_) => Err(Problem::validation(&read)),
        Err(domain) => {
            read.absorb(domain);
            Err(Problem::validation(&read))
        }
    }
}

/// Reads typed fields out of a JSON object, recording a violation for each bad one.
pub struct Fields<'a, 'v> {
    object: &'a Map<String, Value>,
    prefix: String,
    violations: &'v mut Violations,
}

impl<'a, 'v> Fields<'a, 'v> {
    /// Reads `object`, whose fields are reported as `prefix` + name; each name not in
    /// `allowed` is reported as unknown.
    pub fn new(
        object: &'a Map<String, Value>,
        prefix: &str,
        allowed: &[&str],
        violations: &'v mut Violations,
    ) -> Self {
        for key in object.keys() {
            if !allowed.contains(&key.as_str()) {
                violations.add(format!("{prefix}{key}"), "is not a known field");
            }
        }
        Self {
            object,
            prefix: prefix.to_string(),
            violations,
        }
    }

    pub fn path(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The raw value, treating `null` as absent.
    pub fn value(&self, key: &str) -> Option<&'a Value> {
        self.object.get(key).filter(|v| !v.is_null())
    }

    fn required<T>(&mut self, key: &str, value: Option<T>) -> Option<T> {
        if value.is_none() && self.value(key).is_none() {
            self.violations.add(self.path(key), "is required");
        }
        value
    }

    pub fn optional_string(&mut self, key: &str) -> Option<String> {
        match self.value(key)? {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.violations.add(self.path(key), "must be a string");
                None
            }
        }
    }

    pub fn string(&mut self, key: &str) -> Option<String> {
        let value = self.optional_string(key);
        self.required(key, value)
    }

    pub fn integer(&mut self, key: &str) -> Option<i64> {
        let value = self.optional_integer(key);
        self.required(key, value)
    }

    /// An integer that may be left out.
    pub fn optional_integer(&mut self, key: &str) -> Option<i64> {
        match self.value(key)? {
            Value::Number(n) if n.as_i64().is_some() => n.as_i64(),
            _ => {
                self.violations.add(
                    self.path(key),
                    "must be an integer (an amount in minor units, a count)",
                );
                None
            }
        }
    }

    /// `Some(None)` for an explicit `null` (used by PATCH to clear a field).
    pub fn nullable_string(&mut self, key: &str) -> Option<Option<String>> {
        match self.object.get(key)? {
            Value::Null => Some(None),
            Value::String(s) => Some(Some(s.clone())),
            _ => {
                self.violations
                    .add(self.path(key), "must be a string or null");
                None
            }
        }
    }

    pub fn optional_object(&mut self, key: &str) -> Option<&'a Map<String, Value>> {
        match self.value(key)? {
            Value::Object(map) => Some(map),
            _ => {
                self.violations.add(self.path(key), "must be an object");
                None
            }
        }
    }

    pub fn array(&mut self, key: &str) -> Option<&'a Vec<Value>> {
        let value = match self.value(key) {
            None => None,
            Some(Value::Array(items)) => Some(items),
            Some(_) => {
                self.violations.add(self.path(key), "must be an array");
                return None;
            }
        };
        self.required(key, value)
    }

    /// An object of string values (metadata).
    pub fn string_map(&mut self, key: &str) -> std::collections::BTreeMap<String, String> {
        let mut out = std::collections::BTreeMap::new();
        let Some(map) = self.optional_object(key) else {
            return out;
        };
        for (k, v) in map {
            match v {
                Value::String(s) => {
                    out.insert(k.clone(), s.clone());
                }
                _ => self
                    .violations
                    .add(format!("{}.{k}", self.path(key)), "must be a string"),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn every_type_error_unknown_and_missing_field_is_reported() {
        let body = object(json!({"a": 1, "b": "x", "extra": true, "m": {"k": 1}}));
        let mut v = Violations::new();
        let mut f = Fields::new(&body, "", &["a", "b", "c", "m"], &mut v);
        assert_eq!(f.string("a"), None);
        assert_eq!(f.integer("b"), None);
        assert_eq!(f.string("c"), None);
        assert!(f.string_map("m").is_empty());
        let fields: Vec<&str> = v.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["extra", "a", "b", "c", "m.k"]);
    }

    #[test]
    fn integers_reject_fractions_and_out_of_range_numbers() {
        let body = object(json!({"a": 2.5, "b": 1e30, "c": 7, "d": 18446744073709551615u64}));
        let mut v = Violations::new();
        let mut f = Fields::new(&body, "x.", &["a", "b", "c", "d"], &mut v);
        assert_eq!(f.integer("a"), None);
        assert_eq!(f.integer("b"), None);
        assert_eq!(f.integer("c"), Some(7));
        assert_eq!(f.integer("d"), None);
        assert_eq!(v.errors().len(), 3);
        assert_eq!(v.errors()[0].field, "x.a");
    }

    #[test]
    fn null_is_absent_except_where_it_clears() {
        let body = object(json!({"email": null}));
        let mut v = Violations::new();
        let mut f = Fields::new(&body, "", &["email"], &mut v);
        assert_eq!(f.optional_string("email"), None);
        assert_eq!(f.nullable_string("email"), Some(None));
        assert!(v.is_empty());
    }
}

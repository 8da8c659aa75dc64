//! Reading request bodies into their types ([`crate::requests`]): the content type is checked,
//! the JSON parsed, and then the body read so that *every* problem (a wrong type, a missing or
//! unknown field) is reported at once with its JSON path, not just the first one serde trips
//! over. Each field is a [`Field`], which holds whatever the client sent instead of failing;
//! the reader walks a parsed [`Value`] (never the byte stream, which a failed field would leave
//! half read) and records each field the request type does not name.

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;

use actix_web::HttpRequest;
use actix_web::http::header;
use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, Visitor};
use serde::{Deserialize, forward_to_deserialize_any};
use serde_json::{Map, Value};

use orderpay_domain::validation::Violations;

use crate::problem::{Code, Problem};

/// The largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Reads `body` as `T`, with a violation for each field `T` does not name (at its JSON path),
/// and makes it the domain's value with `parse`, which adds a violation for each bad field:
/// the value, or one 422 naming every problem at once.
pub fn parse<T: DeserializeOwned, U>(
    req: &HttpRequest,
    body: &[u8],
    parse: impl FnOnce(T, &mut Violations) -> Option<U>,
) -> Result<U, Problem> {
    finish(typed(json_object(req, body)?)?, parse)
}

/// As [`parse`], an empty body (only whitespace, or `null`) being an empty object: for
/// requests whose every field is optional.
pub fn parse_optional<T: DeserializeOwned, U>(
    req: &HttpRequest,
    body: &[u8],
    parse: impl FnOnce(T, &mut Violations) -> Option<U>,
) -> Result<U, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null" {
        finish(typed(Map::new())?, parse)
    } else {
        self::parse(req, body, parse)
    }
}

fn finish<T, U>(
    (request, mut v): (T, Violations),
    parse: impl FnOnce(T, &mut Violations) -> Option<U>,
) -> Result<U, Problem> {
    match parse(request, &mut v) {
        Some(value) if v.is_empty() => Ok(value),
        _ => Err(Problem::validation(&v)),
    }
}

fn typed<T: DeserializeOwned>(object: Map<String, Value>) -> Result<(T, Violations), Problem> {
    let unknown = RefCell::new(Violations::new());
    let reader = Reader {
        value: Value::Object(object),
        path: String::new(),
        unknown: &unknown,
    };
    // Only a body that is not an object can fail here, and that was refused above.
    let value = T::deserialize(reader)
        .map_err(|e| Problem::new(Code::MalformedJson, format!("invalid body: {e}")))?;
    Ok((value, unknown.into_inner()))
}

/// Parses `body` as a JSON object, after checking the request says it is JSON.
fn json_object(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, Problem> {
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

/// One field of a request as the client sent it. Reading it never fails, so one bad field
/// does not hide the others.
///
/// A field without `#[serde(default)]` is required: left out or `null`, it is [`Field::Null`].
/// With `#[serde(default)]`, left out is [`Field::Absent`] and `null` is [`Field::Null`], which
/// a PATCH reads as "clear it".
#[derive(Debug, Default)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    /// Not of the field's type: reported with [`Expected::MUST_BE`].
    Wrong,
    Given(T),
}

/// What a field of this type must be, as the answer says it when it is something else.
pub trait Expected {
    const MUST_BE: &'static str;
}

impl Expected for String {
    const MUST_BE: &'static str = "must be a string";
}

impl Expected for i64 {
    const MUST_BE: &'static str = "must be an integer (an amount in minor units, a count)";
}

impl Expected for uuid::Uuid {
    const MUST_BE: &'static str = "must be an id";
}

impl<T> Expected for Vec<T> {
    const MUST_BE: &'static str = "must be an array";
}

impl<T> Expected for std::collections::BTreeMap<String, T> {
    const MUST_BE: &'static str = "must be an object";
}

impl<T: Expected> Field<T> {
    /// The value; a violation at `path` when it is missing or of the wrong type.
    pub fn required(self, path: &str, v: &mut Violations) -> Option<T> {
        match self {
            Field::Given(value) => Some(value),
            Field::Absent | Field::Null => {
                v.add(path, "is required");
                None
            }
            Field::Wrong => {
                v.add(path, T::MUST_BE);
                None
            }
        }
    }

    /// The value if given (`null` counts as not given); a violation at `path` when it is of the
    /// wrong type.
    pub fn optional(self, path: &str, v: &mut Violations) -> Option<T> {
        match self {
            Field::Given(value) => Some(value),
            Field::Absent | Field::Null => None,
            Field::Wrong => {
                v.add(path, T::MUST_BE);
                None
            }
        }
    }

    /// `None` when left out, `Some(None)` for `null` (clear it), `Some(Some(value))` when given;
    /// a violation at `path` when it is of the wrong type.
    pub fn nullable(self, path: &str, v: &mut Violations) -> Option<Option<T>> {
        match self {
            Field::Given(value) => Some(Some(value)),
            Field::Null => Some(None),
            Field::Absent => None,
            Field::Wrong => {
                v.add(path, format_args!("{} or null", T::MUST_BE));
                None
            }
        }
    }

    /// The value parsed by `parse` (a domain constructor); a violation at `path` for what is
    /// missing, of the wrong type, or refused by `parse`.
    pub fn parsed<U, E: fmt::Display>(
        self,
        path: &str,
        v: &mut Violations,
        parse: impl FnOnce(T) -> Result<U, E>,
    ) -> Option<U> {
        let value = self.required(path, v)?;
        v.check(path, parse(value))
    }

    /// `Some(None)` when not given (or `null`), `Some(Some(parsed))` when given and accepted by
    /// `parse`; `None`, with a violation at `path`, when of the wrong type or refused.
    pub fn optional_parsed<U, E: fmt::Display>(
        self,
        path: &str,
        v: &mut Violations,
        parse: impl FnOnce(T) -> Result<U, E>,
    ) -> Option<Option<U>> {
        match self {
            Field::Absent | Field::Null => Some(None),
            given => given.parsed(path, v, parse).map(Some),
        }
    }

    /// Whether the client sent anything but `null` here.
    pub fn is_given(&self) -> bool {
        !matches!(self, Field::Absent | Field::Null)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_option(FieldVisitor(PhantomData))
    }
}

struct FieldVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for FieldVisitor<T> {
    type Value = Field<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_none<E>(self) -> Result<Field<T>, E> {
        Ok(Field::Null)
    }

    fn visit_unit<E>(self) -> Result<Field<T>, E> {
        Ok(Field::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Field<T>, D::Error> {
        // The reader below walks a parsed value, so a field that fails leaves nothing half read.
        Ok(T::deserialize(deserializer).map_or(Field::Wrong, Field::Given))
    }
}

/// A deserializer over a parsed JSON value that records, at its path, each object member the
/// type being read does not name, and hands the type only the members it names.
struct Reader<'u> {
    value: Value,
    path: String,
    unknown: &'u RefCell<Violations>,
}

/// Where the members of the object at `path` are: `path.` (nothing at the top).
fn member_prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}.")
    }
}

impl<'de, 'u> Deserializer<'de> for Reader<'u> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Object(map) => visitor.visit_map(Members {
                prefix: member_prefix(&self.path),
                entries: map.into_iter(),
                pending: None,
                unknown: self.unknown,
            }),
            Value::Array(items) => visitor.visit_seq(Elements {
                path: self.path,
                items: items.into_iter().enumerate(),
                unknown: self.unknown,
            }),
            scalar => scalar.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let Value::Object(map) = self.value else {
            return self.deserialize_any(visitor);
        };
        let prefix = member_prefix(&self.path);
        let known = map
            .into_iter()
            .filter(|(key, _)| {
                let named = fields.contains(&key.as_str());
                if !named {
                    self.unknown
                        .borrow_mut()
                        .add(format!("{prefix}{key}"), "is not a known field");
                }
                named
            })
            .collect::<Map<_, _>>();
        visitor.visit_map(Members {
            prefix,
            entries: known.into_iter(),
            pending: None,
            unknown: self.unknown,
        })
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

struct Members<'u> {
    prefix: String,
    entries: serde_json::map::IntoIter,
    pending: Option<(String, Value)>,
    unknown: &'u RefCell<Violations>,
}

impl<'de> de::MapAccess<'de> for Members<'_> {
    type Error = serde_json::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let read = seed.deserialize(key.as_str().into_deserializer())?;
        self.pending = Some((key, value));
        Ok(Some(read))
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let (key, value) = self
            .pending
            .take()
            .ok_or_else(|| de::Error::custom("a value without its key"))?;
        seed.deserialize(Reader {
            value,
            path: format!("{}{key}", self.prefix),
            unknown: self.unknown,
        })
    }
}

struct Elements<'u> {
    path: String,
    items: std::iter::Enumerate<std::vec::IntoIter<Value>>,
    unknown: &'u RefCell<Violations>,
}

impl<'de> de::SeqAccess<'de> for Elements<'_> {
    type Error = serde_json::Error;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        let Some((i, value)) = self.items.next() else {
            return Ok(None);
        };
        seed.deserialize(Reader {
            value,
            path: format!("{}[{i}]", self.path),
            unknown: self.unknown,
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use serde_json::json;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        n: Field<i64>,
    }

    impl Expected for Inner {
        const MUST_BE: &'static str = "must be an object";
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        a: Field<String>,
        b: Field<i64>,
        #[serde(default)]
        c: Field<String>,
        #[serde(default)]
        m: Field<BTreeMap<String, Field<String>>>,
        #[serde(default)]
        list: Field<Vec<Field<Inner>>>,
    }

    fn outer(body: Value) -> (Outer, Violations) {
        typed(body.as_object().unwrap().clone()).unwrap()
    }

    fn paths(v: &Violations) -> Vec<&str> {
        v.errors().iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn unknown_members_are_reported_at_their_path_and_the_rest_still_read() {
        let (body, unknown) = outer(json!({
            "a": "x", "b": 1, "extra": true,
            "list": [{"n": 1}, {"n": 2, "deep": null}, 7],
        }));
        assert_eq!(paths(&unknown), ["extra", "list[1].deep"]);
        let Field::Given(list) = body.list else {
            panic!("the list is read")
        };
        assert!(matches!(
            &list[1],
            Field::Given(Inner { n: Field::Given(2) })
        ));
        assert!(matches!(list[2], Field::Wrong));
    }

    #[test]
    fn every_wrong_type_and_missing_field_is_kept_for_reporting() {
        let (body, unknown) = outer(json!({"a": 1, "m": {"k": 1, "j": "ok"}}));
        assert!(unknown.is_empty());
        let mut v = Violations::new();
        assert_eq!(body.a.required("a", &mut v), None);
        assert_eq!(body.b.required("b", &mut v), None);
        assert_eq!(body.c.optional("c", &mut v), None);
        let m = body.m.optional("m", &mut v).unwrap();
        assert!(matches!(m["k"], Field::Wrong));
        assert_eq!(paths(&v), ["a", "b"]);
        assert_eq!(v.errors()[0].message, "must be a string");
        assert_eq!(v.errors()[1].message, "is required");
    }

    #[test]
    fn integers_refuse_fractions_strings_and_out_of_range_numbers() {
        for wrong in [
            json!(2.5),
            json!(1e30),
            json!("7"),
            json!(18446744073709551615u64),
        ] {
            let (body, _) = outer(json!({"a": "x", "b": wrong}));
            assert!(matches!(body.b, Field::Wrong), "{wrong}");
        }
        let (body, _) = outer(json!({"a": "x", "b": -7}));
        assert!(matches!(body.b, Field::Given(-7)));
    }

    #[test]
    fn null_is_absent_except_where_it_clears() {
        let (body, _) = outer(json!({"a": null, "b": 1, "c": null}));
        let mut v = Violations::new();
        assert_eq!(body.a.required("a", &mut v), None);
        assert_eq!(body.c.nullable("c", &mut v), Some(None));
        assert_eq!(paths(&v), ["a"]);
        let (left_out, _) = outer(json!({"a": "x", "b": 1}));
        assert_eq!(left_out.c.nullable("c", &mut v), None);
    }
}

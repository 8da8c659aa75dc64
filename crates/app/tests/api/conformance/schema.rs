//! A JSON Schema checker for the keywords orderpay's OpenAPI document uses. A keyword it does
//! not know is an error, not a pass: a document that grows a new keyword fails the conformance
//! test until the checker learns it. One rule is stricter than JSON Schema: an object schema
//! with `properties` and no `additionalProperties` admits no other member.

use regex::Regex;
use serde_json::Value;

/// Keywords that describe and never constrain.
const ANNOTATIONS: &[&str] = &[
    "description",
    "example",
    "examples",
    "title",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    // Names which `oneOf` member applies, by a property whose `enum` says so already.
    "discriminator",
];

/// Every way `value` breaks `schema`, each with its JSON path; `root` resolves `$ref`s.
pub fn violations(root: &Value, schema: &Value, value: &Value) -> Vec<String> {
    violations_at(root, schema, value, true)
}

fn violations_at(root: &Value, schema: &Value, value: &Value, closed: bool) -> Vec<String> {
    let mut out = Vec::new();
    check(root, schema, value, "$", closed, &mut out);
    out
}

/// The property names `schema` declares, through `$ref`s and its `allOf`/`oneOf` members, and
/// whether it admits others.
fn declared(root: &Value, schema: &Value, names: &mut Vec<String>) -> bool {
    let schema = match schema.get("$ref") {
        Some(reference) => match resolve(root, reference) {
            Some(target) => target,
            None => return false,
        },
        None => schema,
    };
    let mut open = schema
        .get("additionalProperties")
        .is_some_and(|a| a != &Value::Bool(false));
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        names.extend(properties.keys().cloned());
    }
    for composed in ["allOf", "oneOf"] {
        for member in schema
            .get(composed)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            open |= declared(root, member, names);
        }
    }
    open
}

/// Checks `value` against `schema`; `closed` applies the rule that an object with
/// `properties` and no `additionalProperties` admits no other member (off for the members of
/// an `allOf`, which is closed over all of its members' properties instead).
fn check(
    root: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
    closed: bool,
    out: &mut Vec<String>,
) {
    let Some(schema) = schema.as_object() else {
        if schema != &Value::Bool(true) {
            out.push(format!("{at}: the schema {schema} is not an object"));
        }
        return;
    };
    for (keyword, rule) in schema {
        match keyword.as_str() {
            "$ref" => match resolve(root, rule) {
                Some(target) => check(root, target, value, at, closed, out),
                None => out.push(format!("{at}: unresolvable $ref {rule}")),
            },
            "type" => {
                let allowed: Vec<&str> = match rule {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                    _ => vec![],
                };
                if !allowed.iter().any(|t| is_type(value, t)) {
                    out.push(format!("{at}: {value} is not of type {rule}"));
                }
            }
            "enum" => {
                if !rule.as_array().is_some_and(|a| a.contains(value)) {
                    out.push(format!("{at}: {value} is not one of {rule}"));
                }
            }
            "oneOf" => {
                let matching = rule
                    .as_array()
                    .map(|options| {
                        options
                            .iter()
                            .filter(|s| violations_at(root, s, value, closed).is_empty())
                            .count()
                    })
                    .unwrap_or(0);
                if matching != 1 {
                    out.push(format!("{at}: {value} matches {matching} of oneOf, not 1"));
                }
            }
            "allOf" => {
                for member in rule.as_array().into_iter().flatten() {
                    check(root, member, value, at, false, out);
                }
                let mut names = Vec::new();
                if closed
                    && !declared(root, &Value::Object(schema.clone()), &mut names)
                    && let Some(object) = value.as_object()
                {
                    for name in object.keys().filter(|n| !names.contains(*n)) {
                        out.push(format!("{at}: `{name}` is sent but not documented"));
                    }
                }
            }
            "properties" => {
                if let (Some(properties), Some(object)) = (rule.as_object(), value.as_object()) {
                    for (name, property) in properties {
                        if let Some(v) = object.get(name) {
                            check(root, property, v, &format!("{at}.{name}"), true, out);
                        }
                    }
                    // Stricter than JSON Schema: an object that names its properties and says
                    // nothing of others is closed, so a field the service sends but the
                    // document does not show is caught.
                    if closed && !schema.contains_key("additionalProperties") {
                        for name in object.keys().filter(|n| !properties.contains_key(*n)) {
                            out.push(format!("{at}: `{name}` is sent but not documented"));
                        }
                    }
                }
            }
            "required" => {
                if let Some(object) = value.as_object() {
                    for name in rule.as_array().into_iter().flatten() {
                        let name = name.as_str().unwrap_or_default();
                        if !object.contains_key(name) {
                            out.push(format!("{at}: `{name}` is required but missing"));
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(object) = value.as_object() {
                    let named = schema.get("properties").and_then(Value::as_object);
                    for (name, v) in object {
                        if named.is_some_and(|n| n.contains_key(name)) {
                            continue;
                        }
                        match rule {
                            Value::Bool(false) => {
                                out.push(format!("{at}: `{name}` is not in the document"))
                            }
                            Value::Bool(true) => {}
                            other => check(root, other, v, &format!("{at}.{name}"), true, out),
                        }
                    }
                }
            }
            "propertyNames" => {
                if let Some(object) = value.as_object() {
                    for name in object.keys() {
                        let name = Value::String(name.clone());
                        check(root, rule, &name, &format!("{at} (a key)"), true, out);
                    }
                }
            }
            "items" => {
                if let Some(items) = value.as_array() {
                    for (i, item) in items.iter().enumerate() {
                        check(root, rule, item, &format!("{at}[{i}]"), true, out);
                    }
                }
            }
            "format" => {
                if let Some(s) = value.as_str()
                    && !format_holds(rule.as_str().unwrap_or_default(), s)
                {
                    out.push(format!("{at}: {value} is not a {rule}"));
                }
                if !matches!(
                    rule.as_str(),
                    Some("uuid" | "date-time" | "int32" | "int64")
                ) {
                    out.push(format!("{at}: the checker does not know format {rule}"));
                }
            }
            "minLength" | "maxLength" => {
                if let (Some(s), Some(bound)) = (value.as_str(), rule.as_u64()) {
                    let chars = s.chars().count() as u64;
                    let holds = if keyword == "minLength" {
                        chars >= bound
                    } else {
                        chars <= bound
                    };
                    if !holds {
                        out.push(format!("{at}: {chars} characters breaks {keyword} {bound}"));
                    }
                }
            }
            "minimum" | "maximum" => {
                if let (Some(n), Some(bound)) = (value.as_f64(), rule.as_f64()) {
                    let holds = if keyword == "minimum" {
                        n >= bound
                    } else {
                        n <= bound
                    };
                    if !holds {
                        out.push(format!("{at}: {n} breaks {keyword} {bound}"));
                    }
                }
            }
            "pattern" => {
                if let Some(s) = value.as_str() {
                    match Regex::new(rule.as_str().unwrap_or_default()) {
                        Ok(re) if re.is_match(s) => {}
                        Ok(_) => out.push(format!("{at}: {value} does not match {rule}")),
                        Err(e) => out.push(format!("{at}: bad pattern {rule}: {e}")),
                    }
                }
            }
            known if ANNOTATIONS.contains(&known) => {}
            unknown => out.push(format!("{at}: the checker does not know `{unknown}`")),
        }
    }
}

fn resolve<'a>(root: &'a Value, reference: &Value) -> Option<&'a Value> {
    let pointer = reference.as_str()?.strip_prefix('#')?;
    root.pointer(pointer)
}

fn is_type(value: &Value, name: &str) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

fn format_holds(format: &str, s: &str) -> bool {
    match format {
        "uuid" => uuid::Uuid::parse_str(s).is_ok(),
        "date-time" => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_checker_finds_what_breaks_a_schema_and_refuses_what_it_does_not_know() {
        let root = json!({"components": {"schemas": {"Id": {"type": "string", "format": "uuid"}}}});
        let schema = json!({"type": "object", "required": ["id", "n"], "additionalProperties": false,
            "properties": {"id": {"$ref": "#/components/schemas/Id"},
                           "n": {"type": "integer", "minimum": 1},
                           "s": {"type": ["string", "null"], "pattern": "^[a-z]+$", "maxLength": 3}}});
        let good = json!({"id": "0190a5c4-8f6e-7cc1-9a4f-3e5d6c7b8a90", "n": 1, "s": null});
        assert!(violations(&root, &schema, &good).is_empty());
        let bad = json!({"id": "x", "n": 0, "s": "ABCD", "extra": 1});
        assert_eq!(violations(&root, &schema, &bad).len(), 5);
        let missing = json!({"id": "0190a5c4-8f6e-7cc1-9a4f-3e5d6c7b8a90"});
        assert_eq!(violations(&root, &schema, &missing).len(), 1);
        let open = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
        assert_eq!(violations(&root, &open, &json!({"a": 1, "b": 2})).len(), 1);
        let unknown = json!({"type": "string", "contains": {}});
        assert_eq!(violations(&root, &unknown, &json!("a")).len(), 1);
    }
}

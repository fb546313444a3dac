//! Typing sample values and flattening nested objects into dotted paths.

use gateway_domain::{ColumnType, JsonObject};
use serde_json::Value;

/// `{"customer": {"age": 3}}` -> `{"customer.age": 3}`. Arrays stay values.
pub fn flatten(obj: JsonObject) -> JsonObject {
    let mut out = JsonObject::new();
    flatten_into(&mut out, String::new(), obj);
    out
}

/// As [`flatten`], but a path that is one of `columns` stays whole (a map column is one
/// value, not a column per key).
pub fn flatten_columns(obj: JsonObject, columns: &std::collections::HashSet<&str>) -> JsonObject {
    fn into(out: &mut JsonObject, prefix: String, obj: JsonObject, columns: &std::collections::HashSet<&str>) {
        for (k, v) in obj {
            let key = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
            match v {
                Value::Object(inner) if !inner.is_empty() && !columns.contains(key.as_str()) => {
                    into(out, key, inner, columns);
                }
                other => {
                    out.insert(key, other);
                }
            }
        }
    }
    let mut out = JsonObject::new();
    into(&mut out, String::new(), obj, columns);
    out
}

fn flatten_into(out: &mut JsonObject, prefix: String, obj: JsonObject) {
    for (k, v) in obj {
        let key = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
        match v {
            Value::Object(inner) if !inner.is_empty() => flatten_into(out, key, inner),
            other => {
                out.insert(key, other);
            }
        }
    }
}

pub fn is_integer(s: &str) -> bool {
    let s = s.trim();
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    !digits.is_empty() && digits.len() <= 19 && digits.bytes().all(|b| b.is_ascii_digit())
}

pub fn is_float(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty()
        && s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        && s.parse::<f64>().is_ok()
}

pub fn is_bool(s: &str) -> bool {
    matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "false")
}

/// ISO 8601 dates and date-times: `2024-05-01`, `2024-05-01T10:20:30Z`,
/// `2024-05-01 10:20:30.123+02:00`.
pub fn is_timestamp(s: &str) -> bool {
    let b = s.trim().as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let at = |i: usize| b.get(i).copied();
    if b.len() < 10 || !digits(0..4) || at(4) != Some(b'-') || !digits(5..7) || at(7) != Some(b'-') || !digits(8..10) {
        return false;
    }
    if b.len() == 10 {
        return true;
    }
    if !matches!(at(10), Some(b'T' | b' '))
        || b.len() < 16
        || !digits(11..13)
        || at(13) != Some(b':')
        || !digits(14..16)
    {
        return false;
    }
    let mut i = 16;
    if b.get(i) == Some(&b':') {
        if !digits(i + 1..i + 3) {
            return false;
        }
        i += 3;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return false;
            }
        }
    }
    match b.get(i..).unwrap_or_default() {
        [] | [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] | [b'+' | b'-', h1, h2, m1, m2] => {
            [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit())
        }
        _ => false,
    }
}

/// The columns of flattened records: every key in order of first appearance, each typed by
/// its values.
pub fn columns_of(records: &[JsonObject]) -> Vec<gateway_domain::Column> {
    /// The most columns described: a record with thousands of keys is cut, not quadratic.
    const MAX_COLUMNS: usize = 1000;
    let mut seen = std::collections::HashSet::new();
    let mut names: Vec<&String> = Vec::new();
    for o in records {
        for k in o.keys() {
            if names.len() < MAX_COLUMNS && seen.insert(k) {
                names.push(k);
            }
        }
    }
    names
        .into_iter()
        .map(|n| gateway_domain::Column { name: n.clone(), ty: infer(records.iter().filter_map(|o| o.get(n))) })
        .collect()
}

/// The type of a column from its sample values (nulls and empty strings ignored).
pub fn infer<'a>(values: impl Iterator<Item = &'a Value>) -> ColumnType {
    let mut ty: Option<ColumnType> = None;
    for v in values {
        let t = match v {
            Value::Null => continue,
            Value::String(s) if s.trim().is_empty() => continue,
            Value::Bool(_) => ColumnType::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => ColumnType::Integer,
            Value::Number(_) => ColumnType::Float,
            Value::Array(_) | Value::Object(_) => ColumnType::Json,
            Value::String(s) if is_integer(s) => ColumnType::Integer,
            Value::String(s) if is_float(s) => ColumnType::Float,
            Value::String(s) if is_bool(s) => ColumnType::Boolean,
            Value::String(s) if is_timestamp(s) => ColumnType::Timestamp,
            Value::String(_) => ColumnType::String,
        };
        ty = Some(match (ty, t) {
            (None, t) => t,
            (Some(a), b) if a == b => a,
            (Some(ColumnType::Integer), ColumnType::Float) | (Some(ColumnType::Float), ColumnType::Integer) => {
                ColumnType::Float
            }
            (Some(ColumnType::Json), _) | (_, ColumnType::Json) => ColumnType::Json,
            _ => ColumnType::String,
        });
        if ty == Some(ColumnType::String) {
            break;
        }
    }
    ty.unwrap_or(ColumnType::String)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typing() {
        let v = |xs: Value| xs.as_array().cloned().unwrap_or_default();
        assert_eq!(infer(v(json!(["1", "-2", ""])).iter()), ColumnType::Integer);
        assert_eq!(infer(v(json!(["1", "2.5"])).iter()), ColumnType::Float);
        assert_eq!(infer(v(json!(["true", "FALSE"])).iter()), ColumnType::Boolean);
        assert_eq!(
            infer(v(json!(["2024-05-01", "2024-05-01T10:20:30Z", "2024-05-01 10:20:30.5+02:00"])).iter()),
            ColumnType::Timestamp
        );
        assert_eq!(infer(v(json!(["1", "x"])).iter()), ColumnType::String);
        assert_eq!(infer(v(json!([1, 2.5])).iter()), ColumnType::Float);
        assert_eq!(infer(v(json!([[1], {"a": 1}])).iter()), ColumnType::Json);
        assert_eq!(infer(v(json!([null])).iter()), ColumnType::String);
        assert!(!is_timestamp("2024-13"));
        assert!(!is_float("e") && !is_float("1e") && !is_float("nan") && !is_float("inf"));
    }

    #[test]
    fn flattening() {
        let o = json!({"id": 1, "customer": {"age": 30, "address": {"city": "Oslo"}}, "tags": ["a"], "empty": {}});
        let f = flatten(o.as_object().cloned().unwrap_or_default());
        assert_eq!(
            Value::Object(f),
            json!({"id": 1, "customer.age": 30, "customer.address.city": "Oslo", "tags": ["a"], "empty": {}})
        );
    }
}

//! BigQuery's table schema and its `{"f": [{"v": ...}]}` rows, as the gateway's columns and
//! rows: RECORD fields as dotted paths, REPEATED fields as one JSON column (flagged), values
//! typed by the schema, TIMESTAMPs as RFC 3339 (BigQuery sends seconds as a float string, the
//! emulator epoch microseconds).

use gateway_connector::{Column, ColumnType};
use gateway_domain::JsonObject;
use serde_json::{Value, json};

/// Columns of a schema's fields, and the repeated ones' names.
pub fn columns(fields: &Value) -> (Vec<Column>, Vec<String>) {
    let (mut cols, mut repeated) = (Vec::new(), Vec::new());
    walk(fields, "", &mut cols, &mut repeated);
    (cols, repeated)
}

fn walk(fields: &Value, prefix: &str, cols: &mut Vec<Column>, repeated: &mut Vec<String>) {
    for f in fields.as_array().into_iter().flatten() {
        let name = format!("{prefix}{}", f["name"].as_str().unwrap_or_default());
        let ty = f["type"].as_str().unwrap_or("STRING");
        if f["mode"] == "REPEATED" {
            cols.push(Column { name: name.clone(), ty: ColumnType::Json });
            repeated.push(name);
        } else if matches!(ty, "RECORD" | "STRUCT") {
            walk(&f["fields"], &format!("{name}."), cols, repeated);
        } else {
            cols.push(Column { name, ty: column_type(ty) });
        }
    }
}

pub fn column_type(bq: &str) -> ColumnType {
    match bq {
        "INTEGER" | "INT64" => ColumnType::Integer,
        "FLOAT" | "FLOAT64" | "NUMERIC" | "BIGNUMERIC" | "DECIMAL" | "BIGDECIMAL" => ColumnType::Float,
        "BOOLEAN" | "BOOL" => ColumnType::Boolean,
        "TIMESTAMP" | "DATE" | "DATETIME" | "TIME" => ColumnType::Timestamp,
        "JSON" | "GEOGRAPHY" | "RANGE" | "INTERVAL" => ColumnType::Json,
        _ => ColumnType::String,
    }
}

/// Rows of `tabledata.list` or `jobs.query`, decoded with their schema.
pub fn decode(rows: &Value, fields: &Value) -> Vec<JsonObject> {
    rows.as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            let mut out = JsonObject::new();
            flatten_row(&row["f"], fields, "", &mut out);
            out
        })
        .collect()
}

fn flatten_row(cells: &Value, fields: &Value, prefix: &str, out: &mut JsonObject) {
    let (Some(cells), Some(fields)) = (cells.as_array(), fields.as_array()) else { return };
    for (cell, f) in cells.iter().zip(fields) {
        let name = format!("{prefix}{}", f["name"].as_str().unwrap_or_default());
        let ty = f["type"].as_str().unwrap_or("STRING");
        let v = &cell["v"];
        if f["mode"] == "REPEATED" {
            let items = v.as_array().into_iter().flatten().map(|item| value(&item["v"], f)).collect();
            out.insert(name, Value::Array(items));
        } else if matches!(ty, "RECORD" | "STRUCT") {
            if v.is_null() {
                walk_nulls(&f["fields"], &format!("{name}."), out);
            } else {
                flatten_row(&v["f"], &f["fields"], &format!("{name}."), out);
            }
        } else {
            out.insert(name, value(v, f));
        }
    }
}

fn walk_nulls(fields: &Value, prefix: &str, out: &mut JsonObject) {
    let (mut cols, mut rep) = (Vec::new(), Vec::new());
    walk(fields, prefix, &mut cols, &mut rep);
    for c in cols {
        out.insert(c.name, Value::Null);
    }
}

/// One value, typed by its field (a repeated RECORD's items as nested objects).
fn value(v: &Value, f: &Value) -> Value {
    let ty = f["type"].as_str().unwrap_or("STRING");
    if matches!(ty, "RECORD" | "STRUCT") {
        let mut obj = JsonObject::new();
        if let (Some(cells), Some(fields)) = (v["f"].as_array(), f["fields"].as_array()) {
            for (cell, inner) in cells.iter().zip(fields) {
                obj.insert(inner["name"].as_str().unwrap_or_default().to_owned(), value(&cell["v"], inner));
            }
        }
        return Value::Object(obj);
    }
    let Some(s) = v.as_str() else { return v.clone() };
    match column_type(ty) {
        ColumnType::Integer => s.parse::<i64>().map(Value::from).unwrap_or_else(|_| v.clone()),
        ColumnType::Float => s
            .parse::<f64>()
            .ok()
            .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
            .unwrap_or_else(|| v.clone()),
        ColumnType::Boolean => Value::Bool(s.eq_ignore_ascii_case("true")),
        ColumnType::Timestamp if ty == "TIMESTAMP" => timestamp(s).map(Value::from).unwrap_or_else(|| v.clone()),
        ColumnType::Json => serde_json::from_str(s).unwrap_or_else(|_| json!(s)),
        _ => v.clone(),
    }
}

/// A TIMESTAMP cell as RFC 3339: seconds as a float (`1.7145576E9`) or epoch microseconds.
fn timestamp(s: &str) -> Option<String> {
    let micros: i64 = if s.contains(['.', 'E', 'e']) {
        (s.parse::<f64>().ok()? * 1e6).round() as i64
    } else {
        let n: i64 = s.parse().ok()?;
        if n.abs() >= 100_000_000_000_000 { n } else { n.checked_mul(1_000_000)? }
    };
    let (secs, frac) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = gateway_domain::civil::civil_from_days(days);
    let time = format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    Some(if frac == 0 {
        format!("{y:04}-{m:02}-{d:02}T{time}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{time}.{frac:06}Z")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        json!([{"name": "user_id", "type": "STRING", "mode": "REQUIRED"}, {"name": "rating", "type": "FLOAT"},
               {"name": "ts", "type": "TIMESTAMP"}, {"name": "tags", "type": "STRING", "mode": "REPEATED"},
               {"name": "customer", "type": "RECORD", "fields": [{"name": "age", "type": "INTEGER"}, {"name": "city", "type": "STRING"}]}])
    }

    #[test]
    fn schemas_and_rows_as_dotted_paths() {
        let (cols, repeated) = columns(&schema());
        let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["user_id", "rating", "ts", "tags", "customer.age", "customer.city"]);
        assert_eq!(repeated, ["tags"]);
        assert_eq!(cols[2].ty, ColumnType::Timestamp);
        // The emulator's row (epoch microseconds) and BigQuery's (float seconds) alike.
        let rows = json!([
            {"f": [{"v": "u1"}, {"v": "4.5"}, {"v": "1714557600000000"}, {"v": [{"v": "a"}, {"v": "b"}]}, {"v": {"f": [{"v": "31"}, {"v": "Paris"}]}}]},
            {"f": [{"v": "u2"}, {"v": null}, {"v": "1.7145576E9"}, {"v": []}, {"v": null}]}
        ]);
        let decoded = decode(&rows, &schema());
        assert_eq!(decoded[0]["rating"], 4.5);
        assert_eq!(decoded[0]["ts"], "2024-05-01T10:00:00Z");
        assert_eq!(decoded[1]["ts"], "2024-05-01T10:00:00Z");
        assert_eq!(decoded[0]["tags"], json!(["a", "b"]));
        assert_eq!(decoded[0]["customer.age"], 31);
        assert_eq!(decoded[1]["customer.city"], Value::Null);
        assert_eq!(timestamp("0"), Some("1970-01-01T00:00:00Z".into()));
        assert_eq!(timestamp("951782400.5"), Some("2000-02-29T00:00:00.500000Z".into()));
    }
}

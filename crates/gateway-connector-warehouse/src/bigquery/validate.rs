//! A whole BigQuery table validated where it lives: the resource's rules as one GoogleSQL
//! query in the customer's project (counts, statistics), after a dry run that says what it
//! would bill, capped by `maximumBytesBilled`; then a second query for the first broken rows
//! (samples). Nothing leaves BigQuery but the counts and at most `max_errors` rows.
//! References: <https://cloud.google.com/bigquery/docs/reference/standard-sql/conversion_functions#safe_casting>,
//! <https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical#quoted_identifiers>,
//! <https://cloud.google.com/bigquery/docs/best-practices-costs> (a `LIMIT` does not lower
//! the bytes billed: the columns read are).

use std::collections::BTreeMap;

use gateway_connector::api::JsonAt;
use gateway_connector::{ConnectorError, ErrorKind};
use gateway_domain::{
    FieldCheck, FieldStats, TimestampStats, ValidationPlan, ValidationReport, Violation, ViolationSample,
};
use serde_json::Value;

use super::config::TableRef;

/// Characters a sample's value keeps.
const VALUE_CHARS: usize = 200;

/// A column reference: each dotted part a quoted identifier (backslash and backtick escaped).
fn ident(column: &str) -> String {
    column
        .split('.')
        .map(|p| format!("`{}`", p.replace('\\', "\\\\").replace('`', "\\`")))
        .collect::<Vec<_>>()
        .join(".")
}

fn text(i: usize) -> String {
    format!("CAST(c{i} AS STRING)")
}

/// The shared part of both queries: `f`, the table's mapped columns `c<i>` with their rule
/// flags `m<i>` (null or blank), `t<i>` (not of the field's type) and `dup`.
fn base(t: &TableRef, plan: &ValidationPlan) -> String {
    let cols: Vec<String> =
        plan.fields.iter().enumerate().map(|(i, f)| format!("{} AS c{i}", ident(&f.column))).collect();
    let limit = plan.max_rows.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
    let mut flags = Vec::new();
    for (i, f) in plan.fields.iter().enumerate() {
        flags.push(format!("(c{i} IS NULL OR TRIM({}) = '') AS m{i}", text(i)));
        let number = format!("SAFE_CAST({} AS FLOAT64)", text(i));
        let broken = match f.check {
            FieldCheck::Text => "FALSE".to_owned(),
            FieldCheck::Number => format!(
                "(c{i} IS NOT NULL AND TRIM({t}) != '' AND ({number} IS NULL OR IS_INF({number}) OR IS_NAN({number})))",
                t = text(i)
            ),
            // Not a time, or an epoch of another unit than the table's most common one (as
            // in files: a mix of seconds and milliseconds cannot both be right).
            FieldCheck::Timestamp => format!(
                "(c{i} IS NOT NULL AND TRIM({t}) != '' AND SAFE_CAST({t} AS TIMESTAMP) IS NULL AND ({number} IS NULL OR {unit} != major))",
                t = text(i),
                unit = epoch_unit(&number),
            ),
        };
        flags.push(format!("{broken} AS t{i}"));
    }
    let key: Vec<usize> = plan.key.iter().filter_map(|k| plan.fields.iter().position(|f| &f.field == k)).collect();
    if key.len() == plan.key.len() && !key.is_empty() {
        let present = key.iter().map(|i| format!("NOT (c{i} IS NULL OR TRIM({}) = '')", text(*i))).collect::<Vec<_>>();
        let parts = key.iter().map(|i| text(*i)).collect::<Vec<_>>().join(", ");
        flags.push(format!("({} AND ROW_NUMBER() OVER (PARTITION BY {parts}) > 1) AS dup", present.join(" AND ")));
    } else {
        flags.push("FALSE AS dup".to_owned());
    }
    // The most common epoch unit of the mapped timestamp, counted over the table first.
    let (units, from) = match plan.fields.iter().position(|f| f.check == FieldCheck::Timestamp) {
        Some(i) => {
            let counts: Vec<String> =
                epoch_counts(i).into_iter().enumerate().map(|(u, c)| format!("{c} AS w{u}")).collect();
            (
                format!(", u AS (SELECT {} FROM src)", counts.join(", ")),
                "(SELECT src.*, CASE WHEN w0 >= w1 AND w0 >= w2 AND w0 >= w3 THEN 0 WHEN w1 >= w2 AND w1 >= w3 THEN 1 WHEN w2 >= w3 THEN 2 ELSE 3 END AS major FROM src CROSS JOIN u)",
            )
        }
        None => (String::new(), "src"),
    };
    format!(
        "WITH src AS (SELECT {} FROM {}.{}.{}{limit}){units}, f AS (SELECT *, {} FROM {from})",
        cols.join(", "),
        ident(&t.project),
        ident(&t.dataset),
        ident(&t.table),
        flags.join(", ")
    )
}

/// An epoch number's unit by its magnitude, as [`UNITS`] numbers them (0 seconds to 3
/// nanoseconds; [`gateway_domain::epoch_unit`]'s bounds).
fn epoch_unit(number: &str) -> String {
    format!(
        "CASE WHEN ABS({number}) < 1e11 THEN 0 WHEN ABS({number}) < 1e14 THEN 1 WHEN ABS({number}) < 1e17 THEN 2 ELSE 3 END"
    )
}

/// How many values of the timestamp `c<i>` are epochs of each unit (seconds to nanoseconds).
fn epoch_counts(i: usize) -> Vec<String> {
    let t = text(i);
    let (iso, n) = (format!("SAFE_CAST({t} AS TIMESTAMP)"), format!("SAFE_CAST({t} AS FLOAT64)"));
    let epoch = format!("{iso} IS NULL AND {n} IS NOT NULL");
    vec![
        format!("COUNTIF({epoch} AND ABS({n}) < 1e11)"),
        format!("COUNTIF({epoch} AND ABS({n}) >= 1e11 AND ABS({n}) < 1e14)"),
        format!("COUNTIF({epoch} AND ABS({n}) >= 1e14 AND ABS({n}) < 1e17)"),
        format!("COUNTIF({epoch} AND ABS({n}) >= 1e17)"),
    ]
}

/// Whether a row breaks a rule: a required field missing, any type, a duplicate.
fn broken(plan: &ValidationPlan) -> String {
    let mut any: Vec<String> = Vec::new();
    for (i, f) in plan.fields.iter().enumerate() {
        if f.required {
            any.push(format!("m{i}"));
        }
        any.push(format!("t{i}"));
    }
    any.push("dup".into());
    any.join(" OR ")
}

/// The counting query: one row.
pub fn counts_sql(t: &TableRef, plan: &ValidationPlan) -> String {
    let mut out =
        vec!["COUNT(*) AS n".to_owned(), format!("COUNTIF({}) AS invalid", broken(plan)), "COUNTIF(dup) AS dup".into()];
    for (i, f) in plan.fields.iter().enumerate() {
        out.push(format!("COUNTIF(m{i}) AS m{i}"));
        out.push(format!("COUNTIF(t{i}) AS t{i}"));
        out.push(format!("APPROX_COUNT_DISTINCT({}) AS d{i}", text(i)));
        let value = match f.check {
            FieldCheck::Number => format!("SAFE_CAST({} AS FLOAT64)", text(i)),
            _ => text(i),
        };
        out.push(format!("MIN({value}) AS lo{i}"));
        out.push(format!("MAX({value}) AS hi{i}"));
    }
    if let Some(i) = plan.fields.iter().position(|f| f.check == FieldCheck::Timestamp) {
        out.extend(timestamp_stats(i));
    }
    format!("{} SELECT {} FROM f", base(t, plan), out.join(", "))
}

/// The forms a timestamp takes, in the order the report prefers on a tie (the file engine's).
const UNITS: [&str; 5] = ["seconds", "milliseconds", "microseconds", "nanoseconds", "iso8601"];

/// The mapped timestamp `c<i>`'s range (`tlo`, `thi`: microseconds since the epoch, as
/// FLOAT64) and how many values have each form (`u0`..`u4`, as [`UNITS`]): text BigQuery casts
/// to a TIMESTAMP (its own TIMESTAMP, DATETIME and DATE columns among them) is ISO 8601, a
/// number is an epoch told by its magnitude as files' are ([`gateway_domain::epoch_unit`]).
/// Values past what a TIMESTAMP holds (years 1 to 9999) are left out of the range.
fn timestamp_stats(i: usize) -> Vec<String> {
    let t = text(i);
    let (iso, n) = (format!("SAFE_CAST({t} AS TIMESTAMP)"), format!("SAFE_CAST({t} AS FLOAT64)"));
    let micros = format!(
        "CASE WHEN ABS({n}) < 1e11 THEN {n} * 1e6 WHEN ABS({n}) < 1e14 THEN {n} * 1e3 WHEN ABS({n}) < 1e17 THEN {n} ELSE {n} / 1e3 END"
    );
    let at = format!(
        "COALESCE(CAST(UNIX_MICROS({iso}) AS FLOAT64), IF(({micros}) BETWEEN -6.2e16 AND 2.5e17, {micros}, NULL))"
    );
    let mut out = vec![format!("MIN({at}) AS tlo"), format!("MAX({at}) AS thi")];
    out.extend(epoch_counts(i).into_iter().enumerate().map(|(u, c)| format!("{c} AS u{u}")));
    out.push(format!("COUNTIF({iso} IS NOT NULL) AS u4"));
    out
}

/// The timestamp's statistics from the counting row, when the field is mapped and any value
/// parsed.
fn timestamp_of(plan: &ValidationPlan, row: &BTreeMap<String, Value>) -> Option<TimestampStats> {
    plan.fields.iter().any(|f| f.check == FieldCheck::Timestamp).then_some(())?;
    let (u, n) =
        (0..UNITS.len()).map(|u| (u, count(row, &format!("u{u}")))).max_by_key(|(u, n)| (*n, std::cmp::Reverse(*u)))?;
    if n == 0 {
        return None;
    }
    let at = |name: &str| {
        let micros = row.get(name)?.as_str()?.parse::<f64>().ok().filter(|m| m.is_finite())?;
        Some(gateway_domain::civil::rfc3339((micros / 1e6).floor() as i64))
    };
    Some(TimestampStats { unit: UNITS.get(u)?.to_string(), min: at("tlo"), max: at("thi") })
}

/// The samples query: the first `max_errors` broken rows.
pub fn samples_sql(t: &TableRef, plan: &ValidationPlan) -> String {
    let mut out = vec!["dup".to_owned()];
    for i in 0..plan.fields.len() {
        out.push(format!("{} AS v{i}", text(i)));
        out.push(format!("m{i}"));
        out.push(format!("t{i}"));
    }
    format!("{} SELECT {} FROM f WHERE {} LIMIT {}", base(t, plan), out.join(", "), broken(plan), plan.max_errors)
}

/// One answered row, by column name.
fn row_of(body: &Value, index: usize) -> BTreeMap<String, Value> {
    let names: Vec<String> = body
        .at("/schema/fields")
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| f.at("/name").as_str().unwrap_or_default().to_owned())
        .collect();
    let cells = body.at("/rows").get(index).map(|r| r.at("/f").clone()).unwrap_or(Value::Null);
    names
        .into_iter()
        .enumerate()
        .map(|(j, n)| (n, cells.get(j).map(|c| c.at("/v").clone()).unwrap_or(Value::Null)))
        .collect()
}

fn count(row: &BTreeMap<String, Value>, name: &str) -> u64 {
    row.get(name).and_then(|v| v.as_str().and_then(|s| s.parse().ok()).or_else(|| v.as_u64())).unwrap_or(0)
}

fn truthy(row: &BTreeMap<String, Value>, name: &str) -> bool {
    row.get(name).is_some_and(|v| v.as_str() == Some("true") || v.as_bool() == Some(true))
}

fn cut(s: &str) -> String {
    s.chars().take(VALUE_CHARS).collect()
}

/// The type each mapped column has in the table's schema, as the report names types.
fn column_type(schema: &Value, column: &str) -> String {
    let mut fields = schema.clone();
    let mut ty = String::from("string");
    for part in column.split('.') {
        let Some(f) = fields.as_array().and_then(|a| a.iter().find(|f| f.at("/name").as_str() == Some(part))).cloned()
        else {
            return "string".into();
        };
        ty = f.at("/type").as_str().unwrap_or("STRING").to_owned();
        fields = f.at("/fields").clone();
    }
    match ty.as_str() {
        "INTEGER" | "INT64" => "integer",
        "FLOAT" | "FLOAT64" | "NUMERIC" | "BIGNUMERIC" => "float",
        "TIMESTAMP" | "DATETIME" | "DATE" => "timestamp",
        "BOOLEAN" | "BOOL" => "boolean",
        _ => "string",
    }
    .into()
}

/// The report from the two answers.
pub fn report(
    t: &TableRef,
    plan: &ValidationPlan,
    schema: &Value,
    counts: &Value,
    samples: &Value,
) -> Result<ValidationReport, ConnectorError> {
    let row = row_of(counts, 0);
    if row.is_empty() {
        return Err(ConnectorError::new(ErrorKind::Unknown, format!("BigQuery answered no counts for table {t}")));
    }
    let rows = count(&row, "n");
    let invalid = count(&row, "invalid").min(rows);
    let mut violations = Vec::new();
    let mut fields = BTreeMap::new();
    for (i, f) in plan.fields.iter().enumerate() {
        let missing = count(&row, &format!("m{i}"));
        if f.required && missing > 0 {
            violations.push(Violation { rule: "missing".into(), field: f.field.clone(), rows: missing });
        }
        let wrong = count(&row, &format!("t{i}"));
        if wrong > 0 {
            violations.push(Violation { rule: "type".into(), field: f.field.clone(), rows: wrong });
        }
        let bound = |name: String| -> Option<Value> {
            let v = row.get(&name)?.as_str()?;
            match f.check {
                FieldCheck::Number => {
                    v.parse::<f64>().ok().and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
                }
                _ => Some(Value::String(cut(v))),
            }
        };
        fields.insert(
            f.field.clone(),
            FieldStats {
                column: f.column.clone(),
                ty: column_type(schema, &f.column),
                nulls: missing,
                distinct: count(&row, &format!("d{i}")),
                min: bound(format!("lo{i}")),
                max: bound(format!("hi{i}")),
            },
        );
    }
    let dups = count(&row, "dup");
    if dups > 0 {
        violations.push(Violation { rule: "duplicate".into(), field: plan.key.join("+"), rows: dups });
    }
    let file = t.to_string();
    let mut kept = Vec::new();
    for r in 0..samples.at("/rows").as_array().map_or(0, Vec::len) {
        let s = row_of(samples, r);
        let value = |i: usize| s.get(&format!("v{i}")).and_then(Value::as_str).map(cut);
        for (i, f) in plan.fields.iter().enumerate() {
            if f.required && truthy(&s, &format!("m{i}")) {
                kept.push(ViolationSample {
                    rule: "missing".into(),
                    field: f.field.clone(),
                    file: file.clone(),
                    row: 0,
                    value: value(i),
                });
            }
            if truthy(&s, &format!("t{i}")) {
                kept.push(ViolationSample {
                    rule: "type".into(),
                    field: f.field.clone(),
                    file: file.clone(),
                    row: 0,
                    value: value(i),
                });
            }
        }
        if truthy(&s, "dup") {
            let shown: Vec<String> = plan
                .key
                .iter()
                .filter_map(|k| plan.fields.iter().position(|f| &f.field == k))
                .map(|i| value(i).unwrap_or_default())
                .collect();
            kept.push(ViolationSample {
                rule: "duplicate".into(),
                field: plan.key.join("+"),
                file: file.clone(),
                row: 0,
                value: Some(cut(&shown.join(" + "))),
            });
        }
    }
    kept.truncate(plan.max_errors);
    Ok(ValidationReport {
        rows,
        valid_rows: rows - invalid,
        invalid_rows: invalid,
        truncated: plan.max_rows.is_some_and(|m| rows >= m),
        violations,
        samples: kept,
        fields,
        timestamp: timestamp_of(plan, &row),
        files: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use gateway_domain::PlannedField;

    use super::*;

    #[test]
    fn identifiers_are_quoted_and_escaped() {
        assert_eq!(ident("customer.city"), "`customer`.`city`");
        assert_eq!(ident("a`b\\c"), "`a\\`b\\\\c`");
        let t = TableRef { project: "p".into(), dataset: "d".into(), table: "t".into() };
        let plan = ValidationPlan {
            fields: vec![PlannedField {
                field: "item_id".into(),
                column: "x` FROM y; --".into(),
                check: FieldCheck::Text,
                required: true,
            }],
            key: vec!["item_id".into()],
            max_errors: 5,
            max_rows: Some(10),
            max_bytes: 1 << 30,
        };
        let sql = counts_sql(&t, &plan);
        assert!(sql.contains("`x\\` FROM y; --` AS c0"), "{sql}");
        assert!(sql.contains("FROM `p`.`d`.`t` LIMIT 10"), "{sql}");
        assert!(samples_sql(&t, &plan).ends_with("LIMIT 5"));
    }

    #[test]
    fn the_timestamps_form_is_the_most_common_and_its_range_rfc3339() {
        let field = |check| PlannedField { field: "timestamp".into(), column: "ts".into(), check, required: false };
        let plan = ValidationPlan {
            fields: vec![field(FieldCheck::Timestamp)],
            key: vec![],
            max_errors: 5,
            max_rows: None,
            max_bytes: 1 << 30,
        };
        let row = |pairs: &[(&str, &str)]| -> BTreeMap<String, Value> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned()))).collect()
        };
        let stats = timestamp_of(
            &plan,
            &row(&[("u0", "3"), ("u1", "7"), ("u4", "7"), ("tlo", "1.7E15"), ("thi", "1714557600000000")]),
        )
        .unwrap();
        // A tie goes to the epoch form, as in files.
        assert_eq!(
            (stats.unit.as_str(), stats.min.as_deref(), stats.max.as_deref()),
            ("milliseconds", Some("2023-11-14T22:13:20Z"), Some("2024-05-01T10:00:00Z"))
        );
        assert_eq!(timestamp_of(&plan, &row(&[("u0", "0")])), None, "no value parsed");
        let text = ValidationPlan { fields: vec![field(FieldCheck::Text)], ..plan };
        assert_eq!(timestamp_of(&text, &row(&[("u0", "3")])), None, "no timestamp mapped");
        assert!(
            !counts_sql(&TableRef { project: "p".into(), dataset: "d".into(), table: "t".into() }, &text)
                .contains("tlo")
        );
    }
}

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
use gateway_domain::{FieldCheck, FieldStats, ValidationPlan, ValidationReport, Violation, ViolationSample};
use serde_json::Value;

use super::config::TableRef;

/// The most a validation's queries may bill (10 GiB): past it the dry run refuses.
pub const MAX_BYTES_BILLED: u64 = 10 << 30;

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
            FieldCheck::Timestamp => format!(
                "(c{i} IS NOT NULL AND TRIM({t}) != '' AND SAFE_CAST({t} AS TIMESTAMP) IS NULL AND {number} IS NULL)",
                t = text(i)
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
    format!(
        "WITH src AS (SELECT {} FROM {}.{}.{}{limit}), f AS (SELECT *, {} FROM src)",
        cols.join(", "),
        ident(&t.project),
        ident(&t.dataset),
        ident(&t.table),
        flags.join(", ")
    )
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
    format!("{} SELECT {} FROM f", base(t, plan), out.join(", "))
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
        timestamp: None,
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
        };
        let sql = counts_sql(&t, &plan);
        assert!(sql.contains("`x\\` FROM y; --` AS c0"), "{sql}");
        assert!(sql.contains("FROM `p`.`d`.`t` LIMIT 10"), "{sql}");
        assert!(samples_sql(&t, &plan).ends_with("LIMIT 5"));
    }
}

//! What an inspection adds to a table: detected defaults, inferred mappings, required fields
//! checked against the source's columns, warnings and a sample.

use gateway_connector::Inspection;
use gateway_domain::{Column, ColumnType, JsonObject, Problem, Resource, Sample, Table};
use serde_json::Value;

/// How many sample rows a preview answers at most.
pub const SAMPLE_ROWS: usize = 10;

/// The platform fields a source table must map, per resource.
pub fn required_fields(resource: Resource) -> &'static [&'static str] {
    match resource {
        Resource::Item => &["item_id"],
        Resource::User | Resource::UserId => &["user_id"],
        Resource::Rating => &["user_id", "item_id", "rating"],
        Resource::Interaction => &["user_id", "item_id", "interaction_type"],
        Resource::UserToItemsReco => &["user_id", "item_ids"],
        Resource::ItemToItemsReco => &["item_id", "item_ids"],
        Resource::AnalyticsReport => &[],
    }
}

/// Columns a source may map besides the required ones without a warning.
fn optional_fields(resource: Resource) -> &'static [&'static str] {
    match resource {
        Resource::Rating | Resource::Interaction => &["timestamp"],
        _ => &[],
    }
}

/// A previewed table: the merged table with defaults filled, warnings and a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    pub table: Table,
    pub warnings: Vec<String>,
    pub sample: Sample,
    /// Whether the source is older than its `freshness_hours` (`None`: not watched, or its
    /// age unknown).
    pub stale: Option<bool>,
}

/// Lower-cased with separators dropped: `itemId`, `ITEM-ID` and `item_id` compare equal.
fn loose(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Adds what the connector detected wherever the caller gave nothing; one level deep into
/// nested objects (`options`), so a caller's `compression` stays beside a detected `delimiter`.
fn fill_defaults(params: &mut JsonObject, detected: &JsonObject) {
    for (k, v) in detected {
        match (params.get_mut(k), v) {
            (None, _) => {
                params.insert(k.clone(), v.clone());
            }
            (Some(Value::Object(mine)), Value::Object(found)) => {
                for (ik, iv) in found {
                    mine.entry(ik.clone()).or_insert_with(|| iv.clone());
                }
            }
            _ => {}
        }
    }
}

/// Applies an inspection to a merged, checked table.
pub fn apply(mut table: Table, inspection: Inspection) -> Result<Preview, Problem> {
    let mut warnings = inspection.warnings.clone();
    fill_defaults(&mut table.connection_table_params, &inspection.detected);

    if !table.resource.is_destination() && !inspection.columns.is_empty() {
        let columns: Vec<&str> = inspection.column_names().collect();
        let found = || columns.iter().map(|c| Value::from(*c)).collect::<Vec<_>>();
        // check() refuses a mapping that is not an object; replace one anyway to stay total.
        if !matches!(table.resource_params.get("columns_mapping"), Some(Value::Object(_))) {
            table.resource_params.insert("columns_mapping".into(), Value::Object(JsonObject::new()));
        }
        let Some(Value::Object(mapping)) = table.resource_params.get_mut("columns_mapping") else {
            return Err(Problem::wrong_field("resource_params.columns_mapping", "'columns_mapping' must be an object"));
        };
        // Mapped columns must exist.
        for (field, column) in mapping.iter() {
            let column = column.as_str().unwrap_or_default();
            if !columns.contains(&column) {
                return Err(Problem::wrong_field(
                    format!("resource_params.columns_mapping.{field}"),
                    format!(
                        "'{field}' is mapped to column '{column}', which the source does not have; columns found: {}",
                        columns.join(", ")
                    ),
                )
                .with("columns", found()));
            }
        }
        // Required fields: mapped, or inferred from a column of the same name.
        for field in required_fields(table.resource) {
            if mapping.contains_key(*field) {
                continue;
            }
            let exact = columns.iter().find(|c| *c == field);
            let similar = || columns.iter().find(|c| loose(c) == loose(field));
            match exact.or_else(similar) {
                Some(column) => {
                    mapping.insert((*field).to_owned(), Value::from(*column));
                    warnings.push(format!("columns_mapping.{field} inferred: column '{column}'"));
                }
                None => {
                    return Err(Problem::wrong_field(
                        format!("resource_params.columns_mapping.{field}"),
                        format!(
                            "a {} table needs '{field}': map it in resource_params.columns_mapping; columns found: {}",
                            table.resource,
                            columns.join(", ")
                        ),
                    )
                    .with("columns", found()));
                }
            }
        }
        // Optional platform fields (timestamp) are inferred by exact name only.
        for field in optional_fields(table.resource) {
            if !mapping.contains_key(*field) && columns.contains(field) {
                mapping.insert((*field).to_owned(), Value::from(*field));
                warnings.push(format!("columns_mapping.{field} inferred: column '{field}'"));
            }
        }
        let mapped: Vec<String> = mapping.values().filter_map(|v| v.as_str().map(str::to_owned)).collect();
        let unmapped: Vec<&str> = columns.iter().copied().filter(|c| !mapped.iter().any(|m| m == c)).collect();
        if !unmapped.is_empty() {
            warnings.push(format!("columns not mapped to a platform field: {}", unmapped.join(", ")));
        }
        if table.resource == Resource::Rating
            && let Some(column) = mapping.get("rating").and_then(Value::as_str)
        {
            let bad = inspection.values(column).find(|v| !is_numeric(v));
            if let Some(v) = bad {
                warnings.push(format!("rating column '{column}' holds a value that is not a number: {v}"));
            }
        }
    }

    let stale = freshness(&table, inspection.modified, gateway_domain::now_seconds(), &mut warnings);
    let rows = inspection.rows.into_iter().take(SAMPLE_ROWS).collect();
    Ok(Preview {
        table,
        warnings,
        sample: Sample {
            columns: inspection.columns,
            rows,
            bytes_read: inspection.bytes_read,
            files: inspection.files,
            modified_timestamp: inspection.modified,
        },
        stale,
    })
}

/// Whether a source with `connection_table_params.freshness_hours` is older than that at
/// `now`, warning when it is.
pub fn freshness(table: &Table, modified: Option<i64>, now: i64, warnings: &mut Vec<String>) -> Option<bool> {
    let hours = table.connection_table_params.get("freshness_hours").and_then(Value::as_u64)?;
    let modified = modified?;
    let age = now.saturating_sub(modified);
    let stale = age > (hours as i64).saturating_mul(3600);
    if stale {
        warnings.push(format!(
            "stale: the newest data was modified {} h ago, more than freshness_hours ({hours}): has the export stopped?",
            age / 3600
        ));
    }
    Some(stale)
}

fn is_numeric(v: &Value) -> bool {
    match v {
        Value::Number(_) => true,
        Value::String(s) => s.trim().parse::<f64>().is_ok(),
        _ => false,
    }
}

/// Whether a mapped column's type breaks what its platform field needs, the schema having
/// drifted to `new` from one kept in `history` (newest first): `rating` no longer a number,
/// `timestamp` no longer a time (epoch numbers or ISO 8601). A column fit in any kept schema
/// and unfit now fails on every test until it is fit again (a column that never was fit is
/// warned by [`apply`], as on the first test). A problem on
/// `resource_params.columns_mapping.<field>` naming the field, the column, the type it last
/// had fit and the one it has now. (A mapped column removed is refused by [`apply`] already.)
pub fn drift(table: &Table, history: &[Vec<Column>], new: &[Column]) -> Option<Problem> {
    if table.resource.is_destination() {
        return None;
    }
    let mapping = table.resource_params.get("columns_mapping")?.as_object()?;
    let numeric = |t: ColumnType| matches!(t, ColumnType::Integer | ColumnType::Float);
    let time = |t: ColumnType| matches!(t, ColumnType::Integer | ColumnType::Float | ColumnType::Timestamp);
    let name =
        |t: ColumnType| serde_json::to_value(t).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    for (field, column) in mapping {
        let Some(column) = column.as_str() else { continue };
        let Some(n) = new.iter().find(|c| c.name == column) else { continue };
        let (ok, needs): (fn(ColumnType) -> bool, &str) = match field.as_str() {
            "rating" => (numeric, "a number"),
            "timestamp" => (time, "a time (epoch seconds or ISO 8601)"),
            _ => continue,
        };
        if ok(n.ty) {
            continue;
        }
        let Some(o) = history.iter().find_map(|cols| cols.iter().find(|c| c.name == column && ok(c.ty))) else {
            continue;
        };
        return Some(
            Problem::wrong_field(
                format!("resource_params.columns_mapping.{field}"),
                format!(
                    "'{field}' is mapped to column '{column}', which was {} and is now {}: the platform needs {needs}; fix the source or map '{field}' to another column",
                    name(o.ty),
                    name(n.ty)
                ),
            )
            .with("column", column)
            .with("from", name(o.ty))
            .with("to", name(n.ty)),
        );
    }
    None
}

/// The epoch unit of the mapped `timestamp` column, when every sample value of it is a number
/// (or a number in text): by the magnitude of the first ([`gateway_domain::epoch_unit`]).
pub fn timestamp_unit(preview: &Preview) -> Option<&'static str> {
    let column = preview.table.resource_params.get("columns_mapping")?.get("timestamp")?.as_str()?;
    let mut numbers =
        preview.sample.rows.iter().filter_map(|r| r.get(column)).filter(|v| !v.is_null()).map(|v| match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            _ => None,
        });
    let first = numbers.next()??;
    numbers.all(|n| n.is_some()).then(|| gateway_domain::epoch_unit(first))
}

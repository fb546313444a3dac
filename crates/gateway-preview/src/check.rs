//! Static checks of a table, before anything remote is opened. Every failure names its field
//! as a dotted path in `error_data.field`.

use gateway_connector::Connector;
use gateway_domain::{JsonObject, Problem, Resource, Table, json_type_name};
use serde_json::Value;

/// Checks a (merged) table statically: what every table takes (`resource_params`, an
/// analytics report's metadata), then its connector's `connection_table_params` rules
/// ([`Connector::check_table`], which reads its `TableSpec`). Without a connector (a kind
/// not built yet) the params cannot be checked; the caller says so.
pub fn check(table: &Table, connector: Option<&dyn Connector>) -> Result<(), Problem> {
    check_resource_params(table)?;
    if table.resource == Resource::AnalyticsReport {
        check_report_metadata(&table.connection_table_metadata)?;
    }
    if let Some(c) = connector {
        c.check_table(table)?;
    }
    Ok(())
}

fn non_empty_string<'a>(v: &'a Value, field: &str) -> Result<&'a str, Problem> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(s),
        Value::String(_) => Err(Problem::wrong_field(field, format!("'{field}' must not be empty"))),
        other => Err(Problem::wrong_field(field, format!("'{field}' must be a string, got {}", json_type_name(other)))),
    }
}

fn check_resource_params(table: &Table) -> Result<(), Problem> {
    let params = &table.resource_params;
    if let Some(mapping) = params.get("columns_mapping") {
        let Value::Object(mapping) = mapping else {
            return Err(Problem::wrong_field(
                "resource_params.columns_mapping",
                format!(
                    "'columns_mapping' must be an object of platform field to source column, got {}",
                    json_type_name(mapping)
                ),
            ));
        };
        for (field, column) in mapping {
            let path = format!("resource_params.columns_mapping.{field}");
            if field.trim().is_empty() {
                return Err(Problem::wrong_field(path, "a platform field name in 'columns_mapping' is empty"));
            }
            non_empty_string(column, &path)?;
        }
    }
    if let Some(w) = params.get("whitelist_params")
        && !w.is_object()
    {
        return Err(Problem::wrong_field(
            "resource_params.whitelist_params",
            format!("'whitelist_params' must be an object, got {}", json_type_name(w)),
        ));
    }
    Ok(())
}

fn check_report_metadata(meta: &JsonObject) -> Result<(), Problem> {
    let field = "connection_table_metadata.segmentation_id";
    match meta.get("segmentation_id") {
        None | Some(Value::Null) => {
            return Err(Problem::wrong_field(field, "an analytics_report table needs 'segmentation_id'"));
        }
        Some(v) => {
            non_empty_string(v, field)?;
        }
    }
    let ts = |key: &str| -> Result<f64, Problem> {
        let field = format!("connection_table_metadata.{key}");
        match meta.get(key) {
            None | Some(Value::Null) => {
                Err(Problem::wrong_field(field, format!("an analytics_report table needs '{key}' (seconds)")))
            }
            Some(Value::Number(n)) => {
                n.as_f64().ok_or_else(|| Problem::wrong_field(field.clone(), format!("'{key}' is not a number")))
            }
            Some(other) => {
                Err(Problem::wrong_field(field, format!("'{key}' must be a number, got {}", json_type_name(other))))
            }
        }
    };
    let (start, end) = (ts("start_timestamp")?, ts("end_timestamp")?);
    if start >= end {
        return Err(Problem::wrong_field(
            "connection_table_metadata.end_timestamp",
            format!("'end_timestamp' ({end}) must be after 'start_timestamp' ({start})"),
        ));
    }
    Ok(())
}

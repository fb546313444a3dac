//! Static checks of a table, before anything remote is opened. Every failure names its field
//! as a dotted path in `error_data.field`.

use gateway_domain::{Compression, ConnectionKind, FileFormat, JsonObject, Problem, Resource, Table, json_type_name};
use serde_json::Value;

/// The families of table parameters, by connection kind.
enum Family {
    /// S3, GCS, LOCAL: a file in a bucket.
    Files,
    /// BIGQUERY: a warehouse table.
    Warehouse,
    /// SaaS providers: the provider's own object (`object`: a Salesforce sobject, a Klaviyo
    /// list, a Shopify resource...); whether it exists is the connector's to say.
    Provider,
}

fn family(kind: ConnectionKind) -> Family {
    match kind {
        ConnectionKind::S3 | ConnectionKind::Gcs | ConnectionKind::Local => Family::Files,
        ConnectionKind::Bigquery => Family::Warehouse,
        _ => Family::Provider,
    }
}

const FILE_PARAMS: &[&str] = &["file_format", "bucket", "path", "options", "url"];
const FILE_OPTIONS: &[&str] = &["compression", "delimiter", "quote", "escape", "header", "encoding"];
const WAREHOUSE_PARAMS: &[&str] = &["project", "dataset", "table", "location"];
const PROVIDER_PARAMS: &[&str] = &["object"];

/// Checks a (merged) table statically.
pub fn check(table: &Table) -> Result<(), Problem> {
    // A LOCAL table's file is stored under its name: nothing may climb out of the prefix.
    if table.connection == ConnectionKind::Local && matches!(table.name.as_str(), "." | "..") {
        return Err(Problem::wrong_field("name", format!("'{}' cannot name a LOCAL table", table.name)));
    }
    check_resource_params(table)?;
    match family(table.connection) {
        Family::Files => check_file_params(table)?,
        Family::Warehouse => check_warehouse_params(&table.connection_table_params)?,
        Family::Provider => check_provider_params(&table.connection_table_params)?,
    }
    if table.resource == Resource::AnalyticsReport {
        check_report_metadata(&table.connection_table_metadata)?;
    }
    Ok(())
}

fn only_keys(obj: &JsonObject, allowed: &[&str], prefix: &str) -> Result<(), Problem> {
    let mut unknown: Vec<&String> = obj.keys().filter(|k| !allowed.contains(&k.as_str())).collect();
    unknown.sort();
    match unknown.first() {
        None => Ok(()),
        Some(first) => Err(Problem::wrong_field(
            format!("{prefix}.{first}"),
            format!("unknown key '{first}' in {prefix}; allowed: {}", allowed.join(", ")),
        )
        .with("allowed", allowed.to_vec())),
    }
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

fn check_file_params(table: &Table) -> Result<(), Problem> {
    let params = &table.connection_table_params;
    only_keys(params, FILE_PARAMS, "connection_table_params")?;
    if let Some(v) = params.get("file_format") {
        let f = non_empty_string(v, "connection_table_params.file_format")?;
        // A destination's format is what the platform writes (the spec's report is "dat");
        // a source's must be one the gateway can read.
        if !table.resource.is_destination() {
            FileFormat::parse_loose(f).map_err(|e| {
                Problem::wrong_field(
                    "connection_table_params.file_format",
                    format!(
                        "'{f}' is not a file format the gateway can read; allowed: {} (any case)",
                        e.allowed.join(", ")
                    ),
                )
                .with("allowed", e.allowed)
            })?;
        }
    }
    for key in ["bucket", "path"] {
        if let Some(v) = params.get(key) {
            let field = format!("connection_table_params.{key}");
            let s = non_empty_string(v, &field)?;
            if s.contains('\0') {
                return Err(Problem::wrong_field(field, format!("'{key}' contains a NUL character")));
            }
        }
    }
    if let Some(options) = params.get("options") {
        let Value::Object(options) = options else {
            return Err(Problem::wrong_field(
                "connection_table_params.options",
                format!("'options' must be an object, got {}", json_type_name(options)),
            ));
        };
        only_keys(options, FILE_OPTIONS, "connection_table_params.options")?;
        if let Some(v) = options.get("compression") {
            let field = "connection_table_params.options.compression";
            let s = non_empty_string(v, field)?;
            s.to_ascii_lowercase()
                .parse::<Compression>()
                .map_err(|e| Problem::wrong_field(field, e.to_string()).with("allowed", e.allowed))?;
        }
        for key in ["delimiter", "quote", "escape"] {
            if let Some(v) = options.get(key) {
                let field = format!("connection_table_params.options.{key}");
                match v {
                    Value::String(s) if s.chars().count() == 1 => {}
                    _ => return Err(Problem::wrong_field(field, format!("'{key}' must be a single character"))),
                }
            }
        }
        if let Some(v) = options.get("header")
            && !v.is_boolean()
        {
            return Err(Problem::wrong_field(
                "connection_table_params.options.header",
                format!("'header' must be true or false, got {}", json_type_name(v)),
            ));
        }
        if let Some(v) = options.get("encoding") {
            non_empty_string(v, "connection_table_params.options.encoding")?;
        }
    }
    Ok(())
}

fn check_warehouse_params(params: &JsonObject) -> Result<(), Problem> {
    only_keys(params, WAREHOUSE_PARAMS, "connection_table_params")?;
    for key in WAREHOUSE_PARAMS {
        if let Some(v) = params.get(*key) {
            non_empty_string(v, &format!("connection_table_params.{key}"))?;
        }
    }
    Ok(())
}

fn check_provider_params(params: &JsonObject) -> Result<(), Problem> {
    only_keys(params, PROVIDER_PARAMS, "connection_table_params")?;
    if let Some(v) = params.get("object") {
        non_empty_string(v, "connection_table_params.object")?;
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

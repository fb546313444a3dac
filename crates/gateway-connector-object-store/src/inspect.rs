//! What every object store does with a table: a source is sniffed by ranged reads; a
//! destination proves it can be written with a probe object that is then deleted.

use std::sync::Arc;

use gateway_connector::{ConnectorError, ErrorKind, Inspection};
use gateway_domain::{JsonObject, Table};
use gateway_formats::{FormatError, SniffOptions, sniff};
use opendal::Operator;
use serde_json::Value;

use crate::source::OpendalSource;

/// `connection_table_params.path`, else the table's name.
pub fn object_path(table: &Table) -> String {
    table
        .connection_table_params
        .get("path")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .unwrap_or(table.name.as_str())
        .trim_start_matches('/')
        .to_owned()
}

/// `connection_table_params.bucket`, else the connection's `bucket`.
pub fn bucket(table: &Table, credentials: &JsonObject) -> Result<String, ConnectorError> {
    table
        .connection_table_params
        .get("bucket")
        .or_else(|| credentials.get("bucket"))
        .and_then(Value::as_str)
        .filter(|b| !b.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            ConnectorError::new(
                ErrorKind::WrongSpecification,
                "no bucket: give connection_table_params.bucket, or a bucket in the connection's credentials",
            )
        })
}

pub fn format_error(e: FormatError) -> ConnectorError {
    let kind = match e {
        FormatError::Source(_) => ErrorKind::Unavailable,
        _ => ErrorKind::WrongSpecification,
    };
    ConnectorError::new(kind, e.to_string())
}

/// Opens a source object and samples it. `classify` turns an opendal error into a kind.
pub async fn source(
    op: Operator,
    path: &str,
    table: &Table,
    sample_rows: usize,
    classify: impl Fn(&opendal::Error) -> ConnectorError,
) -> Result<Inspection, ConnectorError> {
    let mut opts = SniffOptions::from_params(&table.connection_table_params).map_err(format_error)?;
    opts.sample_rows = sample_rows;
    let src = OpendalSource::open(op, path).await.map_err(|e| classify(&e))?;
    let sniffed = sniff(Arc::new(src), &opts).await.map_err(format_error)?;
    let detected = sniffed.detected_params();
    Ok(Inspection {
        detected,
        columns: sniffed.columns,
        rows: sniffed.rows,
        writable: None,
        bytes_read: sniffed.bytes_read,
        warnings: sniffed.warnings,
    })
}

/// Writes and deletes a small probe object beside the table's path. A failed delete is a
/// warning naming the object left behind.
pub async fn destination(
    op: Operator,
    path: &str,
    classify: impl Fn(&opendal::Error) -> ConnectorError,
) -> Result<Inspection, ConnectorError> {
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "",
    };
    let probe = format!("{dir}.gateway-write-probe-{}", uuid::Uuid::new_v4().simple());
    op.write(&probe, b"gateway write probe: safe to delete".to_vec()).await.map_err(|e| classify(&e))?;
    let mut warnings = Vec::new();
    if let Err(e) = op.delete(&probe).await {
        warnings.push(format!("the write probe '{probe}' could not be deleted ({}): delete it by hand", e.kind()));
    }
    Ok(Inspection { writable: Some(true), warnings, ..Inspection::default() })
}

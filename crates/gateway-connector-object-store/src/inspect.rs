//! What every object store does with a table: a source is sniffed by ranged reads; a
//! destination proves it can be written with a probe object that is then deleted.

use std::sync::Arc;

use gateway_connector::{ConnectorError, ErrorKind, Inspection, TableFile};
use gateway_domain::{JsonObject, Problem, Table};
use gateway_formats::{FileParams, FormatError, sniff};
use opendal::Operator;
use serde_json::Value;

use crate::source::{ObjectFile, OpendalSource};

/// `connection_table_params.path`, else the table's name.
pub fn object_path(table: &Table, params: &FileParams) -> String {
    params.path.as_deref().filter(|p| !p.is_empty()).unwrap_or(table.name.as_str()).trim_start_matches('/').to_owned()
}

/// `connection_table_params.bucket`, else the connection's `bucket`.
pub fn bucket(params: &FileParams, credentials: &JsonObject) -> Result<String, ConnectorError> {
    params
        .bucket
        .as_deref()
        .or_else(|| credentials.get("bucket").and_then(Value::as_str))
        .filter(|b| !b.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            ConnectorError::new(
                ErrorKind::WrongSpecification,
                "no bucket: give connection_table_params.bucket, or a bucket in the connection's credentials",
            )
        })
}

/// A table's params as the connector reads them: checked again here, since an embedder may
/// call `inspect_table` without the static checks.
pub fn params(table: &Table, files: crate::table::Files) -> Result<FileParams, ConnectorError> {
    crate::table::parse(table, files)
        .map_err(|p: Problem| ConnectorError::new(ErrorKind::WrongSpecification, p.message))
}

pub fn format_error(e: FormatError) -> ConnectorError {
    let kind = match e {
        FormatError::Source(_) => ErrorKind::Unavailable,
        _ => ErrorKind::WrongSpecification,
    };
    ConnectorError::new(kind, e.to_string())
}

/// What the sniffer is told: the table's options, and how many rows to sample.
fn sniff_options(params: &FileParams, sample_rows: usize) -> Result<gateway_formats::SniffOptions, ConnectorError> {
    let mut opts = params.sniff_options().map_err(|e| ConnectorError::new(ErrorKind::WrongSpecification, e.message))?;
    opts.sample_rows = sample_rows;
    Ok(opts)
}

/// Opens a source object and samples it. `classify` turns an opendal error into a kind.
pub async fn source(
    op: Operator,
    path: &str,
    params: &FileParams,
    sample_rows: usize,
    max_files: usize,
    classify: impl Fn(&opendal::Error) -> ConnectorError,
) -> Result<Inspection, ConnectorError> {
    let opts = sniff_options(params, sample_rows)?;
    let Some(pattern) = crate::fileset::Pattern::of(params, path)? else {
        let src = OpendalSource::open(op, path).await.map_err(|e| classify(&e))?;
        let modified = src.modified;
        let sniffed = sniff(Arc::new(src), &opts).await.map_err(format_error)?;
        return Ok(Inspection {
            modified,
            detected: sniffed.detected_params(),
            columns: sniffed.columns,
            rows: sniffed.rows,
            writable: None,
            bytes_read: sniffed.bytes_read,
            warnings: sniffed.warnings,
            files: None,
        });
    };
    let files = crate::fileset::list(&op, &pattern, max_files, &classify).await?;
    source_set(op, &pattern, &files, params, sample_rows, classify).await
}

/// A set, listed (bounded) by its connector: the newest file sampled, its partitions as
/// columns, the set summarised.
pub async fn source_set(
    op: Operator,
    pattern: &crate::fileset::Pattern,
    files: &[crate::fileset::Listed],
    params: &FileParams,
    sample_rows: usize,
    classify: impl Fn(&opendal::Error) -> ConnectorError,
) -> Result<Inspection, ConnectorError> {
    let opts = sniff_options(params, sample_rows)?;
    let Some((newest, set)) = crate::fileset::summary(files, pattern) else {
        return Err(ConnectorError::new(
            ErrorKind::ResourceNotFound,
            format!("no file matches '{}' (markers and names starting with _ or . are left out)", pattern.raw),
        ));
    };
    let src = OpendalSource::open(op.clone(), &newest.path).await.map_err(|e| classify(&e))?;
    let sniffed = sniff(Arc::new(src), &opts).await.map_err(|e| {
        let e = format_error(e);
        ConnectorError::new(e.kind, format!("{} (the set's newest file, {})", e.message, pattern.show(&newest.path)))
    })?;
    let detected = sniffed.detected_params();
    let mut bytes_read = sniffed.bytes_read;
    let (mut columns, mut rows) = (sniffed.columns, sniffed.rows);
    let mut warnings = vec![format!(
        "a set of {} file(s), {} bytes: the sample comes from the newest, {}",
        set.count, set.bytes, set.newest.path
    )];
    warnings.extend(sniffed.warnings);
    // The schema compared over a bounded sample of the other files (the first and last by
    // path, two between), each read within the same budget as the newest.
    let others = compared(files, &newest);
    let mut opts_other = opts.clone();
    opts_other.sample_rows = 1;
    for f in others {
        let Ok(src) = OpendalSource::open(op.clone(), &f.path).await else {
            warnings.push(format!("{} could not be opened to compare its columns", pattern.show(&f.path)));
            continue;
        };
        match sniff(Arc::new(src), &opts_other).await {
            Ok(other) => {
                bytes_read += other.bytes_read;
                if let Some(d) = differs(&columns, &other.columns) {
                    warnings.push(format!("{} has other columns than the newest file: {d}", pattern.show(&f.path)));
                }
            }
            Err(e) => warnings.push(format!("{} cannot be read as the newest file is: {e}", pattern.show(&f.path))),
        }
    }
    crate::fileset::partition_columns(files, &newest, &pattern.prefix, &mut columns, &mut rows);
    Ok(Inspection {
        detected,
        columns,
        rows,
        writable: None,
        bytes_read,
        warnings,
        modified: Some(newest.modified),
        files: Some(set),
    })
}

/// Files of a set compared with its newest: the first and last by path and two between, at
/// most four, never the newest itself.
fn compared<'a>(
    files: &'a [crate::fileset::Listed],
    newest: &crate::fileset::Listed,
) -> Vec<&'a crate::fileset::Listed> {
    let mut by_path: Vec<&crate::fileset::Listed> = files.iter().filter(|f| f.path != newest.path).collect();
    by_path.sort_by(|a, b| a.path.cmp(&b.path));
    let n = by_path.len();
    let mut picks: Vec<usize> = [0, n / 3, 2 * n / 3, n.saturating_sub(1)].into_iter().filter(|i| *i < n).collect();
    picks.dedup();
    picks.into_iter().filter_map(|i| by_path.get(i).copied()).collect()
}

/// How another file's columns differ from the newest's, if they do.
fn differs(newest: &[gateway_domain::Column], other: &[gateway_domain::Column]) -> Option<String> {
    let mut parts = Vec::new();
    let missing: Vec<&str> =
        newest.iter().filter(|c| !other.iter().any(|o| o.name == c.name)).map(|c| c.name.as_str()).collect();
    if !missing.is_empty() {
        parts.push(format!("missing {}", missing.join(", ")));
    }
    let extra: Vec<&str> =
        other.iter().filter(|o| !newest.iter().any(|c| c.name == o.name)).map(|o| o.name.as_str()).collect();
    if !extra.is_empty() {
        parts.push(format!("extra {}", extra.join(", ")));
    }
    for c in newest {
        if let Some(o) = other.iter().find(|o| o.name == c.name)
            && o.ty != c.ty
        {
            let name = |t: gateway_domain::ColumnType| {
                serde_json::to_value(t).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
            };
            parts.push(format!("'{}' is {} there, {} in the newest", c.name, name(o.ty), name(c.ty)));
        }
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Opens a source table's files for a whole read: the object, or each file of the set
/// `listed` (already listed, bounded, by its connector), in path order. A set with no file
/// is `ResourceNotFound` naming the pattern.
pub async fn open_files(
    op: Operator,
    path: &str,
    set: Option<(&crate::fileset::Pattern, Vec<crate::fileset::Listed>)>,
    classify: impl Fn(&opendal::Error) -> ConnectorError,
    why: Option<&crate::source::Reason>,
) -> Result<Vec<Arc<dyn TableFile>>, ConnectorError> {
    let Some((pattern, mut listed)) = set else {
        let src = OpendalSource::open(op, path).await.map_err(|e| classify(&e))?.explained_by(why);
        return Ok(vec![Arc::new(ObjectFile::new(src, format!("object '{path}'")))]);
    };
    if listed.is_empty() {
        return Err(ConnectorError::new(
            ErrorKind::ResourceNotFound,
            format!("no file matches '{}' (markers and names starting with _ or . are left out)", pattern.raw),
        ));
    }
    listed.sort_by(|a, b| a.path.cmp(&b.path));
    // Sizes as listed: a set of many files is opened without a request per file.
    Ok(listed
        .into_iter()
        .map(|f| {
            let shown = pattern.show(&f.path);
            let what = format!("object '{shown}'");
            let file = ObjectFile::new(OpendalSource::sized(op.clone(), &f.path, f.size).explained_by(why), what)
                .reported_as(shown);
            Arc::new(file) as Arc<dyn TableFile>
        })
        .collect())
}

/// Writes and deletes a small probe object beside the table's path. A failed delete is a
/// warning naming the object left behind.
pub async fn destination(
    op: Operator,
    path: &str,
    classify: impl Fn(&opendal::Error) -> ConnectorError,
) -> Result<Inspection, ConnectorError> {
    let dir = path.rsplit_once('/').map_or(String::new(), |(dir, _)| format!("{dir}/"));
    let probe = format!("{dir}.gateway-write-probe-{}", uuid::Uuid::new_v4().simple());
    op.write(&probe, b"gateway write probe: safe to delete".to_vec()).await.map_err(|e| classify(&e))?;
    let mut warnings = Vec::new();
    if let Err(e) = op.delete(&probe).await {
        warnings.push(format!("the write probe '{probe}' could not be deleted ({}): delete it by hand", e.kind()));
    }
    Ok(Inspection { writable: Some(true), warnings, ..Inspection::default() })
}

//! The data plane: a whole table checked against its resource's rules before the platform
//! ingests it, on Apache DataFusion.
//!
//! A validation reads every file of a stored table by the layout its sniff found
//! (`gateway-formats`), streamed in batches, never buffered whole. Stage one (`check`) holds
//! each mapped value to its field's rule in Rust over Arrow arrays and tallies exact counts;
//! stage two (`dups`) counts duplicate keys on DataFusion, whose sort spills to disk past the
//! job's memory pool. The report ([`ValidationReport`]) is the sum of both.
//!
//! It takes files as [`ByteSource`]s: the service adapts whatever its connector opens.

// Bytes and text from tenants and providers are never sliced or indexed unchecked.
#![cfg_attr(not(test), deny(clippy::string_slice, clippy::indexing_slicing))]

mod check;
mod dups;
mod keys;
mod read;
mod rows;
mod rules;
mod shape;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gateway_domain::{
    ErrorName, FileRows, JsonObject, Problem, TimestampStats, ValidationReport, Violation, ViolationSample,
};
use gateway_formats::{FileParams, SniffOptions};
use read::{Counted, format_error, with_partitions};

pub use check::{Unit, VALUE_CHARS, parse_timestamp, rfc3339};
pub use dups::Limits;
pub use gateway_formats::{ByteSource, FormatError, MemorySource, parquet_row_groups};
pub use keys::KeySpill;
pub use rows::{Columns, ERROR_COLUMN, Encoder, Format, Invalid, RowCounts, Rows, RowsJob, rows};
pub use rules::{FieldKind, FieldRule, MAX_FIELDS, Rules, key_fields, mapping_of};

/// Why a validation stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// A file cannot be read as the table says (format, compression, dialect, a broken row).
    #[error("{file}: {message}")]
    Format { file: String, message: String },
    /// The provider did not serve the bytes.
    #[error("{file}: {message}")]
    Source { file: String, message: String },
    /// The table's parameters cannot be read.
    #[error("{0}")]
    Params(String),
    /// The engine needed more memory than the job may hold.
    #[error(
        "checking this table for duplicate keys needs more than the {limit_mb} MiB a validation may hold and spill could not relieve it; ask the operator to raise GATEWAY_VALIDATION_MEMORY_MB"
    )]
    Memory { limit_mb: u64 },
    /// Spill files would pass their cap.
    #[error(
        "checking this table for duplicate keys needs more than the {limit_mb} MiB of spill files a validation may write; validate with max_rows, or ask the operator to raise GATEWAY_VALIDATION_SPILL_MB"
    )]
    Spill { limit_mb: u64 },
    /// A read of rows met more keys than it may remember to find duplicates.
    #[error(
        "this read meets more keys than the {limit_mb} MiB a read may hold to find duplicates remembers (about {keys} keys): read the table by its splits, with max_rows, or ask the operator to raise GATEWAY_VALIDATION_MEMORY_MB"
    )]
    Keys { limit_mb: u64, keys: usize },
    /// A read of rows took more source bytes than its operator allows one read.
    #[error(
        "this read took more than the {limit_mb} MiB of source bytes one read may take (GATEWAY_ROW_READ_MB): read the table by its splits (GET .../rows/splits/), or ask the operator to raise the setting"
    )]
    ReadCap { limit_mb: u64 },
    /// Stopped by its owner.
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Internal(String),
}

impl EngineError {
    /// The contract's error shape for a failed validation.
    pub fn problem(&self) -> Problem {
        match self {
            EngineError::Format { file, .. } => {
                Problem::new(ErrorName::WrongDataType, self.to_string()).with("file", file.clone())
            }
            EngineError::Source { file, .. } => {
                Problem::new(ErrorName::ResourceNotFound, self.to_string()).with("file", file.clone())
            }
            EngineError::Params(_) => Problem::wrong_field("connection_table_params", self.to_string()),
            EngineError::Memory { limit_mb } => Problem::new(ErrorName::QuotaExceeded, self.to_string())
                .with("setting", "GATEWAY_VALIDATION_MEMORY_MB")
                .with("limit", *limit_mb),
            EngineError::Spill { limit_mb } => Problem::new(ErrorName::QuotaExceeded, self.to_string())
                .with("setting", "GATEWAY_VALIDATION_SPILL_MB")
                .with("limit", *limit_mb),
            EngineError::Keys { limit_mb, .. } => Problem::new(ErrorName::QuotaExceeded, self.to_string())
                .with("setting", "GATEWAY_VALIDATION_MEMORY_MB")
                .with("limit", *limit_mb),
            EngineError::ReadCap { limit_mb } => Problem::new(ErrorName::QuotaExceeded, self.to_string())
                .with("setting", "GATEWAY_ROW_READ_MB")
                .with("limit", *limit_mb),
            EngineError::Cancelled => Problem::new(ErrorName::WrongDataType, "the validation was cancelled"),
            EngineError::Internal(_) => Problem::new(ErrorName::InternalError, self.to_string()),
        }
    }
}

/// How far a validation has read; shared with whoever reports it, and its stop switch.
#[derive(Debug, Default)]
pub struct Progress {
    pub rows: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_total: AtomicU64,
    /// Set to stop the job at its next batch ([`EngineError::Cancelled`]).
    pub cancelled: AtomicBool,
    /// Set when a read passed its cap on source bytes ([`EngineError::ReadCap`]).
    pub over_cap: AtomicBool,
}

/// What to validate.
pub struct Job {
    /// The table's files, in order.
    pub files: Vec<Arc<dyn ByteSource>>,
    /// The table's `connection_table_params` (format and options, as stored).
    pub params: JsonObject,
    pub rules: Rules,
    /// Samples kept at most.
    pub max_errors: usize,
    /// Rows read at most.
    pub max_rows: Option<u64>,
    pub limits: Limits,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("files", &self.files.len()).field("rules", &self.rules).finish_non_exhaustive()
    }
}

/// The sniff options a table's parameters say, with the files' total size recorded in
/// `progress`: what every whole read starts with.
pub(crate) async fn prepare(
    params: &JsonObject,
    files: &[Arc<dyn ByteSource>],
    progress: &Progress,
) -> Result<SniffOptions, EngineError> {
    let params = FileParams::parse(params).map_err(|e| EngineError::Params(format!("{}: {}", e.field, e.message)))?;
    let opts = params.sniff_options().map_err(|e| EngineError::Params(format!("{}: {}", e.field, e.message)))?;
    let mut total = 0u64;
    for f in files {
        total += f.size().await.map_err(|e| format_error(f.name().unwrap_or(""), e))?;
    }
    progress.bytes_total.store(total, Ordering::Relaxed);
    Ok(opts)
}

/// Validates a whole table. Blocking reads and CPU work run on a blocking thread; the
/// duplicate stage on DataFusion beside it.
pub async fn validate(job: Job, progress: Arc<Progress>) -> Result<ValidationReport, EngineError> {
    let opts = prepare(&job.params, &job.files, &progress).await?;
    let rules = job.rules.clone();
    let key_name = rules.key_name();
    let names = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut checker = check::Checker::new(rules.clone(), job.max_errors);
    let (tx, dup_task) = if rules.key.is_empty() {
        (None, None)
    } else {
        let (tx, task) = dups::start(job.limits.clone(), key_name.clone(), job.max_errors, names.clone())?;
        (Some(tx), Some(task))
    };
    let handle = tokio::runtime::Handle::current();
    let files = job.files;
    let max_rows = job.max_rows;
    let p = progress.clone();
    let columns = rules.columns();
    let read = tokio::task::spawn_blocking(move || -> Result<(check::Checker, bool, Vec<FileRows>), EngineError> {
        let mut truncated = false;
        let mut per_file: Vec<FileRows> = Vec::new();
        'files: for (index, raw) in files.into_iter().enumerate() {
            let path = raw.name().unwrap_or("").to_owned();
            per_file.push(FileRows { file: path.clone(), rows: 0 });
            let before = checker.rows;
            if let Ok(mut n) = names.lock() {
                n.push(path.clone());
            }
            let source: Arc<dyn ByteSource> = Arc::new(Counted { inner: raw, progress: p.clone(), cap: None });
            let opened = read::open(&handle, source, &path, &opts, |_| columns.clone(), None)?;
            let (absent, mut batches) = (opened.absent, opened.batches);
            while let Some(batch) = batches.next() {
                if p.cancelled.load(Ordering::Relaxed) {
                    return Err(EngineError::Cancelled);
                }
                let mut batch = with_partitions(batch?, &absent)?;
                if let Some(max) = max_rows {
                    let left = max.saturating_sub(checker.rows) as usize;
                    if batch.num_rows() > left {
                        batch = batch.slice(0, left);
                        truncated = true;
                    }
                }
                let keyed = checker.check(&batch, index as u32, &path)?;
                p.rows.store(checker.rows, Ordering::Relaxed);
                if let Some(f) = per_file.last_mut() {
                    f.rows = checker.rows - before;
                }
                if let (Some(tx), Some(keyed)) = (&tx, keyed)
                    && keyed.num_rows() > 0
                    && tx.blocking_send(keyed).is_err()
                {
                    // The duplicate stage stopped: its error is the answer.
                    break 'files;
                }
                if max_rows.is_some_and(|m| checker.rows >= m) {
                    truncated |= batches.next().is_some();
                    break 'files;
                }
            }
        }
        Ok((checker, truncated, per_file))
    });
    let read = read.await.map_err(|e| EngineError::Internal(format!("the reader stopped: {e}")))?;
    let dups = match dup_task {
        Some(t) => Some(t.await.map_err(|e| EngineError::Internal(format!("the duplicate stage stopped: {e}")))??),
        None => None,
    };
    let (checker, truncated, per_file) = read?;
    let mut report = report(&checker, dups.unwrap_or_default(), truncated, job.max_errors, &key_name);
    report.files = per_file;
    Ok(report)
}

/// Stage one's tallies and stage two's duplicates as one report.
fn report(
    c: &check::Checker,
    dups: dups::Duplicates,
    truncated: bool,
    max_errors: usize,
    key_name: &str,
) -> ValidationReport {
    let fields = &c.rules().fields;
    // The most common epoch form; epoch timestamps of another form break `type`.
    let epoch_major = c
        .units
        .iter()
        .filter(|(u, _)| Unit::from_u8(**u).is_epoch())
        .max_by_key(|(u, n)| (**n, std::cmp::Reverse(**u)))
        .map(|(u, _)| *u);
    let minority = |u: usize| epoch_major.is_some_and(|m| Unit::from_u8(u as u8).is_epoch() && u != usize::from(m));
    let mut per_bit = c.per_bit;
    let mut invalid = c.invalid;
    // A timestamp that parsed never has its field's type bit: a minority form adds to it.
    if let Some(bit) = c.timestamp_field().and_then(|i| per_bit.get_mut(2 * i + check::TYPE as usize)) {
        *bit += c.units.iter().filter(|(u, _)| minority(usize::from(**u))).map(|(_, n)| n).sum::<u64>();
    }
    for u in 0..check::UNITS {
        let (clean, clean_dups) =
            (c.clean_by_unit.get(u).copied().unwrap_or(0), dups.clean_by_unit.get(u).copied().unwrap_or(0));
        // A clean row of a minority form is invalid already; a clean duplicate otherwise.
        invalid += if minority(u) { clean } else { clean_dups };
    }
    let mut violations = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        for (rule, bit) in [("missing", check::MISSING), ("type", check::TYPE)] {
            if let Some(&n) = per_bit.get(2 * i + bit as usize).filter(|n| **n > 0) {
                violations.push(Violation { rule: rule.into(), field: f.field.clone(), rows: n });
            }
        }
    }
    if dups.rows > 0 {
        violations.push(Violation { rule: "duplicate".into(), field: key_name.into(), rows: dups.rows });
    }
    // Samples: the first rows met of each kind, in file and row order, at most max_errors.
    let mut samples: Vec<(u32, u64, ViolationSample)> = c.samples.iter().map(|(f, s)| (*f, s.row, s.clone())).collect();
    for (unit, kept) in &c.unit_samples {
        if Some(*unit) != epoch_major {
            samples.extend(kept.iter().map(|(f, s)| (*f, s.row, s.clone())));
        }
    }
    samples.extend(dups.samples);
    samples.sort_by_key(|s| (s.0, s.1));
    samples.truncate(max_errors);
    let timestamp = c.timestamp_range().map(|(min, max)| {
        let unit = c
            .units
            .iter()
            .max_by_key(|(u, n)| (**n, std::cmp::Reverse(**u)))
            .map_or(Unit::None, |(u, _)| Unit::from_u8(*u));
        TimestampStats { unit: unit.name().into(), min: Some(rfc3339(min)), max: Some(rfc3339(max)) }
    });
    ValidationReport {
        rows: c.rows,
        valid_rows: c.rows - invalid.min(c.rows),
        invalid_rows: invalid.min(c.rows),
        truncated,
        violations,
        samples: samples.into_iter().map(|(_, _, s)| s).collect(),
        fields: c.field_stats().into_iter().collect(),
        timestamp,
        files: Vec::new(),
    }
}

#[cfg(test)]
mod tests;

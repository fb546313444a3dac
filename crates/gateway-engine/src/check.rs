//! Stage one: each batch's mapped values held to their field's rule, row by row, in Rust over
//! Arrow arrays: a row's broken rules as a bit mask, exact tallies, per-field statistics (a
//! HyperLogLog for distinct values), the first samples, and the rows' keys handed to the
//! duplicate stage.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{StringBuilder, UInt8Builder, UInt32Builder, UInt64Builder};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use gateway_domain::{FieldStats, ViolationSample};
use serde_json::Value;

use crate::EngineError;
use crate::rules::{FieldKind, Rules};

/// The longest value kept in a sample or a min/max, in characters.
pub const VALUE_CHARS: usize = 200;

/// Rule bits of a field in a row's mask: `missing` at `2i`, `type` at `2i + 1`.
pub(crate) const MISSING: u64 = 0;
pub(crate) const TYPE: u64 = 1;

/// How many timestamp forms there are ([`Unit`] as an index, `None` included).
pub(crate) const UNITS: usize = 6;

/// One more row of a timestamp form.
pub(crate) fn count_unit(counts: &mut [u64; UNITS], unit: u8) {
    if let Some(n) = counts.get_mut(usize::from(unit)) {
        *n += 1;
    }
}

/// The form of a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Unit {
    None = 0,
    Seconds = 1,
    Milliseconds = 2,
    Microseconds = 3,
    Nanoseconds = 4,
    Iso8601 = 5,
}

impl Unit {
    pub const ALL: [Unit; 5] =
        [Unit::Seconds, Unit::Milliseconds, Unit::Microseconds, Unit::Nanoseconds, Unit::Iso8601];

    pub fn name(self) -> &'static str {
        match self {
            Unit::None => "none",
            Unit::Seconds => "seconds",
            Unit::Milliseconds => "milliseconds",
            Unit::Microseconds => "microseconds",
            Unit::Nanoseconds => "nanoseconds",
            Unit::Iso8601 => "iso8601",
        }
    }

    pub fn from_u8(u: u8) -> Unit {
        Unit::ALL.into_iter().find(|x| *x as u8 == u).unwrap_or(Unit::None)
    }

    pub fn is_epoch(self) -> bool {
        matches!(self, Unit::Seconds | Unit::Milliseconds | Unit::Microseconds | Unit::Nanoseconds)
    }
}

/// A timestamp's value in nanoseconds since the epoch and its form; `None` when it does not
/// parse. Epoch numbers are told apart by magnitude: below 10^11 seconds (until year 5138),
/// below 10^14 milliseconds, below 10^17 microseconds, else nanoseconds.
pub fn parse_timestamp(s: &str) -> Option<(i128, Unit)> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let numeric = t.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'+' || b == b'.')
        && t.bytes().any(|b| b.is_ascii_digit());
    if let Some(v) = t.parse::<f64>().ok().filter(|v| numeric && v.is_finite()) {
        let a = v.abs();
        let (unit, per) = if a < 1e11 {
            (Unit::Seconds, 1e9)
        } else if a < 1e14 {
            (Unit::Milliseconds, 1e6)
        } else if a < 1e17 {
            (Unit::Microseconds, 1e3)
        } else if a < 1e20 {
            (Unit::Nanoseconds, 1.0)
        } else {
            return None;
        };
        // Whole numbers exactly (a float loses nanoseconds past 2^53).
        let nanos = match t.parse::<i64>() {
            Ok(i) => i128::from(i) * per as i128,
            Err(_) => (v * per) as i128,
        };
        return Some((nanos, unit));
    }
    arrow_cast::parse::string_to_timestamp_nanos(t).ok().map(|n| (i128::from(n), Unit::Iso8601))
}

/// Nanoseconds since the epoch as RFC 3339 in UTC (whole seconds).
pub fn rfc3339(nanos: i128) -> String {
    gateway_domain::civil::rfc3339(nanos.div_euclid(1_000_000_000) as i64)
}

pub(crate) fn cut(s: &str) -> String {
    match s.char_indices().nth(VALUE_CHARS) {
        Some((i, _)) => s.get(..i).unwrap_or(s).to_owned(),
        None => s.to_owned(),
    }
}

/// A HyperLogLog sketch of distinct values (2^14 registers: about 0.8% standard error; exact
/// enough for a report, 16 KiB per field whatever the table's size). DataFusion's own sketch
/// (`approx_distinct`) is private to its aggregate, so this one sits beside the tallies.
/// Exact (a set of 64-bit hashes) up to [`EXACT_DISTINCT`] values.
struct Hll {
    registers: Vec<u8>,
    hasher: std::hash::RandomState,
    small: Option<std::collections::HashSet<u64>>,
}

/// Distinct values counted exactly up to this many.
pub const EXACT_DISTINCT: usize = 10_000;

const HLL_BITS: u32 = 14;

impl Hll {
    fn new() -> Self {
        Hll {
            registers: vec![0; 1 << HLL_BITS],
            hasher: std::hash::RandomState::new(),
            small: Some(Default::default()),
        }
    }

    fn add(&mut self, v: &str) {
        use std::hash::BuildHasher;
        let h = self.hasher.hash_one(v);
        if let Some(set) = &mut self.small {
            set.insert(h);
            if set.len() > EXACT_DISTINCT {
                self.small = None;
            }
        }
        let index = (h >> (64 - HLL_BITS)) as usize;
        let rank = ((h << HLL_BITS) | (1 << (HLL_BITS - 1))).leading_zeros() as u8 + 1;
        if let Some(r) = self.registers.get_mut(index)
            && rank > *r
        {
            *r = rank;
        }
    }

    fn count(&self) -> u64 {
        if let Some(set) = &self.small {
            return set.len() as u64;
        }
        let m = self.registers.len() as f64;
        let sum: f64 = self.registers.iter().map(|r| 2f64.powi(-i32::from(*r))).sum();
        let estimate = 0.7213 / (1.0 + 1.079 / m) * m * m / sum;
        let zeros = self.registers.iter().filter(|r| **r == 0).count();
        // Small ranges: linear counting.
        if estimate <= 2.5 * m && zeros > 0 {
            (m * (m / zeros as f64).ln()).round() as u64
        } else {
            estimate.round() as u64
        }
    }
}

/// What stage one keeps of one field.
struct FieldTally {
    nulls: u64,
    distinct: Hll,
    /// Every present value parses as an integer / as a float.
    all_int: bool,
    all_float: bool,
    present: u64,
    min_num: Option<f64>,
    max_num: Option<f64>,
    min_text: Option<String>,
    max_text: Option<String>,
    min_ts: Option<i128>,
    max_ts: Option<i128>,
}

impl FieldTally {
    fn new() -> Self {
        FieldTally {
            nulls: 0,
            distinct: Hll::new(),
            all_int: true,
            all_float: true,
            present: 0,
            min_num: None,
            max_num: None,
            min_text: None,
            max_text: None,
            min_ts: None,
            max_ts: None,
        }
    }
}

/// The schema of what stage one hands the duplicate stage: each keyed row.
pub(crate) fn keyed_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("ord", DataType::UInt64, false),
        Field::new("flags", DataType::UInt64, false),
        Field::new("unit", DataType::UInt8, false),
        Field::new("file", DataType::UInt32, false),
        Field::new("row", DataType::UInt64, false),
    ]))
}

/// The key parts' separator (a control character no id holds in practice).
pub(crate) const KEY_SEP: char = '\u{1f}';

/// Stage one's state over a whole table.
pub struct Checker {
    rules: Rules,
    max_errors: usize,
    tallies: Vec<FieldTally>,
    /// Rows breaking each rule bit (`2 * field + rule`).
    pub(crate) per_bit: [u64; 64],
    /// Rows breaking at least one rule.
    pub(crate) invalid: u64,
    /// Rows breaking none, per timestamp form (`Unit as usize`): those of a minority epoch
    /// form turn invalid once the most common form is known.
    pub(crate) clean_by_unit: [u64; UNITS],
    pub(crate) samples: Vec<(u32, ViolationSample)>,
    /// Samples of epoch timestamps per form, kept until the most common form is known.
    pub(crate) unit_samples: HashMap<u8, Vec<(u32, ViolationSample)>>,
    pub(crate) units: HashMap<u8, u64>,
    pub(crate) rows: u64,
    ord: u64,
    timestamp: Option<usize>,
}

impl Checker {
    pub fn new(rules: Rules, max_errors: usize) -> Checker {
        let tallies = rules.fields.iter().map(|_| FieldTally::new()).collect();
        let timestamp = rules.fields.iter().position(|f| f.kind == FieldKind::Timestamp && f.field == "timestamp");
        Checker {
            rules,
            max_errors,
            tallies,
            per_bit: [0; 64],
            invalid: 0,
            clean_by_unit: [0; UNITS],
            samples: Vec::new(),
            unit_samples: HashMap::new(),
            units: HashMap::new(),
            rows: 0,
            ord: 0,
            timestamp,
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Checks one batch of a file (`_row` then the source columns by name); answers the keyed
    /// rows for the duplicate stage, or `None` when the resource has no key.
    pub fn check(&mut self, batch: &RecordBatch, file: u32, path: &str) -> Result<Option<RecordBatch>, EngineError> {
        let n = batch.num_rows();
        let rows = batch
            .column_by_name(gateway_formats::ROW_COLUMN)
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>().cloned())
            .ok_or_else(|| EngineError::Internal("a batch without its row numbers".into()))?;
        // Each field's values as text.
        let texts: Vec<Option<StringArray>> = self
            .rules
            .fields
            .iter()
            .map(|f| batch.column_by_name(&f.column).map(|c| crate::read::as_text(c, &f.column)).transpose())
            .collect::<Result<_, _>>()?;
        let texts: Vec<Option<&StringArray>> = texts.iter().map(Option::as_ref).collect();
        let keyed = !self.rules.key.is_empty();
        let (mut k_key, mut k_ord, mut k_flags, mut k_unit, mut k_file, mut k_row) = (
            StringBuilder::new(),
            UInt64Builder::new(),
            UInt64Builder::new(),
            UInt8Builder::new(),
            UInt32Builder::new(),
            UInt64Builder::new(),
        );
        let mut key = String::new();
        for i in 0..n {
            let row = rows.value(i);
            self.ord += 1;
            let mut flags = 0u64;
            let mut unit = Unit::None;
            let mut key_ok = keyed;
            key.clear();
            let mut ts_nanos = None;
            for (fi, f) in self.rules.fields.iter().enumerate() {
                let value = texts.get(fi).copied().flatten().filter(|a| !a.is_null(i)).map(|a| a.value(i));
                let blank = value.is_none_or(|v| v.trim().is_empty());
                let Some(t) = self.tallies.get_mut(fi) else { continue };
                let in_key = self.rules.key.contains(&fi);
                if blank {
                    t.nulls += 1;
                    if f.required {
                        flags |= 1 << (2 * fi as u64 + MISSING);
                        if self.samples.len() < self.max_errors {
                            self.samples.push((file, sample("missing", &f.field, path, row, None)));
                        }
                    }
                    if in_key {
                        key_ok = false;
                    }
                    continue;
                }
                let v = value.unwrap_or_default();
                t.present += 1;
                t.distinct.add(v);
                let vt = v.trim();
                let as_int = vt.parse::<i64>().is_ok();
                let as_num = vt.parse::<f64>().ok().filter(|x| x.is_finite());
                t.all_int &= as_int;
                t.all_float &= as_num.is_some();
                let mut bad = false;
                let mut key_part: Option<String> = None;
                match f.kind {
                    FieldKind::Number => match as_num {
                        Some(x) => {
                            t.min_num = Some(t.min_num.map_or(x, |m| m.min(x)));
                            t.max_num = Some(t.max_num.map_or(x, |m| m.max(x)));
                        }
                        None => bad = true,
                    },
                    FieldKind::Timestamp => match parse_timestamp(vt) {
                        Some((nanos, u)) => {
                            t.min_ts = Some(t.min_ts.map_or(nanos, |m| m.min(nanos)));
                            t.max_ts = Some(t.max_ts.map_or(nanos, |m| m.max(nanos)));
                            if Some(fi) == self.timestamp {
                                unit = u;
                                ts_nanos = Some(nanos);
                            }
                            key_part = Some(nanos.to_string());
                        }
                        None => bad = true,
                    },
                    FieldKind::Id | FieldKind::Text => {
                        if t.min_text.as_deref().is_none_or(|m| v < m) {
                            t.min_text = Some(cut(v));
                        }
                        if t.max_text.as_deref().is_none_or(|m| v > m) {
                            t.max_text = Some(cut(v));
                        }
                    }
                }
                if bad {
                    flags |= 1 << (2 * fi as u64 + TYPE);
                    if self.samples.len() < self.max_errors {
                        self.samples.push((file, sample("type", &f.field, path, row, Some(v))));
                    }
                    if in_key {
                        key_ok = false;
                    }
                }
                if in_key && key_ok {
                    if !key.is_empty() {
                        key.push(KEY_SEP);
                    }
                    key.push_str(key_part.as_deref().unwrap_or(v));
                }
            }
            if ts_nanos.is_some() {
                *self.units.entry(unit as u8).or_default() += 1;
                if unit.is_epoch() {
                    let kept = self.unit_samples.entry(unit as u8).or_default();
                    if kept.len() < self.max_errors {
                        let ts = self.timestamp.and_then(|t| texts.get(t).copied().flatten()).map(|a| a.value(i));
                        kept.push((file, sample("type", "timestamp", path, row, ts)));
                    }
                }
            }
            if flags == 0 {
                count_unit(&mut self.clean_by_unit, unit as u8);
            } else {
                self.invalid += 1;
                for (bit, n) in self.per_bit.iter_mut().enumerate() {
                    *n += (flags >> bit) & 1;
                }
            }
            self.rows += 1;
            if key_ok {
                k_key.append_value(&key);
                k_ord.append_value(self.ord);
                k_flags.append_value(flags);
                k_unit.append_value(unit as u8);
                k_file.append_value(file);
                k_row.append_value(row);
            }
        }
        if !keyed {
            return Ok(None);
        }
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(k_key.finish()),
            Arc::new(k_ord.finish()),
            Arc::new(k_flags.finish()),
            Arc::new(k_unit.finish()),
            Arc::new(k_file.finish()),
            Arc::new(k_row.finish()),
        ];
        RecordBatch::try_new(keyed_schema(), arrays).map(Some).map_err(|e| EngineError::Internal(e.to_string()))
    }

    /// Each field's statistics.
    pub(crate) fn field_stats(&self) -> Vec<(String, FieldStats)> {
        self.rules
            .fields
            .iter()
            .zip(&self.tallies)
            .map(|(f, t)| {
                let ty = if t.present == 0 {
                    "string"
                } else if f.kind == FieldKind::Timestamp && t.min_ts.is_some() {
                    "timestamp"
                } else if t.all_int {
                    "integer"
                } else if t.all_float {
                    "float"
                } else {
                    "string"
                };
                let num = |x: Option<f64>| x.and_then(serde_json::Number::from_f64).map(Value::Number);
                let (min, max) = match f.kind {
                    FieldKind::Number => (num(t.min_num), num(t.max_num)),
                    FieldKind::Timestamp => (t.min_ts.map(|n| rfc3339(n).into()), t.max_ts.map(|n| rfc3339(n).into())),
                    _ => (t.min_text.clone().map(Value::from), t.max_text.clone().map(Value::from)),
                };
                let distinct = if t.present == 0 { 0 } else { t.distinct.count().clamp(1, t.present) };
                (
                    f.field.clone(),
                    FieldStats { column: f.column.clone(), ty: ty.into(), nulls: t.nulls, distinct, min, max },
                )
            })
            .collect()
    }

    /// The timestamp field's extremes.
    pub(crate) fn timestamp_range(&self) -> Option<(i128, i128)> {
        let t = self.tallies.get(self.timestamp?)?;
        Some((t.min_ts?, t.max_ts?))
    }

    pub(crate) fn timestamp_field(&self) -> Option<usize> {
        self.timestamp
    }
}

pub(crate) fn sample(rule: &str, field: &str, file: &str, row: u64, value: Option<&str>) -> ViolationSample {
    ViolationSample { rule: rule.into(), field: field.into(), file: file.into(), row, value: value.map(cut) }
}

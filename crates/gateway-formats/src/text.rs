//! Text formats: encoding, delimited-text dialects (delimiter, quote, escape, header, line
//! terminator) and JSON lines.

use gateway_domain::{Column, FileFormat, JsonObject};
use serde_json::Value;

use crate::values::{flatten, infer, is_bool, is_float, is_integer, is_timestamp};
use crate::{FormatError, SniffOptions};

/// Records read to detect a dialect and type columns (the sample shows fewer).
const SCAN_RECORDS: usize = 1000;
/// Text scanned to detect a delimiter.
const DIALECT_BYTES: usize = 64 * 1024;

pub struct TextSniff {
    pub format: FileFormat,
    pub options: JsonObject,
    pub columns: Vec<Column>,
    pub rows: Vec<JsonObject>,
    pub warnings: Vec<String>,
}

/// Whether bytes look binary (NULs, or many control characters).
pub fn looks_binary(bytes: &[u8]) -> bool {
    let head = bytes.get(..8192).unwrap_or(bytes);
    if head.contains(&0) {
        return true;
    }
    let control = head.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c)).count();
    control * 100 > head.len().max(1)
}

/// Checks and strips the encoding: UTF-8 with or without BOM. Returns the text, the
/// encoding's name and whether a BOM was there.
fn decode<'a>(bytes: &'a [u8], complete: bool, declared: Option<&str>) -> Result<(&'a str, &'static str), FormatError> {
    if let Some(enc) = declared {
        let e = enc.to_ascii_lowercase().replace('_', "-");
        if !matches!(e.as_str(), "utf-8" | "utf8" | "utf-8-sig") {
            return Err(FormatError::BadOption {
                option: "encoding",
                why: format!("'{enc}' is not supported: only UTF-8 is; re-encode the file as UTF-8"),
            });
        }
    }
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return Err(FormatError::Encoding("it starts with a UTF-16 byte-order mark".into()));
    }
    let (body, name) = match bytes.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        Some(rest) => (rest, "utf-8-sig"),
        None => (bytes, "utf-8"),
    };
    match std::str::from_utf8(body) {
        Ok(s) => Ok((s, name)),
        // A character cut by the end of the sample is not an encoding error.
        Err(e) if !complete && e.error_len().is_none() => {
            Ok((std::str::from_utf8(body.get(..e.valid_up_to()).unwrap_or_default()).unwrap_or_default(), name))
        }
        Err(e) => {
            let at = e.valid_up_to();
            Err(FormatError::Encoding(format!(
                "byte 0x{:02x} at offset {at} is not valid UTF-8 (Latin-1 or Windows-1252 text looks like this)",
                body.get(at).copied().unwrap_or(0)
            )))
        }
    }
}

/// Sniffs decompressed text. `complete` says whether it is the whole file's content.
pub fn sniff(
    bytes: &[u8],
    complete: bool,
    hint: Option<FileFormat>,
    opts: &SniffOptions,
) -> Result<TextSniff, FormatError> {
    if looks_binary(bytes) {
        return Err(match opts.format {
            Some(f) => FormatError::FormatMismatch { declared: f, found: "binary data".into() },
            None => FormatError::Unrecognized,
        });
    }
    let (text, encoding) = decode(bytes, complete, opts.encoding.as_deref())?;
    if text.trim().is_empty() {
        return Err(FormatError::Empty);
    }
    let first = text.trim_start().chars().next().unwrap_or(' ');
    let looks_json = first == '{';
    if first == '[' && !matches!(opts.format, Some(FileFormat::Csv | FileFormat::Tsv)) {
        return Err(FormatError::Json(
            "the file is one JSON array; JSON lines (one object per line) is expected".into(),
        ));
    }
    let format = match opts.format.or(hint) {
        Some(FileFormat::JsonLines) => {
            if !looks_json {
                if opts.format.is_some() {
                    return Err(FormatError::FormatMismatch {
                        declared: FileFormat::JsonLines,
                        found: "delimited text".into(),
                    });
                }
                FileFormat::Csv
            } else {
                FileFormat::JsonLines
            }
        }
        Some(f @ (FileFormat::Csv | FileFormat::Tsv)) => {
            if looks_json && first_line_is_json_object(text) {
                if opts.format.is_some() {
                    return Err(FormatError::FormatMismatch { declared: f, found: "JSON lines".into() });
                }
                FileFormat::JsonLines
            } else {
                f
            }
        }
        Some(f @ (FileFormat::Parquet | FileFormat::Avro)) => {
            return Err(FormatError::FormatMismatch { declared: f, found: "text".into() });
        }
        None if looks_json => FileFormat::JsonLines,
        None => FileFormat::Csv,
    };
    let mut out = match format {
        FileFormat::JsonLines => json_lines(text, complete, opts)?,
        _ => delimited(text, complete, format, opts)?,
    };
    out.options.insert("encoding".into(), encoding.into());
    if !complete {
        out.warnings.push(format!("the sample was cut at the {}-byte read budget", opts.budget));
    }
    Ok(out)
}

fn first_line_is_json_object(text: &str) -> bool {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| matches!(serde_json::from_str::<Value>(l.trim()), Ok(Value::Object(_))))
}

// ---- JSON lines

fn json_lines(text: &str, complete: bool, opts: &SniffOptions) -> Result<TextSniff, FormatError> {
    let mut lines: Vec<(usize, &str)> =
        text.split('\n').enumerate().map(|(i, l)| (i + 1, l.trim_end_matches('\r'))).collect();
    if !complete {
        lines.pop(); // the line cut by the budget
    }
    let mut objects: Vec<JsonObject> = Vec::new();
    let mut warnings = Vec::new();
    let mut bad = Vec::new();
    for (n, line) in lines.into_iter().filter(|(_, l)| !l.trim().is_empty()).take(SCAN_RECORDS) {
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(o)) => objects.push(flatten(o)),
            Ok(_) if objects.is_empty() && bad.is_empty() => {
                return Err(FormatError::Json(format!(
                    "line {n} is JSON but not an object: JSON lines hold one object per line"
                )));
            }
            Err(e) if objects.is_empty() && bad.is_empty() => {
                return Err(FormatError::Json(format!("line {n} is not valid JSON: {e}")));
            }
            _ => bad.push(n),
        }
    }
    if let Some(first) = bad.first() {
        warnings.push(format!("{} line(s) are not JSON objects and were skipped (first: line {first})", bad.len()));
    }
    if objects.is_empty() {
        return Err(FormatError::Empty);
    }
    let columns = crate::values::columns_of(&objects);
    let mut options = JsonObject::new();
    options.insert("compression".into(), "none".into());
    let _ = opts;
    Ok(TextSniff {
        format: FileFormat::JsonLines,
        options,
        columns,
        rows: objects.into_iter().take(opts.sample_rows).collect(),
        warnings,
    })
}

// ---- delimited text

const DELIMITERS: [char; 4] = [',', '\t', ';', '|'];

/// Delimiter counts outside quotes, per record, over the head of the text.
fn counts(text: &str, delimiter: char, quote: char, complete: bool) -> Vec<usize> {
    let head = dialect_head(text);
    let mut out = Vec::new();
    let (mut n, mut in_quote, mut any) = (0, false, false);
    for c in head.chars() {
        if c == quote {
            in_quote = !in_quote;
        } else if !in_quote && c == delimiter {
            n += 1;
        } else if !in_quote && c == '\n' {
            if any || n > 0 {
                out.push(n);
            }
            (n, any) = (0, false);
            if out.len() >= 50 {
                return out;
            }
            continue;
        }
        if !c.is_whitespace() {
            any = true;
        }
    }
    // The last record counts only when it is whole.
    if (any || n > 0) && complete && head.len() == text.len() {
        out.push(n);
    }
    out
}

/// The head of the text dialect detection looks at.
fn dialect_head(text: &str) -> &str {
    text.get(..floor_char_boundary(text, DIALECT_BYTES)).unwrap_or(text)
}

fn floor_char_boundary(s: &str, i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    (0..=i).rev().find(|&j| s.is_char_boundary(j)).unwrap_or(0)
}

fn detect_delimiter(text: &str, quote: char, complete: bool, format: FileFormat) -> char {
    let mut best: Option<(char, f64, usize)> = None;
    for d in DELIMITERS {
        let c = counts(text, d, quote, complete);
        if c.is_empty() {
            continue;
        }
        let mut freq = std::collections::HashMap::new();
        for &n in &c {
            *freq.entry(n).or_insert(0usize) += 1;
        }
        let (mode, hits) = freq.into_iter().filter(|(n, _)| *n > 0).max_by_key(|&(n, h)| (h, n)).unwrap_or((0, 0));
        if mode == 0 {
            continue;
        }
        let consistency = hits as f64 / c.len() as f64;
        let better = match best {
            None => true,
            Some((_, bc, bm)) => consistency > bc + 1e-9 || ((consistency - bc).abs() < 1e-9 && mode > bm),
        };
        if better {
            best = Some((d, consistency, mode));
        }
    }
    match best {
        Some((d, _, _)) => d,
        None if format == FileFormat::Tsv => '\t',
        None => ',',
    }
}

fn detect_quote(text: &str, delimiter: char) -> char {
    let head = dialect_head(text);
    if !head.contains('"') {
        let single = head.matches(&format!("{delimiter}'")).count() + head.matches(&format!("'{delimiter}")).count();
        if single >= 2 {
            return '\'';
        }
    }
    '"'
}

/// Backslash when the text escapes quotes with it, the quote itself when it doubles them
/// inside a quoted field, else backslash (what the platform's readers take by default).
fn detect_escape(text: &str, quote: char) -> char {
    let head: Vec<char> = dialect_head(text).chars().collect();
    let mut in_quote = false;
    let mut i = 0;
    while let Some(&c) = head.get(i) {
        if in_quote {
            if c == '\\' && head.get(i + 1) == Some(&quote) {
                return '\\';
            }
            if c == quote {
                if head.get(i + 1) == Some(&quote) {
                    return quote;
                }
                in_quote = false;
            }
        } else if c == quote {
            in_quote = true;
        }
        i += 1;
    }
    '\\'
}

fn looks_like_header(first: &[String], rest: &[Vec<String>]) -> bool {
    if first.iter().any(|f| f.trim().is_empty()) {
        return false;
    }
    let mut seen = std::collections::HashSet::new();
    if !first.iter().all(|f| seen.insert(f.trim())) {
        return false;
    }
    if first.iter().any(|f| is_integer(f) || is_float(f) || is_bool(f) || is_timestamp(f)) {
        return false;
    }
    if rest.is_empty() {
        return true;
    }
    // A column typed in the data but not in the first row: the first row names it.
    for i in 0..first.len() {
        let typed = rest
            .iter()
            .filter_map(|r| r.get(i))
            .filter(|v| !v.trim().is_empty())
            .all(|v| is_integer(v) || is_float(v) || is_bool(v) || is_timestamp(v));
        if typed && rest.iter().any(|r| r.get(i).is_some_and(|v| !v.trim().is_empty())) {
            return true;
        }
    }
    // All text: a header when none of its values recur below it and they are short names.
    first.iter().enumerate().all(|(i, f)| f.len() <= 64 && !rest.iter().any(|r| r.get(i) == Some(f)))
}

fn delimited(text: &str, complete: bool, format: FileFormat, opts: &SniffOptions) -> Result<TextSniff, FormatError> {
    let delimiter = match opts.delimiter {
        Some(d) => d,
        None if format == FileFormat::Tsv => '\t',
        None => {
            let provisional_quote = opts.quote.unwrap_or('"');
            detect_delimiter(text, provisional_quote, complete, format)
        }
    };
    let quote = opts.quote.unwrap_or_else(|| detect_quote(text, delimiter));
    let escape = opts.escape.unwrap_or_else(|| detect_escape(text, quote));
    for (option, c) in [("delimiter", delimiter), ("quote", quote), ("escape", escape)] {
        if !c.is_ascii() {
            return Err(FormatError::BadOption { option, why: format!("'{c}' is not a single-byte character") });
        }
    }
    let mut builder = csv::ReaderBuilder::new();
    builder
        .delimiter(delimiter as u8)
        .quote(quote as u8)
        .double_quote(true)
        .escape(if escape == quote { None } else { Some(escape as u8) })
        .has_headers(false)
        .flexible(true);
    let mut reader = builder.from_reader(text.as_bytes());
    let mut records: Vec<Vec<String>> = Vec::new();
    let mut reached_end = true;
    for rec in reader.records() {
        match rec {
            Ok(r) => {
                if r.len() == 1 && r.get(0).is_some_and(|f| f.trim().is_empty()) {
                    continue; // blank line
                }
                records.push(r.iter().map(str::to_owned).collect());
            }
            Err(e) => {
                return Err(FormatError::Truncated(format!("the delimited text cannot be parsed: {e}")));
            }
        }
        if records.len() > SCAN_RECORDS {
            reached_end = false;
            break;
        }
    }
    if !complete && reached_end {
        records.pop(); // the record cut by the budget
    }
    if records.is_empty() {
        return Err(FormatError::Empty);
    }
    let (first, rest) = records.split_first().ok_or(FormatError::Empty)?;
    let header = opts.header.unwrap_or_else(|| looks_like_header(first, rest));
    let names: Vec<String> = if header {
        let mut names = Vec::new();
        for (i, raw) in first.iter().enumerate() {
            let base = if raw.trim().is_empty() { format!("column_{}", i + 1) } else { raw.trim().to_owned() };
            let mut name = base.clone();
            let mut k = 2;
            while names.contains(&name) {
                name = format!("{base}_{k}");
                k += 1;
            }
            names.push(name);
        }
        names
    } else {
        let width = records.iter().map(Vec::len).max().unwrap_or(0);
        (1..=width).map(|i| format!("column_{i}")).collect()
    };
    let data: &[Vec<String>] = if header { rest } else { &records };
    if data.is_empty() {
        return Err(FormatError::HeaderOnly);
    }
    let mut warnings = Vec::new();
    let ragged: Vec<usize> = data.iter().enumerate().filter(|(_, r)| r.len() != names.len()).map(|(i, _)| i).collect();
    if let Some(first) = ragged.first() {
        warnings.push(format!(
            "{} row(s) have a different number of fields than the {} columns (first: data row {})",
            ragged.len(),
            names.len(),
            first + 1
        ));
    }
    let as_values: Vec<Vec<Value>> =
        data.iter().map(|r| r.iter().map(|f| Value::String(f.clone())).collect()).collect();
    let columns = names
        .iter()
        .enumerate()
        .map(|(i, n)| Column { name: n.clone(), ty: infer(as_values.iter().filter_map(|r| r.get(i))) })
        .collect();
    let rows = data
        .iter()
        .take(opts.sample_rows)
        .map(|r| {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), r.get(i).map_or(Value::Null, |v| Value::from(v.as_str()))))
                .collect()
        })
        .collect();
    let head = dialect_head(text);
    let mut options = JsonObject::new();
    options.insert("compression".into(), "none".into());
    options.insert("delimiter".into(), delimiter.to_string().into());
    options.insert("quote".into(), quote.to_string().into());
    options.insert("escape".into(), escape.to_string().into());
    options.insert("header".into(), header.into());
    options.insert("line_terminator".into(), if head.contains("\r\n") { "\r\n" } else { "\n" }.into());
    let format = if format == FileFormat::Csv && delimiter == '\t' { FileFormat::Tsv } else { format };
    Ok(TextSniff { format, options, columns, rows, warnings })
}

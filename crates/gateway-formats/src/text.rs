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

/// Whether bytes look binary (NULs, or many control characters; the whitespace ones, `\t`,
/// `\n`, `\v`, `\f` and `\r`, are text).
pub fn looks_binary(bytes: &[u8]) -> bool {
    let head = bytes.get(..8192).unwrap_or(bytes);
    if head.contains(&0) {
        return true;
    }
    let control = head.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0b | 0x0c)).count();
    control * 100 > head.len().max(1)
}

/// The text encoding an `options.encoding` names: UTF-8 (`utf-8`, `utf-8-sig`), a single-byte
/// encoding by its WHATWG label (`windows-1252`, `latin1`, `iso-8859-15`, `koi8-r`...) or
/// EUC-JP / EUC-KR, whose multi-byte characters are bytes of 0x80 and over only: a delimiter,
/// a quote, an escape and a line end stay bytes a whole read can split on before it decodes a
/// field. Shift_JIS, Big5 and GBK/GB18030 are refused: the second byte of their characters can
/// be `\`, `|` or another ASCII byte, which would split a character. `None` is UTF-8.
pub fn encoding_of(declared: &str) -> Result<Option<&'static encoding_rs::Encoding>, FormatError> {
    let e = declared.trim().to_ascii_lowercase().replace('_', "-");
    if matches!(e.as_str(), "utf-8" | "utf8" | "utf-8-sig") {
        return Ok(None);
    }
    // Python's spelling of the WHATWG labels (`latin-1`, `cp-1252`).
    let label = match e.as_str() {
        "latin-1" => "latin1".to_owned(),
        other => other.replace("cp-", "cp"),
    };
    let bad = |why: String| FormatError::BadOption { option: "encoding", why };
    match encoding_rs::Encoding::for_label(label.as_bytes()) {
        Some(enc) if enc == encoding_rs::UTF_8 => Ok(None),
        Some(enc) if enc.is_single_byte() || enc == encoding_rs::EUC_JP || enc == encoding_rs::EUC_KR => Ok(Some(enc)),
        Some(enc) if enc.is_ascii_compatible() && enc != encoding_rs::REPLACEMENT => Err(bad(format!(
            "'{declared}' ({}) is not supported: the second byte of its characters can be an ASCII delimiter, quote or escape; re-encode the file as UTF-8",
            enc.name()
        ))),
        Some(enc) => Err(bad(format!(
            "'{declared}' ({}) is not supported: its delimiters are not single bytes; re-encode the file as UTF-8",
            enc.name()
        ))),
        None => Err(bad(format!("'{declared}' is not an encoding name (utf-8, windows-1252, latin1, iso-8859-15...)"))),
    }
}

/// Checks, strips and decodes the encoding: the one declared, else UTF-8 with or without a
/// BOM, else (bytes that are not UTF-8) Windows-1252, warned, which every byte decodes in, as
/// spreadsheet exports on Windows write. Returns the text, the encoding's name (what a whole
/// read then follows) and a warning when it was guessed.
fn decode<'a>(
    bytes: &'a [u8],
    complete: bool,
    declared: Option<&str>,
) -> Result<(std::borrow::Cow<'a, str>, String, Option<String>), FormatError> {
    let declared = declared.map(|d| encoding_of(d).map(|e| (d, e))).transpose()?;
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return Err(FormatError::Encoding(
            "it starts with a UTF-16 byte-order mark (UTF-16 is not read: re-encode the file as UTF-8)".into(),
        ));
    }
    // A UTF-8 byte-order mark is no text of any encoding ("ï»¿" in Windows-1252).
    let (body, name) = match bytes.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        Some(rest) => (rest, "utf-8-sig"),
        None => (bytes, "utf-8"),
    };
    if let Some((_, Some(enc))) = declared {
        return Ok((enc.decode_without_bom_handling(body).0, enc.name().to_ascii_lowercase(), None));
    }
    match std::str::from_utf8(body) {
        Ok(s) => Ok((s.into(), name.to_owned(), None)),
        // A character cut by the end of the sample is not an encoding error.
        Err(e) if !complete && e.error_len().is_none() => Ok((
            std::str::from_utf8(body.get(..e.valid_up_to()).unwrap_or_default()).unwrap_or_default().into(),
            name.to_owned(),
            None,
        )),
        Err(e) => {
            let at = e.valid_up_to();
            let byte = body.get(at).copied().unwrap_or(0);
            if declared.is_some() {
                return Err(FormatError::Encoding(format!(
                    "byte 0x{byte:02x} at offset {at} is not valid UTF-8 (Latin-1 or Windows-1252 text looks like this): set options.encoding to the file's encoding"
                )));
            }
            let enc = encoding_rs::WINDOWS_1252;
            let warning = format!(
                "the file is not UTF-8 (byte 0x{byte:02x} at offset {at}): it is read as Windows-1252; if its accents look wrong, set options.encoding to the file's encoding"
            );
            Ok((enc.decode_without_bom_handling(body).0, "windows-1252".to_owned(), Some(warning)))
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
    let (text, encoding, guessed) = decode(bytes, complete, opts.encoding.as_deref())?;
    let text: &str = &text;
    if text.trim().is_empty() {
        return Err(FormatError::Empty);
    }
    let first = text.trim_start().chars().next().unwrap_or(' ');
    let looks_json = first == '{';
    // A `.csv` whose lines start with `[` (`[248.128.0.120]`) is text, not one JSON array.
    if first == '[' && !matches!(opts.format.or(hint), Some(FileFormat::Csv | FileFormat::Tsv)) {
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
    out.warnings.extend(guessed);
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
//
// The dialect is the candidate (delimiter x quote) under which the head of the text is most
// consistent, scored as CleverCSV does (van den Burg, Nazábal and Sutton, "Wrangling messy CSV
// files by detecting row and type patterns", 2019): a pattern score (rows of one width, wide
// rows) times a type score (the share of cells that read as a known type). A stray quote then
// loses to reading without quotes instead of swallowing the file; an apostrophe that starts a
// value loses to the double quote; real single-quote quoting wins where it is consistent.

const DELIMITERS: [char; 4] = [',', '\t', ';', '|'];
/// The quotes tried, in the order ties are broken: `"`, `'`, none.
const QUOTES: [Option<char>; 3] = [Some('"'), Some('\''), None];
/// Records of the head each candidate is scored on.
const SCORE_RECORDS: usize = 200;
/// Leading lines a preamble may take at most.
const MAX_PREAMBLE: usize = 20;

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

#[derive(Debug, Clone, Copy, PartialEq)]
struct Dialect {
    delimiter: char,
    quote: Option<char>,
    /// What escapes a quote inside a quoted field: `\`, or the quote itself (doubled);
    /// `None` when the text shows neither (read with `\`, as the platform's readers do).
    escape: Option<char>,
    comment: Option<char>,
}

/// A csv reader of a dialect (ASCII characters: the caller checks): records flexible in
/// width, no header row (the caller decides), `\\` escaping quotes unless told otherwise.
/// A sniff and a whole read (`crate::whole`) read by the same rules.
pub(crate) fn csv_builder(
    delimiter: char,
    quote: Option<char>,
    escape: Option<char>,
    comment: Option<char>,
) -> csv::ReaderBuilder {
    let mut b = csv::ReaderBuilder::new();
    b.delimiter(delimiter as u8).has_headers(false).flexible(true);
    match quote {
        Some(q) => {
            let escape = match escape {
                Some(e) if e == q => None,
                Some(e) => Some(e as u8),
                None => Some(b'\\'),
            };
            b.quote(q as u8).double_quote(true).escape(escape);
        }
        None => {
            b.quoting(false);
        }
    }
    b.comment(comment.map(|c| c as u8));
    b
}

impl Dialect {
    fn reader<'a>(&self, text: &'a str) -> csv::Reader<&'a [u8]> {
        csv_builder(self.delimiter, self.quote, self.escape, self.comment).from_reader(text.as_bytes())
    }

    /// Up to `max` records with the byte offset each starts at (blank lines left out); the
    /// last record dropped when the text is cut (it may be cut too).
    fn records(&self, text: &str, max: usize, cut: bool) -> Result<Vec<(u64, Vec<String>)>, csv::Error> {
        let mut out = Vec::new();
        let mut reader = self.reader(text);
        let mut whole = true;
        for rec in reader.records() {
            let r = rec?;
            if r.len() == 1 && r.get(0).is_some_and(|f| f.trim().is_empty()) {
                continue;
            }
            let at = r.position().map_or(0, csv::Position::byte);
            out.push((at, r.iter().map(str::to_owned).collect()));
            if out.len() > max {
                whole = false;
                break;
            }
        }
        if cut && whole {
            out.pop();
        }
        Ok(out)
    }
}

/// Whether a cell reads as a known type: empty, a number (a decimal comma too), a boolean, a
/// date or time, or a plain word or phrase (letters, digits, spaces and common punctuation,
/// no delimiter or quote).
fn known(cell: &str) -> bool {
    let c = cell.trim();
    if c.is_empty() || is_integer(c) || is_float(c) || is_bool(c) || is_timestamp(c) {
        return true;
    }
    if let Some((a, b)) = c.split_once(',')
        && is_integer(a)
        && !b.is_empty()
        && b.bytes().all(|d| d.is_ascii_digit())
    {
        return true;
    }
    c.chars().all(|ch| ch.is_alphanumeric() || ch == ' ' || "-_./:@+()&!?%$#*~=<>[]{}".contains(ch))
}

/// CleverCSV's data consistency: the pattern score (1/K) sum_k N_k max(a, (L_k - 1) / L_k)
/// over the K distinct row widths L_k held by N_k rows, times the share of known cells.
fn consistency(records: &[(u64, Vec<String>)]) -> f64 {
    if records.is_empty() {
        return 0.0;
    }
    let mut widths: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    let (mut cells, mut typed) = (0usize, 0usize);
    for (_, r) in records {
        *widths.entry(r.len()).or_default() += 1;
        cells += r.len();
        typed += r.iter().filter(|c| known(c)).count();
    }
    let pattern: f64 =
        widths.iter().map(|(&l, &n)| n as f64 * ((l as f64 - 1.0) / l.max(1) as f64).max(1e-3)).sum::<f64>()
            / widths.len() as f64;
    let types = if cells == 0 { 0.0 } else { typed as f64 / cells as f64 };
    pattern * types.max(1e-3)
}

/// Backslash when the text escapes quotes with it, the quote itself when it doubles them
/// inside a quoted field, else `None`.
fn detect_escape(head: &str, quote: char) -> Option<char> {
    let chars: Vec<char> = head.chars().collect();
    let mut in_quote = false;
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if in_quote {
            if c == '\\' && chars.get(i + 1) == Some(&quote) {
                return Some('\\');
            }
            if c == quote {
                if chars.get(i + 1) == Some(&quote) {
                    return Some(quote);
                }
                in_quote = false;
            }
        } else if c == quote {
            in_quote = true;
        }
        i += 1;
    }
    None
}

/// `#` when comment lines begin the text or interrupt it: a line starting with `#` that is
/// not as wide as the table's rows (a header written `#id,name` is a header).
fn detect_comment(head: &str, delimiter_guess: char) -> Option<char> {
    let lines: Vec<&str> = head.lines().filter(|l| !l.trim().is_empty()).take(SCORE_RECORDS).collect();
    let hashed: Vec<&&str> = lines.iter().filter(|l| l.starts_with('#')).collect();
    if hashed.is_empty() {
        return None;
    }
    let width = |l: &str| l.matches(delimiter_guess).count();
    let plain: Vec<usize> = lines.iter().filter(|l| !l.starts_with('#')).map(|l| width(l)).collect();
    let usual = mode(&plain).unwrap_or(0);
    hashed.iter().any(|l| width(l) != usual).then_some('#')
}

fn mode(values: &[usize]) -> Option<usize> {
    let mut freq: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for &v in values {
        *freq.entry(v).or_default() += 1;
    }
    freq.into_iter().max_by_key(|&(v, n)| (n, v)).map(|(v, _)| v)
}

/// The candidate under which the head is most consistent; ties go to the earlier delimiter
/// (the name's, then `,` `\t` `;` `|`) and quote (`"`, `'`, none).
fn detect_dialect(text: &str, cut: bool, format: FileFormat, opts: &SniffOptions) -> Dialect {
    let head = dialect_head(text);
    let cut = cut || head.len() < text.len();
    let mut delimiters: Vec<char> = match opts.delimiter {
        Some(d) => vec![d],
        None => DELIMITERS.to_vec(),
    };
    if format == FileFormat::Tsv && opts.delimiter.is_none() {
        delimiters.sort_by_key(|&d| d != '\t');
    }
    let quotes: Vec<Option<char>> = match opts.quote {
        Some(q) => vec![q],
        None => QUOTES.to_vec(),
    };
    let mut best: Option<(Dialect, f64)> = None;
    for &delimiter in &delimiters {
        let comment = match opts.comment {
            Some(c) => c,
            None => detect_comment(head, delimiter),
        };
        for &quote in &quotes {
            // A quote the head never holds reads as no quote: only `"` stands for them all.
            if opts.quote.is_none() && quote.is_some_and(|q| q != '"' && !head.contains(q)) {
                continue;
            }
            let escape = opts.escape.or_else(|| quote.and_then(|q| detect_escape(head, q)));
            let d = Dialect { delimiter, quote, escape, comment };
            let Ok(records) = d.records(head, SCORE_RECORDS, cut) else { continue };
            let score = consistency(&records);
            if best.is_none_or(|(_, b)| score > b + 1e-9) {
                best = Some((d, score));
            }
        }
    }
    best.map(|(d, _)| d).unwrap_or(Dialect {
        delimiter: delimiters.first().copied().unwrap_or(','),
        quote: quotes.first().copied().flatten(),
        escape: None,
        comment: None,
    })
}

/// Lines before the table: leading records narrower than the table's usual width (a title,
/// "Exported ... by tool"). Answers the number of lines of `text` to skip.
fn detect_preamble(text: &str, records: &[(u64, Vec<String>)]) -> usize {
    let widths: Vec<usize> = records.iter().map(|(_, r)| r.len()).collect();
    let Some(usual) = mode(&widths) else { return 0 };
    if usual < 2 {
        return 0;
    }
    let Some(start) = records.iter().position(|(_, r)| r.len() == usual) else { return 0 };
    // Preamble lines are much narrower than the table (a title, a note): a header one field
    // short of its rows (R's write.table) is the header.
    if start == 0 || start > MAX_PREAMBLE || records.iter().take(start).any(|(_, r)| r.len() * 2 > usual) {
        return 0;
    }
    // What follows must be the table: most of it at the usual width.
    let rest = widths.get(start..).unwrap_or_default();
    if rest.iter().filter(|&&w| w == usual).count() * 10 < rest.len() * 9 {
        return 0;
    }
    // A record's position is where the reader stood: before the blank lines it skipped.
    let at = records.get(start).map_or(0, |(at, _)| usize::try_from(*at).unwrap_or(0));
    let blank = text.get(at..).map_or(0, |t| t.len() - t.trim_start_matches(['\r', '\n']).len());
    text.get(..at + blank).map_or(0, |before| before.matches('\n').count())
}

/// The text after its first `n` lines.
fn skip_lines(text: &str, n: usize) -> &str {
    let mut rest = text;
    for _ in 0..n {
        match rest.find('\n') {
            Some(i) => rest = rest.get(i + 1..).unwrap_or(""),
            None => return "",
        }
    }
    rest
}

/// Where the first quote that never closes is, as "line L, column C" (1-based).
fn unclosed_quote(head: &str, quote: char) -> Option<String> {
    let (mut line, mut col, mut open) = (1usize, 0usize, None);
    for c in head.chars() {
        col += 1;
        if c == quote {
            open = match open {
                None => Some((line, col)),
                Some(_) => None,
            };
        }
        if c == '\n' {
            line += 1;
            col = 0;
        }
    }
    open.map(|(l, c)| format!("line {l}, column {c}"))
}

fn looks_like_header(first: &[String], rest: &[Vec<String>]) -> bool {
    if first.iter().any(|f| is_integer(f) || is_float(f) || is_bool(f) || is_timestamp(f)) {
        return false;
    }
    if first.iter().all(|f| f.trim().is_empty()) {
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
    // All text. Values of one shape (`[248.128.0.120]`, `SKU-0042`) with a first row of the
    // same shape, in every column: no header.
    let regular_shape = |i: usize| {
        let shapes: Vec<String> =
            rest.iter().filter_map(|r| r.get(i)).filter(|v| !v.trim().is_empty()).map(|v| shape(v)).collect();
        let mut freq: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for s in &shapes {
            *freq.entry(s.as_str()).or_default() += 1;
        }
        freq.into_iter().max_by_key(|&(_, n)| n).filter(|&(_, n)| n * 2 >= shapes.len()).map(|(s, _)| s.to_owned())
    };
    let same_shapes: Vec<Option<String>> =
        first.iter().enumerate().map(|(i, f)| regular_shape(i).filter(|s| *s == shape(f))).collect();
    if same_shapes.iter().all(Option::is_some) && same_shapes.iter().flatten().any(|s| s.contains('9')) {
        return false;
    }
    // Otherwise a header when its names are short and none recurs below it as a value of its
    // column does: twice or more (a language-codes header's `English` is also the name of one
    // language, once), or at all in a sample too short to tell.
    let recurs = |i: usize, f: &String| {
        let n = rest.iter().filter(|r| r.get(i) == Some(f)).count();
        n >= 2 || (n == 1 && rest.len() < 10)
    };
    first.iter().enumerate().all(|(i, f)| f.len() <= 64 && (f.trim().is_empty() || !recurs(i, f)))
}

/// A value's shape: letters as `A`/`a`, digits as `9`, runs of one class collapsed, other
/// characters kept (`[248.128.0.120]` -> `[9.9.9.9]`).
fn shape(v: &str) -> String {
    let mut out = String::new();
    for c in v.trim().chars().take(64) {
        let class = if c.is_ascii_digit() {
            '9'
        } else if c.is_uppercase() {
            'A'
        } else if c.is_alphabetic() {
            'a'
        } else {
            c
        };
        if !(out.ends_with(class) && matches!(class, '9' | 'A' | 'a')) {
            out.push(class);
        }
    }
    out
}

/// Column names from a header row: blank ones named by position, repeated ones numbered,
/// each change warned.
fn header_names(first: &[String], warnings: &mut Vec<String>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let (mut blank, mut repeated) = (Vec::new(), Vec::new());
    for (i, raw) in first.iter().enumerate() {
        let base = if raw.trim().is_empty() {
            blank.push((i + 1).to_string());
            format!("column_{}", i + 1)
        } else {
            raw.trim().to_owned()
        };
        let mut name = base.clone();
        let mut k = 2;
        while names.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        if name != base {
            repeated.push(format!("'{base}' as '{name}'"));
        }
        names.push(name);
    }
    if !blank.is_empty() {
        warnings
            .push(format!("the header names no column at position(s) {}: named column_<position>", blank.join(", ")));
    }
    if !repeated.is_empty() {
        warnings.push(format!("the header repeats column names: read {}", repeated.join(", ")));
    }
    names
}

fn delimited(text: &str, complete: bool, format: FileFormat, opts: &SniffOptions) -> Result<TextSniff, FormatError> {
    let mut warnings = Vec::new();
    let declared_tsv = opts.format == Some(FileFormat::Tsv);
    let mut opts = opts.clone();
    if declared_tsv && opts.delimiter.is_none() {
        opts.delimiter = Some('\t');
    }
    let given_skip = opts.skip_rows;
    let text = skip_lines(text, given_skip.unwrap_or(0));
    let dialect = detect_dialect(text, !complete, format, &opts);
    for (option, c) in [("delimiter", Some(dialect.delimiter)), ("quote", dialect.quote), ("escape", dialect.escape)] {
        if let Some(c) = c.filter(|c| !c.is_ascii()) {
            return Err(FormatError::BadOption { option, why: format!("'{c}' is not a single-byte character") });
        }
    }
    if dialect.comment.is_some_and(|c| !c.is_ascii()) {
        return Err(FormatError::BadOption { option: "comment", why: "it is not a single-byte character".into() });
    }
    let parse_error = |e: csv::Error| FormatError::Truncated(format!("the delimited text cannot be parsed: {e}"));
    // A preamble (a title, an export note) before the table: skipped and answered.
    let skip = match given_skip {
        Some(_) => 0,
        None => detect_preamble(text, &dialect.records(dialect_head(text), SCORE_RECORDS, true).map_err(parse_error)?),
    };
    let table = skip_lines(text, skip);
    let records: Vec<Vec<String>> =
        dialect.records(table, SCAN_RECORDS, !complete).map_err(parse_error)?.into_iter().map(|(_, r)| r).collect();
    if records.is_empty() && !complete && !table.trim().is_empty() {
        return Err(FormatError::RowTooLong(opts.budget));
    }
    if records.is_empty() {
        return Err(FormatError::Empty);
    }
    if skip > 0 {
        warnings.push(format!(
            "the first {skip} line(s) are not part of the table (a title or a note) and are skipped (options.skip_rows)"
        ));
    }
    if dialect.quote.is_none()
        && opts.quote.is_none()
        && let Some(at) = unclosed_quote(dialect_head(table), '"')
    {
        warnings.push(format!("a quote at {at} never closes: the file is read without quoting (options.quote \"\")"));
    }
    let (first, rest) = records.split_first().ok_or(FormatError::Empty)?;
    let header = opts.header.unwrap_or_else(|| looks_like_header(first, rest));
    let names: Vec<String> = if header {
        header_names(first, &mut warnings)
    } else {
        let width = records.iter().map(Vec::len).max().unwrap_or(0);
        (1..=width).map(|i| format!("column_{i}")).collect()
    };
    let data: &[Vec<String>] = if header { rest } else { &records };
    if data.is_empty() {
        if !complete {
            return Err(FormatError::RowTooLong(opts.budget));
        }
        warnings.push("no data rows: the file holds its header only".into());
    }
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
    let head = dialect_head(table);
    let mut options = JsonObject::new();
    let char_or_none = |c: Option<char>| c.map_or(String::new(), |c| c.to_string());
    options.insert("compression".into(), "none".into());
    options.insert("delimiter".into(), dialect.delimiter.to_string().into());
    options.insert("quote".into(), char_or_none(dialect.quote).into());
    options.insert("escape".into(), dialect.escape.unwrap_or('\\').to_string().into());
    options.insert("header".into(), header.into());
    options.insert("line_terminator".into(), if head.contains("\r\n") { "\r\n" } else { "\n" }.into());
    let skipped = given_skip.unwrap_or(0) + skip;
    if skipped > 0 {
        options.insert("skip_rows".into(), skipped.into());
    }
    if let Some(c) = dialect.comment {
        options.insert("comment".into(), c.to_string().into());
    }
    // The content decides between CSV and TSV, whatever the name says.
    let format = match opts.format {
        Some(FileFormat::Tsv) => FileFormat::Tsv,
        _ if dialect.delimiter == '\t' => FileFormat::Tsv,
        _ => FileFormat::Csv,
    };
    Ok(TextSniff { format, options, columns, rows, warnings })
}

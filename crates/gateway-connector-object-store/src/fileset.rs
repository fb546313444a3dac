//! Tables that are sets of files: `connection_table_params.path` ending with `/` (every
//! object under the prefix) or holding a glob (`*` and `?` within a segment, `**` across,
//! `[...]`, `{a,b}`), e.g. `exports/ratings/dt=*/part-*.parquet`. Markers and hidden objects
//! (a segment starting with `_` or `.`: `_SUCCESS`, `.gateway-write-probe-*`) are skipped.
//! Listing is paged by the store and bounded ([`MAX_FILES`]); the sample comes from the newest
//! file; Hive `key=value` segments become columns.

use futures_util::TryStreamExt;
use gateway_connector::{ConnectorError, ErrorKind};
use gateway_domain::{Column, ColumnType, FileSet, FileStamp, JsonObject};
use opendal::Operator;
use serde_json::Value;

/// The most files a set may match (past it, a refusal naming the bound).
pub const MAX_FILES: usize = 100_000;
/// The most keys listed under a set's prefix, matching or not (a wide prefix with a narrow
/// glob is refused rather than listed for minutes).
pub const MAX_SCANNED: usize = 10 * MAX_FILES;

fn too_wide(p: &Pattern) -> ConnectorError {
    ConnectorError::new(
        ErrorKind::WrongSpecification,
        format!(
            "listing '{}' went past {MAX_SCANNED} objects under '{}': put more of the path before the first wildcard",
            p.raw, p.prefix
        ),
    )
}

/// A path that names a set, compiled.
#[derive(Debug)]
pub struct Pattern {
    pub raw: String,
    /// Listed under: the path up to its first glob character, cut at the last `/`.
    pub prefix: String,
    /// `None`: everything under the prefix.
    matcher: Option<globset::GlobMatcher>,
    /// Bytes of a path left out where it is shown: none for a bucket's objects (their keys
    /// are the customer's), the prefix for LOCAL sets (the gateway's own storage layout).
    shown_from: usize,
}

/// Whether a path names a set rather than one object.
pub fn is_set(path: &str) -> bool {
    path.is_empty() || path.ends_with('/') || path.contains(['*', '?', '[', '{'])
}

impl Pattern {
    /// The set a table's params name: only an explicit `connection_table_params.path` can be
    /// a pattern (a table's name, the default path, always names one object: `items[1].csv`).
    pub fn of(params: &gateway_formats::FileParams, path: &str) -> Result<Option<Pattern>, ConnectorError> {
        if params.path.as_deref().is_none_or(str::is_empty) {
            return Ok(None);
        }
        Pattern::parse(path)
    }

    /// `None` for a path naming one object.
    pub fn parse(path: &str) -> Result<Option<Pattern>, ConnectorError> {
        if !is_set(path) {
            return Ok(None);
        }
        let literal = path.find(['*', '?', '[', '{']).map_or(path, |i| path.get(..i).unwrap_or(path));
        let prefix = literal.rfind('/').map_or(String::new(), |i| literal.get(..=i).unwrap_or("").to_owned());
        let matcher = if path.ends_with('/') || path.is_empty() {
            None
        } else {
            let glob = globset::GlobBuilder::new(path).literal_separator(true).build().map_err(|e| {
                ConnectorError::new(
                    ErrorKind::WrongSpecification,
                    format!("connection_table_params.path '{path}' is not a valid pattern: {}", e.kind()),
                )
            })?;
            Some(glob.compile_matcher())
        };
        Ok(Some(Pattern { raw: path.to_owned(), prefix, matcher, shown_from: 0 }))
    }

    /// Every file under `prefix` (a folder of the gateway's own storage), shown by its path
    /// below it; `raw` is what messages call the set.
    pub fn folder(prefix: String, raw: String) -> Pattern {
        let shown_from = prefix.len();
        Pattern { raw, prefix, matcher: None, shown_from }
    }

    /// A listed path as answers and messages show it.
    pub fn show<'a>(&self, path: &'a str) -> &'a str {
        path.get(self.shown_from..).unwrap_or(path)
    }

    fn matches(&self, path: &str) -> bool {
        self.matcher.as_ref().is_none_or(|m| m.is_match(path))
    }
}

/// One file of a set.
#[derive(Debug, Clone)]
pub struct Listed {
    pub path: String,
    pub size: u64,
    pub modified: i64,
}

/// A marker or a hidden object: a segment below the prefix starting with `_` or `.`.
fn hidden(relative: &str) -> bool {
    relative.split('/').any(|s| s.starts_with('_') || s.starts_with('.'))
}

/// Whether a listed path belongs to the set: a file, not hidden below the prefix, matching.
fn admit(p: &Pattern, path: &str) -> bool {
    !path.ends_with('/') && !hidden(path.get(p.prefix.len()..).unwrap_or(path)) && p.matches(path)
}

fn too_many(p: &Pattern, max: usize) -> ConnectorError {
    ConnectorError::new(
        ErrorKind::WrongSpecification,
        format!(
            "'{}' matches more than {max} files, the most a file-set table may hold (GATEWAY_FILESET_MAX_FILES): narrow the pattern, or ask the operator to raise it",
            p.raw
        ),
    )
}

/// The files the pattern matches, from a store listed page by page (`page` answers a page of
/// files under the prefix and the token of the next), bounded by `max` files and pages.
pub async fn list_paged<F, Fut>(p: &Pattern, max: usize, mut page: F) -> Result<Vec<Listed>, ConnectorError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<Listed>, Option<String>), ConnectorError>>,
{
    let mut out = Vec::new();
    let mut token = None;
    let mut scanned = 0usize;
    // S3 pages hold up to 1000 keys: a store answering short or empty pages forever is cut.
    for _ in 0..=MAX_SCANNED / 1000 {
        let (files, next) = page(token.take()).await?;
        scanned = scanned.saturating_add(files.len());
        if scanned > MAX_SCANNED {
            return Err(too_wide(p));
        }
        for f in files.into_iter().filter(|f| admit(p, &f.path)) {
            if out.len() == max {
                return Err(too_many(p, max));
            }
            out.push(f);
        }
        match next {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(out),
        }
    }
    Err(too_wide(p))
}

/// One page of an S3 ListObjectsV2 answer: its objects and the next continuation token
/// (when `IsTruncated`). Bounded text scanning, no XML library: keys are unescaped. A page
/// that says it is truncated without a token to go on is an error: the set would look
/// smaller than it is.
pub fn parse_list_page(xml: &str) -> Result<(Vec<Listed>, Option<String>), ConnectorError> {
    let tag = crate::s3::xml_tag;
    let mut files = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<Contents>") {
        let after = rest.get(start..).unwrap_or("");
        let Some(end) = after.find("</Contents>") else { break };
        let block = after.get(..end).unwrap_or("");
        if let Some(key) = tag(block, "Key") {
            files.push(Listed {
                path: unescape(&key),
                size: tag(block, "Size").and_then(|s| s.parse().ok()).unwrap_or(0),
                modified: tag(block, "LastModified").and_then(|t| iso_seconds(&t)).unwrap_or(0),
            });
        }
        rest = after.get(end + "</Contents>".len()..).unwrap_or("");
    }
    let truncated = tag(xml, "IsTruncated").is_some_and(|t| t == "true");
    if !truncated {
        return Ok((files, None));
    }
    match tag(xml, "NextContinuationToken").map(|t| unescape(&t)).filter(|t| !t.is_empty()) {
        Some(next) => Ok((files, Some(next))),
        None => Err(ConnectorError::new(
            ErrorKind::Unavailable,
            "the store answered a truncated listing (IsTruncated) without a NextContinuationToken: the set cannot be listed whole",
        )),
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// `2026-12-02T15:24:23.000Z` -> Unix seconds.
fn iso_seconds(t: &str) -> Option<i64> {
    let n = |r: std::ops::Range<usize>| t.get(r).and_then(|s| s.parse::<i64>().ok());
    let (y, m, d, h, mi, s) = (n(0..4)?, n(5..7)?, n(8..10)?, n(11..13)?, n(14..16)?, n(17..19)?);
    let days = gateway_domain::civil::days_from_civil(y, m, d)?;
    Some(days * 86_400 + h * 3600 + mi * 60 + s)
}

/// The files the pattern matches, bounded by `max`.
pub async fn list(
    op: &Operator,
    p: &Pattern,
    max: usize,
    classify: impl Fn(&opendal::Error) -> ConnectorError,
) -> Result<Vec<Listed>, ConnectorError> {
    let mut lister = op.lister_with(&p.prefix).recursive(true).await.map_err(|e| classify(&e))?;
    let mut out = Vec::new();
    let mut scanned = 0usize;
    while let Some(entry) = lister.try_next().await.map_err(|e| classify(&e))? {
        scanned += 1;
        if scanned > MAX_SCANNED {
            return Err(too_wide(p));
        }
        let path = entry.path().to_owned();
        if !admit(p, &path) {
            continue;
        }
        let meta = entry.metadata();
        let (size, modified) = match meta.last_modified() {
            Some(t) => (meta.content_length(), seconds(t)),
            // Stores that list names only (a folder): one stat each.
            None => {
                let m = op.stat(&path).await.map_err(|e| classify(&e))?;
                (m.content_length(), m.last_modified().map_or(0, seconds))
            }
        };
        if out.len() == max {
            return Err(too_many(p, max));
        }
        out.push(Listed { path, size, modified });
    }
    Ok(out)
}

fn seconds(t: opendal::raw::Timestamp) -> i64 {
    std::time::SystemTime::from(t)
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The newest file (latest modification, then the greatest path) and the set's summary.
pub fn summary(files: &[Listed], p: &Pattern) -> Option<(Listed, FileSet)> {
    let newest = files.iter().max_by(|a, b| (a.modified, &a.path).cmp(&(b.modified, &b.path)))?.clone();
    let oldest = files.iter().min_by(|a, b| (a.modified, &a.path).cmp(&(b.modified, &b.path)))?;
    let stamp = |f: &Listed| FileStamp { path: p.show(&f.path).to_owned(), modified_timestamp: f.modified };
    let partitions = partition_values(&newest.path, &p.prefix).into_iter().map(|(k, _)| k).collect();
    let set = FileSet {
        count: files.len() as u64,
        bytes: files.iter().map(|f| f.size).fold(0, u64::saturating_add),
        newest: stamp(&newest),
        oldest: stamp(oldest),
        partitions,
    };
    Some((newest, set))
}

/// The `key=value` directory segments of a path below the prefix.
fn partition_values(path: &str, prefix: &str) -> Vec<(String, String)> {
    let relative = path.get(prefix.len()..).unwrap_or(path);
    let dirs = relative.rsplit_once('/').map_or("", |(d, _)| d);
    dirs.split('/')
        .filter_map(|s| s.split_once('='))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Hive partitions as columns: each key of the newest file's path, an integer or a date when
/// every file's value reads so, else text; its value added to every sample row.
pub fn partition_columns(
    files: &[Listed],
    newest: &Listed,
    prefix: &str,
    columns: &mut Vec<Column>,
    rows: &mut [JsonObject],
) {
    for (key, value) in partition_values(&newest.path, prefix) {
        if columns.iter().any(|c| c.name == key) {
            continue;
        }
        let values: Vec<String> = files
            .iter()
            .filter_map(|f| partition_values(&f.path, prefix).into_iter().find(|(k, _)| *k == key).map(|(_, v)| v))
            .collect();
        let ty = if values.iter().all(|v| v.parse::<i64>().is_ok()) {
            ColumnType::Integer
        } else if values.iter().all(|v| is_date(v)) {
            ColumnType::Timestamp
        } else {
            ColumnType::String
        };
        let cell = match (ty, value.parse::<i64>()) {
            (ColumnType::Integer, Ok(n)) => Value::from(n),
            _ => Value::from(value.clone()),
        };
        for r in rows.iter_mut() {
            r.insert(key.clone(), cell.clone());
        }
        columns.push(Column { name: key, ty });
    }
}

fn is_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10 && b.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_prefixes_and_markers() {
        let p = Pattern::parse("exports/ratings/dt=*/part-*.parquet").unwrap().unwrap();
        assert_eq!(p.prefix, "exports/ratings/");
        assert!(p.matches("exports/ratings/dt=2026-11-30/part-00000.parquet"));
        assert!(!p.matches("exports/ratings/dt=2026-11-30/x/part-0.parquet"), "* stays within a segment");
        let deep = Pattern::parse("exports/**/*.csv.gz").unwrap().unwrap();
        assert!(deep.matches("exports/a/b/c.csv.gz"));
        assert!(Pattern::parse("exports/ratings.csv").unwrap().is_none());
        let all = Pattern::parse("exports/").unwrap().unwrap();
        assert!(all.matches("exports/anything/at/all"));
        assert!(hidden("dt=1/_SUCCESS") && hidden(".gateway-write-probe-1") && !hidden("dt=1/part-0.csv"));
        assert!(Pattern::parse("exports/[a-").is_err());
        // Only an explicit path is a pattern: a table named items[1].csv names one object.
        let by_name = gateway_formats::FileParams::default();
        assert!(Pattern::of(&by_name, "items[1].csv").unwrap().is_none());
        let given = gateway_formats::FileParams { path: Some("e/*.csv".into()), ..Default::default() };
        assert!(Pattern::of(&given, "e/*.csv").unwrap().is_some());
        let xml = "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a/b&amp;c.csv</Key><LastModified>2026-12-02T15:24:23.000Z</LastModified><Size>42</Size></Contents><NextContinuationToken>t1</NextContinuationToken></ListBucketResult>";
        let (files, next) = parse_list_page(xml).unwrap();
        assert_eq!((files[0].path.as_str(), files[0].size, files[0].modified), ("a/b&c.csv", 42, 1_796_225_063));
        assert_eq!(next.as_deref(), Some("t1"));
        assert_eq!(parse_list_page("<Contents><Key>x").unwrap().0.len(), 0, "cut text is no object");
        // Truncated without a token to go on: not the end of the set, an error.
        let broken = xml.replace("<NextContinuationToken>t1</NextContinuationToken>", "");
        let e = parse_list_page(&broken).unwrap_err();
        assert!(e.message.contains("without a NextContinuationToken"), "{}", e.message);
        assert!(parse_list_page("<IsTruncated>false</IsTruncated>").unwrap().1.is_none());
        assert_eq!(
            partition_values("e/dt=2026-11-30/h=7/p.csv", "e/"),
            [("dt".into(), "2026-11-30".into()), ("h".into(), "7".into())]
        );
    }
}

//! A file table's `connection_table_params`, typed: the one struct the object-store
//! connectors parse a table into and the sniffer takes. Field rules are `validator` rules;
//! their failures are reported as dotted paths by the connector
//! (`gateway_connector::validation_problem`).

use gateway_domain::{Compression, FileFormat, JsonObject};
use serde::Deserialize;
use validator::{Validate, ValidationError};

use crate::SniffOptions;

/// `connection_table_params` of a file in a bucket (S3, GCS) or an upload (LOCAL).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct FileParams {
    /// A readable format for a source (`FileFormat`, any case); a destination's is what the
    /// platform writes (the contract's report example is `dat`), any name.
    #[validate(length(min = 1, max = 32, message = "must be a format name such as CSV"))]
    pub file_format: Option<String>,
    /// Checked against the provider's bucket rules by its connector.
    #[validate(length(min = 1, max = 255, message = "must be a bucket name"))]
    pub bucket: Option<String>,
    /// The object's key; the table's name when absent.
    #[validate(length(min = 1, max = 1024, message = "must be an object key of at most 1024 bytes"))]
    pub path: Option<String>,
    /// LOCAL's upload URL, written by the gateway.
    pub url: Option<String>,
    /// A recorded test whose newest file is older than this many hours warns, and tells
    /// webhooks once (`table.stale`, then `table.fresh`).
    #[validate(range(min = 1, max = 8760, message = "must be a number of hours from 1 to 8760"))]
    pub freshness_hours: Option<u32>,
    #[serde(default)]
    #[validate(nested)]
    pub options: FileOptions,
}

/// `connection_table_params.options`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct FileOptions {
    #[validate(custom(function = "valid_compression", message = "must be one of: auto, none, gzip, zip, zstd, bz2"))]
    pub compression: Option<String>,
    #[validate(length(equal = 1, message = "must be a single character"))]
    pub delimiter: Option<String>,
    /// `""`: fields are never quoted.
    #[validate(length(max = 1, message = "must be a single character, or \"\" for none"))]
    pub quote: Option<String>,
    #[validate(length(equal = 1, message = "must be a single character"))]
    pub escape: Option<String>,
    pub header: Option<bool>,
    #[validate(length(min = 1, max = 40, message = "must be an encoding name such as utf-8"))]
    pub encoding: Option<String>,
    /// What a preview detects; kept so its answer can be saved as is.
    #[validate(custom(function = "valid_line_terminator", message = "must be \"\\n\" or \"\\r\\n\""))]
    pub line_terminator: Option<String>,
    /// Lines before the table (a title, an export note), skipped.
    #[validate(range(max = 1000, message = "must be at most 1000 lines"))]
    pub skip_rows: Option<u64>,
    /// Lines starting with it are comments; `""`: none.
    #[validate(length(max = 1, message = "must be a single character, or \"\" for none"))]
    pub comment: Option<String>,
}

fn valid_compression(v: &str) -> Result<(), ValidationError> {
    v.to_ascii_lowercase().parse::<Compression>().map(|_| ()).map_err(|_| ValidationError::new("compression"))
}

fn valid_line_terminator(v: &str) -> Result<(), ValidationError> {
    matches!(v, "\n" | "\r\n").then_some(()).ok_or_else(|| ValidationError::new("line_terminator"))
}

fn one_char(v: &Option<String>) -> Option<char> {
    v.as_deref().and_then(|s| s.chars().next())
}

/// A character option where `""` means none.
fn char_or_none(v: &Option<String>) -> Option<Option<char>> {
    v.as_deref().map(|s| s.chars().next())
}

/// Why file params could not be parsed: the dotted field under `connection_table_params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamsError {
    pub field: String,
    pub message: String,
}

impl FileParams {
    /// Parses `connection_table_params` (`null` values count as absent). Shape errors (an
    /// unknown key, a wrong type) are reported here; field rules by [`Validate::validate`].
    pub fn parse(params: &JsonObject) -> Result<FileParams, ParamsError> {
        let mut clean = params.clone();
        clean.retain(|_, v| !v.is_null());
        if let Some(serde_json::Value::Object(o)) = clean.get_mut("options") {
            o.retain(|_, v| !v.is_null());
        }
        serde_json::from_value(serde_json::Value::Object(clean)).map_err(|e| ParamsError {
            field: "connection_table_params".into(),
            message: format!("connection_table_params do not describe a file: {e}"),
        })
    }

    /// The readable format named, if any.
    pub fn format(&self) -> Result<Option<FileFormat>, ParamsError> {
        self.file_format
            .as_deref()
            .map(|f| {
                FileFormat::parse_loose(f).map_err(|e| ParamsError {
                    field: "connection_table_params.file_format".into(),
                    message: format!(
                        "'{f}' is not a file format the gateway can read; allowed: {} (any case)",
                        e.allowed.join(", ")
                    ),
                })
            })
            .transpose()
    }

    /// What the sniffer is told: everything the caller gave is used instead of detected.
    pub fn sniff_options(&self) -> Result<SniffOptions, ParamsError> {
        let o = &self.options;
        Ok(SniffOptions {
            format: self.format()?,
            compression: o.compression.as_deref().and_then(|c| c.to_ascii_lowercase().parse().ok()),
            delimiter: one_char(&o.delimiter),
            quote: char_or_none(&o.quote),
            escape: one_char(&o.escape),
            header: o.header,
            skip_rows: o.skip_rows.and_then(|n| usize::try_from(n).ok()),
            comment: char_or_none(&o.comment),
            encoding: o.encoding.clone(),
            ..SniffOptions::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn params(v: serde_json::Value) -> JsonObject {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn what_a_preview_answers_parses_back() {
        let answered = params(json!({
            "file_format": "CSV",
            "options": {"compression": "none", "delimiter": ",", "quote": "\"", "escape": "\"", "header": true,
                        "encoding": "utf-8", "line_terminator": "\r\n"}
        }));
        let p = FileParams::parse(&answered).unwrap();
        assert!(p.validate().is_ok());
        let o = p.sniff_options().unwrap();
        assert_eq!((o.format, o.delimiter, o.header), (Some(FileFormat::Csv), Some(','), Some(true)));
        let none =
            FileParams::parse(&params(json!({"options": {"quote": "", "comment": "#", "skip_rows": 2}}))).unwrap();
        assert!(none.validate().is_ok());
        let o = none.sniff_options().unwrap();
        assert_eq!((o.quote, o.comment, o.skip_rows), (Some(None), Some(Some('#')), Some(2)));
    }

    #[test]
    fn rules_fail_on_their_field() {
        let p = FileParams::parse(&params(json!({"options": {"delimiter": ";;", "compression": "lzma"}}))).unwrap();
        let errors = p.validate().unwrap_err();
        let options = match &errors.errors()["options"] {
            validator::ValidationErrorsKind::Struct(inner) => inner.clone(),
            other => panic!("{other:?}"),
        };
        assert!(options.field_errors().contains_key("delimiter"));
        assert!(options.field_errors().contains_key("compression"));
        assert!(FileParams::parse(&params(json!({"options": {"line_terminator": "\t"}}))).unwrap().validate().is_err());
        assert!(FileParams::parse(&params(json!({"nope": 1}))).is_err());
        let bad = FileParams::parse(&params(json!({"file_format": "xlsx"}))).unwrap();
        assert_eq!(bad.format().unwrap_err().field, "connection_table_params.file_format");
    }
}

//! What a file table takes: one [`TableSpec`] for S3, GCS and LOCAL, parsed into the
//! `gateway-formats` [`FileParams`] the sniffer reads, and the documented shapes of the
//! values that end up in URLs (regions, bucket names).

use gateway_connector::validator::Validate;
use gateway_connector::{ParamSpec, ParamType, Shape, TableSpec, validation_problem};
use gateway_domain::{Compression, Problem, Resource, Table};
use gateway_formats::{FileParams, ParamsError};

/// Which file tables: in a customer's bucket, or uploaded to the platform (LOCAL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Files {
    Bucket(Shape),
    Upload,
}

/// The spec of a file table's `connection_table_params`.
pub fn spec(files: Files) -> TableSpec {
    let options = vec![
        ParamSpec::new(
            "compression",
            ParamType::Enum(Compression::WIRE_NAMES),
            "the file's compression; detected when absent or auto",
        )
        .default_value("auto".into()),
        ParamSpec::new("delimiter", ParamType::Char, "CSV/TSV: the field delimiter; detected when absent"),
        ParamSpec::new(
            "quote",
            ParamType::CharOrNone,
            "CSV/TSV: the quote character, \"\" for none (fields are never quoted); detected when absent",
        ),
        ParamSpec::new("escape", ParamType::Char, "CSV/TSV: the escape character; detected when absent"),
        ParamSpec::new(
            "header",
            ParamType::Boolean,
            "CSV/TSV: whether the first row names the columns; detected when absent",
        ),
        ParamSpec::new("encoding", ParamType::String, "text files: the character encoding; detected when absent"),
        ParamSpec::new("line_terminator", ParamType::Enum(&["\n", "\r\n"]), "CSV/TSV: the line terminator; detected"),
        ParamSpec::new(
            "skip_rows",
            ParamType::Integer,
            "CSV/TSV: lines before the table (a title, an export note) skipped; detected",
        ),
        ParamSpec::new(
            "comment",
            ParamType::CharOrNone,
            "CSV/TSV: lines starting with this character are comments, skipped; detected (\"\" for none)",
        ),
    ];
    let mut params = vec![ParamSpec::new(
        "file_format",
        ParamType::String,
        "a source's format (CSV, TSV, JSON_LINES, PARQUET, AVRO; any case), detected when absent; a destination's, what the platform writes",
    )];
    match files {
        Files::Bucket(_) => {
            params.push(ParamSpec::new("bucket", ParamType::String, "the bucket; the connection's bucket when absent"));
            params.push(ParamSpec::new("path", ParamType::String, "the object's key; the table's name when absent"));
        }
        Files::Upload => params.push(
            ParamSpec::new("url", ParamType::String, "where to PUT the file: written by the gateway on PATCH")
                .read_only(),
        ),
    }
    params.push(ParamSpec::new(
        "freshness_hours",
        ParamType::Integer,
        "a source whose newest file is older than this many hours (1 to 8760) is stale: its tests warn, webhooks hear table.stale once, then table.fresh",
    ));
    params.push(ParamSpec::new("options", ParamType::Object(options), "how the file is read"));
    TableSpec::new(params, Resource::ALL)
}

fn problem(e: ParamsError) -> Problem {
    Problem::wrong_field(e.field, e.message)
}

/// Parses a checked table's params into [`FileParams`], applying the rules the spec's types
/// cannot say: field rules, a readable format for a source, the bucket's shape.
pub fn parse(table: &Table, files: Files) -> Result<FileParams, Problem> {
    let params = FileParams::parse(&table.connection_table_params).map_err(problem)?;
    params.validate().map_err(|e| validation_problem("connection_table_params", &e))?;
    if !table.resource.is_destination() {
        params.format().map_err(problem)?;
    }
    if let (Files::Bucket(shape), Some(bucket)) = (files, params.bucket.as_deref())
        && !(shape.check)(bucket)
    {
        return Err(Problem::wrong_field(
            "connection_table_params.bucket",
            format!("'bucket' must be {}; got '{}'", shape.hint, bucket.chars().take(80).collect::<String>()),
        )
        .with("pattern", shape.pattern));
    }
    Ok(params)
}

/// The static check of a file table: the spec, then [`parse`].
pub fn check(table: &Table, spec: &TableSpec, files: Files) -> Result<(), Problem> {
    spec.check(table)?;
    parse(table, files).map(|_| ())
}

fn lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// An AWS region (`us-east-1`, `eu-central-2`, `us-gov-west-1`), or the short names of
/// S3-compatible stores (`auto`, `garage`): lower-case letters, digits and dashes only, so it
/// can never carry a host, a port or a path into the endpoint it names.
pub const REGION: Shape = Shape {
    pattern: "^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$",
    check: |s| {
        (1..=32).contains(&s.len())
            && s.chars().all(|c| lower_alnum(c) || c == '-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    },
    hint: "a region such as us-east-1 (lower-case letters, digits and dashes)",
};

/// S3 bucket naming rules (AWS, "General purpose bucket naming rules"): 3-63 characters of
/// lower-case letters, digits, dots and dashes, starting and ending with a letter or digit,
/// not an IP address.
pub const S3_BUCKET: Shape = Shape {
    pattern: "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
    check: |s| bucket_name(s, 63),
    hint: "an S3 bucket name (3-63 lower-case letters, digits, dots and dashes)",
};

/// GCS bucket naming rules (Google, "Bucket names"): as S3's plus underscores, up to 222
/// characters when dotted (components of at most 63).
pub const GCS_BUCKET: Shape = Shape {
    pattern: "^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$",
    check: |s| bucket_name(&s.replace('_', "-"), 222) && s.split('.').all(|part| part.len() <= 63),
    hint: "a GCS bucket name (3-222 lower-case letters, digits, dots, dashes and underscores)",
};

fn bucket_name(s: &str, max: usize) -> bool {
    (3..=max).contains(&s.len())
        && s.chars().all(|c| lower_alnum(c) || c == '.' || c == '-')
        && s.starts_with(lower_alnum)
        && s.ends_with(lower_alnum)
        && !s.contains("..")
        && s.parse::<std::net::Ipv4Addr>().is_err()
}

#[cfg(test)]
mod tests {
    use gateway_connector::{Connector, OutboundClient, OutboundSettings};
    use gateway_domain::{ConnectionKind, JsonObject, OrganizationId, TableName, TableStatus};
    use serde_json::{Value, json};

    use super::*;

    fn table(kind: ConnectionKind, resource: Resource, params: Value, meta: Value) -> Table {
        Table {
            organization: OrganizationId::parse("acme").unwrap(),
            connection: kind,
            name: TableName::parse("items.csv").unwrap(),
            resource,
            resource_params: JsonObject::new(),
            connection_table_params: params.as_object().cloned().unwrap(),
            connection_table_metadata: meta.as_object().cloned().unwrap(),
            status: TableStatus::Available,
            created_timestamp: 0,
            modified_timestamp: 0,
        }
    }

    fn s3() -> crate::S3Connector {
        crate::S3Connector::new(OutboundClient::new(OutboundSettings::default()).unwrap())
    }

    #[test]
    fn every_file_rule_names_its_field() {
        for (params, field) in [
            (json!({"file_format": "XLSX"}), "connection_table_params.file_format"),
            (json!({"file_format": 1}), "connection_table_params.file_format"),
            (json!({"dataset": "d"}), "connection_table_params.dataset"),
            (json!({"url": "http://x"}), "connection_table_params.url"),
            (json!({"bucket": ""}), "connection_table_params.bucket"),
            (json!({"bucket": "Bad_Bucket"}), "connection_table_params.bucket"),
            (json!({"bucket": "b@127.0.0.1:9000"}), "connection_table_params.bucket"),
            (json!({"path": "a\u{0}b"}), "connection_table_params.path"),
            (json!({"options": []}), "connection_table_params.options"),
            (json!({"options": {"sep": ","}}), "connection_table_params.options.sep"),
            (json!({"options": {"compression": "lz4"}}), "connection_table_params.options.compression"),
            (json!({"options": {"quote": "''"}}), "connection_table_params.options.quote"),
            (json!({"options": {"escape": ""}}), "connection_table_params.options.escape"),
            (json!({"options": {"header": "yes"}}), "connection_table_params.options.header"),
            (json!({"options": {"encoding": ""}}), "connection_table_params.options.encoding"),
            (json!({"options": {"line_terminator": "\t"}}), "connection_table_params.options.line_terminator"),
        ] {
            let t = table(ConnectionKind::S3, Resource::Item, params.clone(), json!({}));
            let p = s3().check_table(&t).expect_err(field);
            assert_eq!(p.field(), Some(field), "{params}: {}", p.message);
        }
    }

    #[test]
    fn what_the_contract_and_a_preview_show_passes() {
        for (resource, params) in [
            (Resource::User, json!({"file_format": "CSV", "options": {"compression": "zip"}})),
            (
                Resource::User,
                json!({"file_format": "PARQUET", "bucket": "s3-bucket-test", "options": {"compression": "zip"}}),
            ),
            (
                Resource::Item,
                json!({"file_format": "CSV", "bucket": "my-test-bucket", "options": {"compression": "zip", "delimiter": ",", "escape": "\\"}}),
            ),
            (Resource::AnalyticsReport, json!({"file_format": "dat", "options": {}})),
            (
                Resource::Item,
                json!({"file_format": "jsonl", "options": {"header": false, "quote": "'", "encoding": "utf-8", "compression": "AUTO"}}),
            ),
            // A CSV preview's answer, saved as is.
            (
                Resource::Item,
                json!({"file_format": "CSV", "options": {"compression": "none", "delimiter": ",", "quote": "\"", "escape": "\"", "header": true, "encoding": "utf-8", "line_terminator": "\r\n"}}),
            ),
        ] {
            let t = table(ConnectionKind::S3, resource, params.clone(), json!({}));
            assert_eq!(s3().check_table(&t), Ok(()), "{params}");
        }
    }

    #[test]
    fn local_names_cannot_climb_out() {
        let dir = std::env::temp_dir().join(format!("gw-local-{}", std::process::id()));
        let local = crate::LocalConnector::from_url(&dir.display().to_string()).unwrap();
        for n in [".", ".."] {
            let mut t = table(ConnectionKind::Local, Resource::Item, json!({}), json!({}));
            t.name = TableName::parse(n).unwrap();
            assert_eq!(local.check_table(&t).unwrap_err().field(), Some("name"), "{n}");
            t.connection = ConnectionKind::S3;
            assert_eq!(s3().check_table(&t), Ok(()), "an object key may be '..' on S3");
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn shapes_refuse_anything_that_could_steer_a_url() {
        for ok in ["us-east-1", "eu-central-2", "us-gov-west-1", "auto"] {
            assert!((REGION.check)(ok), "{ok}");
        }
        for bad in ["x@127.0.0.1:8443/", "us-east-1.evil.com", "US-EAST-1", "", "-a", "a/b", "a b", "a:1"] {
            assert!(!(REGION.check)(bad), "{bad}");
        }
        for ok in ["my-bucket", "logs.example.com", "abc"] {
            assert!((S3_BUCKET.check)(ok), "{ok}");
        }
        for bad in ["ab", "My-Bucket", "a..b", "192.168.1.1", "b@h", "b/../x", "-ab", "b?x=1"] {
            assert!(!(S3_BUCKET.check)(bad), "{bad}");
        }
        assert!((GCS_BUCKET.check)("my_bucket"));
        assert!(!(GCS_BUCKET.check)("b@127.0.0.1"));
    }
}

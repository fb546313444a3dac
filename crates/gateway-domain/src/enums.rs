//! The contract's closed sets. Each variant's wire name is exactly the spec's spelling;
//! `ALL` lists them in the spec's order for docs, error messages and tests.

use std::fmt;
use std::str::FromStr;

/// A value that is not one of a closed set's wire names. Its message lists the allowed ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a valid {what}; allowed: {}", allowed.join(", "))]
pub struct ParseEnumError {
    /// The field the value was given for (`connection`, `resource`, `status`, ...); it
    /// becomes `error_data.field` when converted into a [`Problem`](crate::Problem).
    pub what: &'static str,
    /// The value as received.
    pub value: String,
    /// The wire names accepted, in the contract's order (`error_data.allowed`).
    pub allowed: Vec<&'static str>,
}

macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal { $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $( $(#[$vmeta])* $variant ),+ }

        impl $name {
            /// Every value, in the contract's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Every wire name, in the contract's order, as a constant (specs and schemas).
            pub const WIRE_NAMES: &'static [&'static str] = &[$($wire),+];

            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// Every wire name, in the contract's order.
            pub fn wire_names() -> Vec<&'static str> {
                Self::ALL.iter().map(|v| v.as_str()).collect()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseEnumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(ParseEnumError { what: $what, value: s.to_owned(), allowed: Self::wire_names() }),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

wire_enum! {
    /// The provider a connection talks to. `LOCAL` is the platform's own storage: it holds
    /// tables but has no connection of its own.
    ConnectionKind, "connection" {
        /// The platform's own storage: files uploaded to the gateway; no credentials.
        Local => "LOCAL",
        /// Google Cloud Storage buckets.
        Gcs => "GCS",
        /// Amazon S3 buckets.
        S3 => "S3",
        /// Salesforce (CRM).
        Salesforce => "SALESFORCE",
        /// Sailthru (email and engagement).
        Sailthru => "SAILTHRU",
        /// Iterable (engagement).
        Iterable => "ITERABLE",
        /// Google BigQuery (warehouse).
        Bigquery => "BIGQUERY",
        /// Klaviyo (email and engagement).
        Klaviyo => "KLAVIYO",
        /// Sendlane (email and engagement).
        Sendlane => "SENDLANE",
        /// mParticle (customer data platform); wire name `M_PARTICLE`.
        MParticle => "M_PARTICLE",
        /// Segment (customer data platform).
        Segment => "SEGMENT",
        /// Movable Ink (engagement); wire name `MOVABLE_INK`.
        MovableInk => "MOVABLE_INK",
        /// Iterable catalogs as an item feed: a connection of its own, with ITERABLE's credentials.
        IterableFeed => "ITERABLE_FEED",
        /// Shopify (commerce).
        Shopify => "SHOPIFY",
        /// Braze (engagement).
        Braze => "BRAZE",
    }
}

impl ConnectionKind {
    /// Whether the kind stores a connection (credentials). Only `LOCAL` does not.
    pub const fn has_connection(self) -> bool {
        !matches!(self, ConnectionKind::Local)
    }

    /// The kinds that can hold a stored connection, in the contract's order.
    pub fn connectable() -> impl Iterator<Item = ConnectionKind> {
        Self::ALL.iter().copied().filter(|k| k.has_connection())
    }
}

wire_enum! {
    /// The platform resource a table feeds or receives.
    Resource, "resource" {
        /// Items (products, contents) and their properties; a source.
        Item => "item",
        /// Users and their properties; a source.
        User => "user",
        /// Explicit ratings of items by users; a source.
        Rating => "rating",
        /// Interactions (views, purchases, ...) of users with items; a source.
        Interaction => "interaction",
        /// A list of user ids (a provider list, a whitelist); a source.
        UserId => "user_id",
        /// Recommendations of items for each user; a destination.
        UserToItemsReco => "user_to_items_reco",
        /// Items similar to each item; a destination.
        ItemToItemsReco => "item_to_items_reco",
        /// Analytics reports (e.g. of an A/B-test segmentation); a destination.
        AnalyticsReport => "analytics_report",
    }
}

impl Resource {
    /// Destinations receive the platform's output (recommendations, reports); the others are
    /// sources the platform reads.
    pub const fn is_destination(self) -> bool {
        matches!(self, Resource::UserToItemsReco | Resource::ItemToItemsReco | Resource::AnalyticsReport)
    }
}

wire_enum! {
    /// What the gateway last learnt about a table (`status`). The gateway records it when it
    /// tests a table; a PATCH body may also set it.
    TableStatus, "status" {
        /// Usable: its last test passed, or it is new and has not been tested yet.
        Available => "available",
        /// Waiting for its data: a new `LOCAL` table whose file has not been uploaded yet.
        Uploading => "uploading",
        /// The last test failed: the provider refused the connection's credentials.
        WrongCredentials => "wrong_credentials",
        /// The last test found no remote resource (bucket, object, provider object).
        ResourceNotFound => "resource_not_found",
        /// The last test found the table's params wrong for its connector or its data.
        WrongSpecification => "wrong_specification",
        /// The last test failed for another reason (timeout, rate limit, provider outage).
        UnknownError => "unknown_error",
    }
}

wire_enum! {
    /// The roles allowed to call the gateway.
    Role, "role" {
        /// `root`: secret credential fields are answered as [`MASK`](crate::MASK).
        Root => "root",
        /// `manager`: secret credential fields are answered as [`MASK`](crate::MASK).
        Manager => "manager",
        /// `backend`, the platform's own pipelines: the only role that gets secrets in clear.
        Backend => "backend",
    }
}

impl Role {
    /// Whether the role gets customers' secrets in clear (the platform's own pipelines do).
    pub const fn sees_secrets(self) -> bool {
        matches!(self, Role::Backend)
    }
}

wire_enum! {
    /// File formats a file table may declare (`connection_table_params.file_format`). The wire
    /// accepts any case; see [`FileFormat::parse_loose`].
    FileFormat, "file_format" {
        /// Delimited text; `options.delimiter`, `quote` and `escape` are detected when absent.
        Csv => "CSV",
        /// Tab-separated values.
        Tsv => "TSV",
        /// One JSON object per line (also accepted as `json`, `ndjson`, `jsonlines`).
        JsonLines => "JSONL",
        /// Apache Parquet.
        Parquet => "PARQUET",
        /// Apache Avro object container files.
        Avro => "AVRO",
    }
}

impl FileFormat {
    /// Case-insensitive parse that also takes the usual aliases (`json`, `ndjson`, `jsonlines`).
    pub fn parse_loose(s: &str) -> Result<FileFormat, ParseEnumError> {
        match s.to_ascii_uppercase().replace([' ', '-', '_'], "").as_str() {
            "CSV" => Ok(FileFormat::Csv),
            "TSV" => Ok(FileFormat::Tsv),
            "JSONL" | "JSONLINES" | "NDJSON" | "JSON" => Ok(FileFormat::JsonLines),
            "PARQUET" => Ok(FileFormat::Parquet),
            "AVRO" => Ok(FileFormat::Avro),
            _ => s.parse(),
        }
    }
}

wire_enum! {
    /// Compression of a file table (`connection_table_params.options.compression`).
    Compression, "compression" {
        /// Not compressed.
        None => "none",
        /// gzip (`.gz`).
        Gzip => "gzip",
        /// A zip archive (`.zip`).
        Zip => "zip",
        /// Zstandard (`.zst`).
        Zstd => "zstd",
        /// bzip2 (`.bz2`).
        Bz2 => "bz2",
        /// Detected from the file's first bytes (and checked against its extension).
        Auto => "auto",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_the_specs() {
        let names = ConnectionKind::wire_names();
        assert_eq!(names.len(), 15);
        assert!(names.contains(&"M_PARTICLE"));
        assert!(names.contains(&"ITERABLE_FEED"));
        assert!(names.contains(&"MOVABLE_INK"));
        assert_eq!(Resource::ALL.len(), 8);
        assert_eq!(TableStatus::ALL.len(), 6);
        for k in ConnectionKind::ALL {
            assert_eq!(k.as_str().parse::<ConnectionKind>(), Ok(*k));
            let json = serde_json::to_string(k).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
    }

    #[test]
    fn unknown_value_lists_the_allowed_ones() {
        let err = "s3".parse::<ConnectionKind>().unwrap_err();
        assert_eq!(err.value, "s3");
        let msg = err.to_string();
        assert!(msg.contains("'s3' is not a valid connection"), "{msg}");
        assert!(msg.contains("GCS, S3, SALESFORCE"), "{msg}");
    }

    #[test]
    fn local_has_no_connection() {
        assert!(!ConnectionKind::Local.has_connection());
        assert_eq!(ConnectionKind::connectable().count(), 14);
    }

    #[test]
    fn file_format_loose() {
        assert_eq!(FileFormat::parse_loose("csv"), Ok(FileFormat::Csv));
        assert_eq!(FileFormat::parse_loose("Json-Lines"), Ok(FileFormat::JsonLines));
        assert!(FileFormat::parse_loose("dat").is_err());
    }
}

wire_enum! {
    /// What the last test of a connection's stored credentials found (`status` of a
    /// connection; absent until it is first tested). Recorded by `POST .../test/` without
    /// credentials in the body and by the scheduled re-tests.
    ConnectionStatus, "status" {
        /// Every check the provider allows passed.
        Available => "available",
        /// The provider refused the credentials.
        WrongCredentials => "wrong_credentials",
        /// The credentials work but name something that does not exist (a dataset, an account).
        ResourceNotFound => "resource_not_found",
        /// The credentials are malformed for the connector.
        WrongSpecification => "wrong_specification",
        /// The test failed for another reason (timeout, rate limit, provider outage).
        UnknownError => "unknown_error",
        /// Not every use could be checked: the provider offers no read-only check for one
        /// (a skipped step, see warnings), or a permission one use needs is missing while
        /// others passed (a forbidden step).
        Unverified => "unverified",
    }
}

wire_enum! {
    /// What a webhook is told about.
    EventName, "event" {
        /// A table's status changed (a test, a scheduled re-test, a PATCH or an upload).
        TableStatusChanged => "table.status_changed",
        /// A connection's status changed (a test of its stored credentials or a scheduled re-test).
        ConnectionStatusChanged => "connection.status_changed",
        /// A validation of a table finished (succeeded or failed): `validation` names it,
        /// `rows` and `invalid_rows` say what it found.
        TableValidated => "table.validated",
        /// A table with `freshness_hours` went stale: its newest file is older than that (told
        /// once per staleness, by the test that saw it).
        TableStale => "table.stale",
        /// A stale table is fresh again.
        TableFresh => "table.fresh",
        /// A recorded test saw the table's columns change: `added`, `removed`, `changed`
        /// (names and types only).
        TableSchemaChanged => "table.schema_changed",
        /// Sent by `POST /webhooks/{id}/test/` only, to try an endpoint.
        Ping => "ping",
    }
}

wire_enum! {
    /// What an audit trail entry records (its `action`).
    AuditAction, "action" {
        /// A table created by a PATCH.
        TableCreate => "table.create",
        /// A table's fields changed by a PATCH.
        TableUpdate => "table.update",
        /// A table's status recorded by a test (an HTTP test, the schedule, an upload).
        TableStatus => "table.status",
        /// A table deleted.
        TableDelete => "table.delete",
        /// A validation of a table finished (by `system`, with its id in `fields`).
        TableValidated => "table.validated",
        /// A table's rows read through `GET .../rows/` (`fields`: `rows N`, `skipped N`,
        /// `bytes N` read from the source, and how it ended: `completed`, `stopped` by the
        /// reader, or `failed`).
        TableRowsRead => "table.rows_read",
        /// A table went stale or fresh again (`fields`: `stale` or `fresh`).
        TableFreshness => "table.freshness",
        /// A recorded test saw the table's columns change (by `system` or the tester;
        /// `fields`: `added a`, `removed b`, `changed c`).
        TableSchema => "table.schema",
        /// A connection created or replaced by a PUT.
        ConnectionPut => "connection.put",
        /// A connection's status recorded by a test of its stored credentials.
        ConnectionStatus => "connection.status",
        /// A connection deleted (with its tables, when forced).
        ConnectionDelete => "connection.delete",
        /// A connection's credentials sealed again under the current key (`gateway rotate-key`).
        ConnectionReseal => "connection.reseal",
        /// A webhook endpoint created or changed.
        WebhookPut => "webhook.put",
        /// A webhook endpoint's signing secret replaced.
        WebhookRotateSecret => "webhook.rotate_secret",
        /// A webhook endpoint deleted.
        WebhookDelete => "webhook.delete",
    }
}

wire_enum! {
    /// Where a validation is.
    ValidationState, "state" {
        /// Waiting for a replica (and for the organization's other validations to finish).
        Queued => "queued",
        /// Being read by a replica.
        Running => "running",
        /// Read whole (or up to `max_rows`): `report` holds what was found.
        Succeeded => "succeeded",
        /// Stopped by a fault (the table cannot be read, a cap was reached): `error` says why.
        Failed => "failed",
        /// Stopped by a `DELETE`.
        Cancelled => "cancelled",
    }
}

//! The contract's closed sets. Each variant's wire name is exactly the spec's spelling;
//! `ALL` lists them in the spec's order for docs, error messages and tests.

use std::fmt;
use std::str::FromStr;

/// A value that is not one of a closed set's wire names. Its message lists the allowed ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a valid {what}; allowed: {}", allowed.join(", "))]
pub struct ParseEnumError {
    pub what: &'static str,
    pub value: String,
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
        Local => "LOCAL",
        Gcs => "GCS",
        S3 => "S3",
        Salesforce => "SALESFORCE",
        Sailthru => "SAILTHRU",
        Iterable => "ITERABLE",
        Bigquery => "BIGQUERY",
        Klaviyo => "KLAVIYO",
        Sendlane => "SENDLANE",
        MParticle => "M_PARTICLE",
        Segment => "SEGMENT",
        MovableInk => "MOVABLE_INK",
        IterableFeed => "ITERABLE_FEED",
        Shopify => "SHOPIFY",
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
        Item => "item",
        User => "user",
        Rating => "rating",
        Interaction => "interaction",
        UserId => "user_id",
        UserToItemsReco => "user_to_items_reco",
        ItemToItemsReco => "item_to_items_reco",
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
    /// What the gateway last learnt about a table.
    TableStatus, "status" {
        Available => "available",
        Uploading => "uploading",
        WrongCredentials => "wrong_credentials",
        ResourceNotFound => "resource_not_found",
        WrongSpecification => "wrong_specification",
        UnknownError => "unknown_error",
    }
}

wire_enum! {
    /// The roles allowed to call the gateway.
    Role, "role" {
        Root => "root",
        Manager => "manager",
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
        Csv => "CSV",
        Tsv => "TSV",
        JsonLines => "JSONL",
        Parquet => "PARQUET",
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
        None => "none",
        Gzip => "gzip",
        Zip => "zip",
        Zstd => "zstd",
        Bz2 => "bz2",
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

//! What every provider implements: the [`Connector`] trait, its [`CredentialSpec`], the
//! [`Registry`] the binary fills at start, and the types a connector answers with.
//!
//! A connector talks to its provider only. It never touches the database and never decides an
//! HTTP status: it reports steps, inspections and [`ConnectorError`]s of a small set of kinds,
//! which `gateway-preview` maps to table statuses and `gateway-http` to error names.

// Bytes and text from tenants and providers are never sliced or indexed unchecked (a panic
// would be one tenant stopping work for all): `.get()` and friends instead.
#![cfg_attr(not(test), deny(clippy::string_slice, clippy::indexing_slicing))]

pub mod api;
pub mod declare;
mod error;
pub mod google;
mod inspect;
pub mod oauth2;
#[cfg(feature = "opendal")]
pub mod opendal_guard;
pub mod outbound;
pub mod paging;
mod registry;
mod spec;
mod table_spec;
mod uploads;
pub mod webhook;

pub use declare::{
    ApiVersion, Declared, DeclaredParams, FieldValue, NoCredentials, NoParams, ParamValue, Provider, Secret, Typed,
};
pub use error::{ConnectorError, ErrorKind, parse_retry_after};
pub use gateway_domain::{Column, ColumnType};
pub use inspect::{CredentialCheck, Inspection, Step, StepOutcome};
pub use outbound::{OutboundClient, OutboundSettings};
pub use registry::{DuplicateConnector, Registry};
pub use spec::{CredentialSpec, FieldSpec, FieldType, HostRule, Shape, looks_secret};
pub use table_spec::{ParamSpec, ParamType, TableSpec, validation_problem};
pub use uploads::{Holding, SetFile, UploadWriter, Uploads};
/// The `validator` crate, for connectors' typed table parameters (`#[derive(Validate)]`).
pub use validator;

use gateway_domain::{ConnectionKind, Credentials, JsonObject, Problem, Table, TableStatus};

/// Log targets of dependencies that print credentials in their own debug lines: opendal's
/// signer (`reqsign_core`) logs static keys, secret included, at DEBUG.
pub const SECRET_LOGGING_TARGETS: &[&str] = &["reqsign"];

/// Whether an event may be logged: events of [`SECRET_LOGGING_TARGETS`] only at WARN or
/// above, whatever filter the operator sets. Every subscriber of the gateway applies it.
pub fn may_log(target: &str, level: &tracing::Level) -> bool {
    *level <= tracing::Level::WARN || !SECRET_LOGGING_TARGETS.iter().any(|t| target.starts_with(t))
}

/// The most tables a credential test is told of.
pub const MAX_TESTED_TABLES: usize = 50;

/// A provider. One instance serves every organization: all per-customer state comes in the
/// arguments.
#[async_trait::async_trait]
pub trait Connector: Send + Sync + 'static {
    /// The kind this connector serves.
    fn kind(&self) -> ConnectionKind;

    /// The credentials it takes: fields, types, which are secret, host rules.
    fn credential_spec(&self) -> &CredentialSpec;

    /// Checks credentials and returns them as they are stored (defaults filled, alternative
    /// shapes normalised). Failures name the field as `credentials.<name>`.
    fn validate_credentials(&self, credentials: &JsonObject) -> Result<JsonObject, Problem> {
        self.credential_spec().validate(credentials)
    }

    /// The tables it takes: their `connection_table_params` and the resources they may be.
    fn table_spec(&self) -> &TableSpec;

    /// Checks a (merged) table's `connection_table_params` statically, before anything remote
    /// is opened: the [`TableSpec`] (keys, types, resources), then whatever rules the
    /// connector's typed parameters add. Failures name the field as a dotted path.
    fn check_table(&self, table: &Table) -> Result<(), Problem> {
        self.table_spec().check(table)
    }

    /// The status a new table starts in: `available`, or `uploading` for tables whose data
    /// the customer has yet to send (LOCAL).
    fn new_table_status(&self) -> TableStatus {
        TableStatus::Available
    }

    /// The provider API version it pins, and when the provider retires it.
    fn api_version(&self) -> Option<ApiVersion> {
        None
    }

    /// Checks credentials live with cheap, read-only calls, reporting each as a step. A step
    /// the provider offers no read-only call for is `skipped` with a warning; it is never
    /// reported as passed without having been checked. `Err` for a fault before any step ran.
    /// `tables` are the connection's stored tables (at most [`MAX_TESTED_TABLES`]): the
    /// test checks what they need (a read for sources, a write for destinations), and a use
    /// no table has is not held against the credentials.
    async fn test_credentials(
        &self,
        credentials: &Credentials,
        tables: &[Table],
    ) -> Result<CredentialCheck, ConnectorError>;

    /// Opens the remote resource a table names and describes it: detected parameters,
    /// columns and a few sample rows for a source; for a destination, that it can be written.
    /// `credentials` is `None` for kinds without a connection (LOCAL).
    async fn inspect_table(
        &self,
        credentials: Option<&Credentials>,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError>;

    /// How its tables are validated whole: read by the engine ([`Connector::open_files`]),
    /// run where they live ([`Connector::validate_in_place`]), read page by page
    /// ([`Connector::read_pages`]), or not yet.
    fn whole_read(&self) -> WholeRead {
        WholeRead::Unsupported
    }

    /// Whether [`Connector::read_pages`] serves its tables (what a read of rows through the
    /// gateway uses when its tables are not files): kinds validated page by page do, and a
    /// kind validated where its tables live may too (BigQuery's `tabledata.list`).
    fn reads_pages(&self) -> bool {
        self.whole_read() == WholeRead::Pages
    }

    /// Runs a validation where the table lives (a warehouse's SQL, in the customer's project)
    /// and answers its report. Kinds that cannot answer [`ErrorKind::WrongSpecification`] (the
    /// default).
    async fn validate_in_place(
        &self,
        credentials: Option<&Credentials>,
        table: &Table,
        plan: &gateway_domain::ValidationPlan,
    ) -> Result<gateway_domain::ValidationReport, ConnectorError> {
        let _ = (credentials, table, plan);
        Err(ConnectorError::new(
            ErrorKind::WrongSpecification,
            format!("{} tables cannot be validated where they live", self.kind()),
        ))
    }

    /// Reads a stored source table whole, page by page as the provider serves it (within its
    /// limits), handing each page's rows to `sink` in order, at most `max_rows` in all.
    /// Answers whether rows were left unread (it stopped at `max_rows`). Kinds that cannot
    /// answer [`ErrorKind::WrongSpecification`] (the default).
    async fn read_pages(
        &self,
        credentials: Option<&Credentials>,
        table: &Table,
        max_rows: u64,
        sink: &mut (dyn PageSink + Send),
    ) -> Result<bool, ConnectorError> {
        let _ = (credentials, table, max_rows, sink);
        Err(ConnectorError::new(
            ErrorKind::WrongSpecification,
            format!("{} tables cannot be read page by page by this gateway yet", self.kind()),
        ))
    }

    /// Opens every file of a stored source table for a whole read (a validation): one for a
    /// file, each match of a set (by path, markers and hidden objects left out). Kinds whose
    /// tables are not files answer [`ErrorKind::WrongSpecification`] (the default).
    async fn open_files(
        &self,
        credentials: Option<&Credentials>,
        table: &Table,
    ) -> Result<Vec<std::sync::Arc<dyn TableFile>>, ConnectorError> {
        let _ = (credentials, table);
        Err(ConnectorError::new(
            ErrorKind::WrongSpecification,
            format!("{} tables are not files: they cannot be read whole by this gateway yet", self.kind()),
        ))
    }
}

/// Where [`Connector::read_pages`] puts the rows it reads.
pub trait PageSink {
    /// One page's rows, in the provider's order; an error stops the read (and is its answer).
    fn page(&mut self, rows: Vec<gateway_domain::JsonObject>) -> Result<(), ConnectorError>;
}

/// How a kind's tables are validated whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WholeRead {
    /// Not yet: a validation is refused up front.
    Unsupported,
    /// Its files are opened ([`Connector::open_files`]) and read by the engine.
    Files,
    /// The provider runs the rules itself ([`Connector::validate_in_place`]).
    InPlace,
    /// Its rows are read page by page ([`Connector::read_pages`]), spooled and read by the
    /// engine.
    Pages,
}

/// One file of a stored table, opened for a whole read: its size known when opened, its bytes
/// read by range through the outbound guard, never all at once.
#[async_trait::async_trait]
pub trait TableFile: Send + Sync + 'static {
    /// Its path in the bucket (or the table's name, for an upload): how reports name it.
    fn path(&self) -> &str;

    /// Its size in bytes, when opened.
    fn size(&self) -> u64;

    /// Bytes `start..end` (cut at the size).
    async fn read(&self, start: u64, end: u64) -> Result<bytes::Bytes, ConnectorError>;
}

/// Building blocks of the fuzz targets (`gateway-fuzz`): a provider's answer made of bytes.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use crate::api::{Answer, Api};
    use crate::{OutboundClient, OutboundSettings};

    /// An answer from fuzzed bytes: the status from the first two, headers from the lines up
    /// to a blank one, the body after.
    pub fn answer(data: &[u8]) -> Answer {
        let status = match data {
            [a, b, ..] => 100 + u16::from_le_bytes([*a, *b]) % 500,
            _ => 500,
        };
        let rest = data.get(2..).unwrap_or_default();
        let split = rest.windows(2).position(|w| w == b"\n\n");
        let (head, body) = match split {
            Some(at) => (rest.get(..at).unwrap_or_default(), rest.get(at + 2..).unwrap_or_default()),
            None => (&[][..], rest),
        };
        let mut headers = reqwest::header::HeaderMap::new();
        for line in head.split(|b| *b == b'\n') {
            let Some(colon) = line.iter().position(|b| *b == b':') else { continue };
            let (name, value) = (line.get(..colon).unwrap_or_default(), line.get(colon + 1..).unwrap_or_default());
            if let (Ok(n), Ok(v)) = (
                reqwest::header::HeaderName::from_bytes(name),
                reqwest::header::HeaderValue::from_bytes(value.trim_ascii()),
            ) {
                headers.append(n, v);
            }
        }
        Answer { status, headers, body: body.to_vec() }
    }

    /// A provider's API (never called: the targets read answers).
    #[allow(clippy::expect_used, reason = "the default client builds, or nothing can be fuzzed")]
    pub fn api(who: &'static str) -> Api {
        static CLIENT: std::sync::OnceLock<OutboundClient> = std::sync::OnceLock::new();
        let outbound = CLIENT
            .get_or_init(|| OutboundClient::new(OutboundSettings::default()).expect("the outbound client builds"))
            .clone();
        Api { outbound, origin: "https://provider.invalid".into(), who }
    }
}

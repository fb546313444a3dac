//! A connector's configuration, declared once: its credentials and its tables' parameters are
//! Rust types, and everything else derives from them. [`credentials!`](crate::credentials) and [`table_params!`](crate::table_params)
//! declare a struct (serde, secrets of their own type) and, from the same lines, its fields
//! as data ([`FieldSpec`], [`ParamSpec`]): the spec that validates a PUT, masks secrets, is
//! served by `GET /connections/{c}/spec/` and in the OpenAPI document, drives the conformance
//! suite and lists the provider in the docs. A connector implements [`Provider`] on those
//! types: it receives parsed values, never a JSON object to read by key; [`Typed`] erases it
//! into the [`Connector`] the registry holds.
//!
//! ```
//! use gateway_connector::{credentials, table_params, Secret};
//!
//! credentials! {
//!     /// Sendlane credentials.
//!     pub struct SendlaneCredentials {
//!         /// an API v2 token (Account > API > Sendlane API V2)
//!         api_token: Secret,
//!     }
//! }
//! table_params! {
//!     /// A Sendlane table: a list.
//!     pub struct SendlaneTable {
//!         /// the list's id; the list named as the table when absent
//!         list_id: Option<i64>,
//!     }
//! }
//! use gateway_connector::{Declared, DeclaredParams};
//! let fields = SendlaneCredentials::fields();
//! assert!(fields[0].secret && fields[0].required);
//! assert_eq!(SendlaneTable::params()[0].name, "list_id");
//! ```

use gateway_domain::{ConnectionKind, Credentials, JsonObject, Problem, Resource, Table, TableStatus};
use serde::de::DeserializeOwned;

use crate::{
    Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, FieldSpec, FieldType, Inspection, ParamSpec,
    ParamType, TableSpec,
};

/// A secret credential value: masked in `Debug` and when serialized (answers, logs); read
/// with [`Secret::expose`] where it is sent.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, to send to its provider. Never log or answer it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({})", gateway_domain::MASK)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(gateway_domain::MASK)
    }
}

/// What a credential field's Rust type says of it: its JSON type, whether it may be absent,
/// whether it is secret.
pub trait FieldValue {
    const TYPE: FieldType;
    const REQUIRED: bool = true;
    const SECRET: bool = false;
}

impl FieldValue for String {
    const TYPE: FieldType = FieldType::String;
}
impl FieldValue for Secret {
    const TYPE: FieldType = FieldType::String;
    const SECRET: bool = true;
}
impl FieldValue for bool {
    const TYPE: FieldType = FieldType::Boolean;
}
impl FieldValue for i64 {
    const TYPE: FieldType = FieldType::Integer;
}
impl FieldValue for JsonObject {
    const TYPE: FieldType = FieldType::Object;
}
/// A JSON object, or a string holding one (a key file as pasted).
impl FieldValue for serde_json::Value {
    const TYPE: FieldType = FieldType::ObjectOrString;
}
impl<T: FieldValue> FieldValue for Option<T> {
    const TYPE: FieldType = T::TYPE;
    const REQUIRED: bool = false;
    const SECRET: bool = T::SECRET;
}

impl FieldSpec {
    /// The field a declaration's line declares: name, type and description from the line.
    pub fn of<T: FieldValue>(name: &'static str, description: &'static str) -> FieldSpec {
        // A raw identifier (`r#type`) names the wire field `type`.
        let name = name.strip_prefix("r#").unwrap_or(name);
        let f = if T::REQUIRED {
            FieldSpec::required(name, T::TYPE, description)
        } else {
            FieldSpec::optional(name, T::TYPE, description)
        };
        if T::SECRET { f.secret() } else { f }
    }
}

/// What a table parameter's Rust type says of it (parameters are all optional).
pub trait ParamValue {
    const TYPE: ParamType;
}

impl ParamValue for String {
    const TYPE: ParamType = ParamType::String;
}
impl ParamValue for bool {
    const TYPE: ParamType = ParamType::Boolean;
}
impl ParamValue for i64 {
    const TYPE: ParamType = ParamType::Integer;
}
impl ParamValue for char {
    const TYPE: ParamType = ParamType::Char;
}
impl<T: ParamValue> ParamValue for Option<T> {
    const TYPE: ParamType = T::TYPE;
}

impl ParamSpec {
    /// The parameter a declaration's line declares.
    pub fn of<T: ParamValue>(name: &'static str, description: &'static str) -> ParamSpec {
        ParamSpec::new(name.strip_prefix("r#").unwrap_or(name), T::TYPE, description)
    }

    /// One of these strings (compared without case).
    pub fn one_of(mut self, values: &'static [&'static str]) -> ParamSpec {
        self.ty = ParamType::Enum(values);
        self
    }
}

/// A credentials type declared with [`credentials!`](crate::credentials).
pub trait Declared: DeserializeOwned + Send + Sync + 'static {
    fn fields() -> Vec<FieldSpec>;
}

/// A table parameters type declared with [`table_params!`](crate::table_params).
pub trait DeclaredParams: DeserializeOwned + Send + Sync + 'static {
    fn params() -> Vec<ParamSpec>;
}

/// A kind without credentials (LOCAL: the platform's own storage).
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
pub struct NoCredentials {}

impl Declared for NoCredentials {
    fn fields() -> Vec<FieldSpec> {
        Vec::new()
    }
}

/// Tables whose name says it all.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

impl DeclaredParams for NoParams {
    fn params() -> Vec<ParamSpec> {
        Vec::new()
    }
}

/// The description of a field: its doc comment's lines, joined.
#[doc(hidden)]
pub const fn doc(text: &'static str) -> &'static str {
    text.trim_ascii()
}

/// Declares a connector's credentials once: the struct, and its fields as data.
///
/// Each field is a line: its doc comment (the field's description, served in the spec), its
/// name (the wire name), its type ([`String`], [`Secret`] (secret), `bool`, `i64`,
/// `JsonObject`, `serde_json::Value` for a JSON object or a string holding one; `Option<_>`
/// when it may be absent), then optionally `=> [...]`: [`FieldSpec`] builder calls, such as
/// `shape(REGION)`, `host(HostRule::PublicHttps)`, `routes`, `default_value("us".into())`.
#[macro_export]
macro_rules! credentials {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident : $ty:ty $( => [ $( $opt:ident $( ( $($arg:expr),* ) )? ),* $(,)? ] )?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, serde::Deserialize)]
        $vis struct $name {
            $( $(#[doc = $doc])* pub $field: $ty, )*
        }

        impl $crate::Declared for $name {
            fn fields() -> Vec<$crate::FieldSpec> {
                vec![ $( {
                    let f = $crate::FieldSpec::of::<$ty>(stringify!($field), $crate::declare::doc(concat!($($doc),*)));
                    $( $( let f = f.$opt( $( $($arg),* )? ); )* )?
                    f
                } ),* ]
            }
        }
    };
}

/// Declares a connector's table parameters once (`connection_table_params`): the struct, and
/// its keys as data. Lines as in [`credentials!`](crate::credentials); types `Option<String>`, `Option<i64>`,
/// `Option<bool>`, `Option<char>`; builder calls such as `one_of(&["a", "b"])`,
/// `default_value(...)`, `read_only`.
#[macro_export]
macro_rules! table_params {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident : $ty:ty $( => [ $( $opt:ident $( ( $($arg:expr),* ) )? ),* $(,)? ] )?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, serde::Deserialize)]
        $vis struct $name {
            $( $(#[doc = $doc])* #[serde(default)] pub $field: $ty, )*
        }

        impl $crate::DeclaredParams for $name {
            fn params() -> Vec<$crate::ParamSpec> {
                vec![ $( {
                    let p = $crate::ParamSpec::of::<$ty>(stringify!($field), $crate::declare::doc(concat!($($doc),*)));
                    $( $( let p = p.$opt( $( $($arg),* )? ); )* )?
                    p
                } ),* ]
            }
        }
    };
}

/// The provider's API version a connector pins, when it pins one, and the date the provider
/// documents it retires (the version calendar: docs/providers.md, `/metrics`, a credential
/// test's warning within 90 days, and a test that fails once the date is past).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersion {
    pub version: &'static str,
    /// `YYYY-MM-DD`.
    pub retires: &'static str,
    /// Where the provider says so.
    pub source: &'static str,
}

impl ApiVersion {
    /// How near retirement a credential test starts warning.
    pub const WARN_DAYS: i64 = 90;

    /// Days from `now` (Unix seconds) until it retires; negative once past.
    pub fn days_left(&self, now: i64) -> i64 {
        days_from_civil(self.retires).map_or(i64::MIN, |d| d - now.div_euclid(86_400))
    }

    /// The warning a credential test carries within [`ApiVersion::WARN_DAYS`] of retirement
    /// (and after it), naming the version, the date and its source.
    pub fn warning(&self, provider: &str, now: i64) -> Option<String> {
        let days = self.days_left(now);
        if days > Self::WARN_DAYS {
            return None;
        }
        Some(if days >= 0 {
            format!(
                "the gateway calls {provider} on API version {}, which {provider} retires on {} (in {days} days, {}): upgrade the gateway before then",
                self.version, self.retires, self.source
            )
        } else {
            format!(
                "the gateway calls {provider} on API version {}, which {provider} retired on {} ({}): upgrade the gateway",
                self.version, self.retires, self.source
            )
        })
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
fn days_from_civil(date: &str) -> Option<i64> {
    let mut parts = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    gateway_domain::civil::days_from_civil(y, m, d)
}

/// A provider, on its declared types. [`Typed`] makes it a [`Connector`]: it validates a
/// connection's credentials against the spec derived from [`Provider::Credentials`] and parses
/// them once, checks and parses a table's parameters the same way, and hands the connector
/// the values.
#[async_trait::async_trait]
pub trait Provider: Send + Sync + 'static {
    type Credentials: Declared;
    type Params: DeclaredParams;
    /// The kind it serves.
    const KIND: ConnectionKind;
    /// The resources its tables may feed or receive.
    const RESOURCES: &'static [Resource];
    /// The provider API version it pins, if any.
    const VERSION: Option<ApiVersion> = None;
    /// How its tables are validated whole (see [`Connector::whole_read`]).
    const WHOLE_READ: crate::WholeRead = crate::WholeRead::Unsupported;

    /// Puts the checked credentials in the form they are stored (an alternative spelling
    /// normalised: a shop's admin URL to its host). Failures name the field.
    fn normalize(&self, credentials: JsonObject) -> Result<JsonObject, Problem> {
        Ok(credentials)
    }

    /// Rules a table's parameters must follow that their types cannot say.
    fn check_params(&self, _params: &Self::Params, _table: &Table) -> Result<(), Problem> {
        Ok(())
    }

    /// The status a new table starts in (`uploading` for tables whose data is yet to come).
    fn new_table_status(&self) -> TableStatus {
        TableStatus::Available
    }

    /// See [`Connector::test_credentials`].
    async fn test(&self, credentials: &Self::Credentials, tables: &[Table]) -> Result<CredentialCheck, ConnectorError>;

    /// See [`Connector::inspect_table`].
    async fn inspect(
        &self,
        credentials: &Self::Credentials,
        params: &Self::Params,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError>;

    /// See [`Connector::read_pages`] (with [`Provider::WHOLE_READ`] `Pages`).
    async fn read_pages(
        &self,
        credentials: &Self::Credentials,
        params: &Self::Params,
        table: &Table,
        max_rows: u64,
        sink: &mut (dyn crate::PageSink + Send),
    ) -> Result<bool, ConnectorError> {
        let _ = (credentials, params, table, max_rows, sink);
        Err(ConnectorError::new(
            ErrorKind::WrongSpecification,
            format!("{} tables cannot be read page by page by this gateway yet", Self::KIND),
        ))
    }
}

/// A [`Provider`] as the registry's [`Connector`].
pub struct Typed<P: Provider> {
    provider: P,
    spec: CredentialSpec,
    tables: TableSpec,
}

impl<P: Provider + std::fmt::Debug> std::fmt::Debug for Typed<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.provider.fmt(f)
    }
}

impl<P: Provider> Typed<P> {
    pub fn new(provider: P) -> Typed<P> {
        Typed {
            spec: CredentialSpec::new(P::KIND, P::Credentials::fields()),
            tables: TableSpec::new(P::Params::params(), P::RESOURCES),
            provider,
        }
    }

    pub fn provider(&self) -> &P {
        &self.provider
    }

    fn parse_credentials(&self, credentials: Option<&Credentials>) -> Result<P::Credentials, ConnectorError> {
        let fields = credentials.map(|c| c.expose().clone()).unwrap_or_default();
        let checked = self
            .validate_credentials(&fields)
            .map_err(|p| ConnectorError::new(ErrorKind::WrongCredentials, p.message))?;
        serde_json::from_value(serde_json::Value::Object(checked)).map_err(|e| {
            ConnectorError::new(ErrorKind::WrongCredentials, format!("the stored credentials do not parse: {e}"))
        })
    }

    fn parse_params(&self, table: &Table) -> Result<P::Params, Problem> {
        serde_json::from_value(serde_json::Value::Object(table.connection_table_params.clone())).map_err(|e| {
            Problem::wrong_field("connection_table_params", format!("connection_table_params do not parse: {e}"))
        })
    }
}

#[async_trait::async_trait]
impl<P: Provider> Connector for Typed<P> {
    fn kind(&self) -> ConnectionKind {
        P::KIND
    }

    fn credential_spec(&self) -> &CredentialSpec {
        &self.spec
    }

    fn validate_credentials(&self, credentials: &JsonObject) -> Result<JsonObject, Problem> {
        self.provider.normalize(self.spec.validate(credentials)?)
    }

    fn table_spec(&self) -> &TableSpec {
        &self.tables
    }

    fn check_table(&self, table: &Table) -> Result<(), Problem> {
        self.tables.check(table)?;
        let params = self.parse_params(table)?;
        self.provider.check_params(&params, table)
    }

    fn new_table_status(&self) -> TableStatus {
        self.provider.new_table_status()
    }

    fn api_version(&self) -> Option<ApiVersion> {
        P::VERSION
    }

    async fn test_credentials(
        &self,
        credentials: &Credentials,
        tables: &[Table],
    ) -> Result<CredentialCheck, ConnectorError> {
        let c = self.parse_credentials(Some(credentials))?;
        self.provider.test(&c, tables).await
    }

    async fn inspect_table(
        &self,
        credentials: Option<&Credentials>,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let c = self.parse_credentials(credentials)?;
        let p = self.parse_params(table).map_err(|p| ConnectorError::new(ErrorKind::WrongSpecification, p.message))?;
        self.provider.inspect(&c, &p, table, sample_rows).await
    }

    fn whole_read(&self) -> crate::WholeRead {
        P::WHOLE_READ
    }

    async fn read_pages(
        &self,
        credentials: Option<&Credentials>,
        table: &Table,
        max_rows: u64,
        sink: &mut (dyn crate::PageSink + Send),
    ) -> Result<bool, ConnectorError> {
        let c = self.parse_credentials(credentials)?;
        let p = self.parse_params(table).map_err(|p| ConnectorError::new(ErrorKind::WrongSpecification, p.message))?;
        self.provider.read_pages(&c, &p, table, max_rows, sink).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HostRule, Shape};

    const REGION: Shape = Shape { pattern: "^(us|eu)$", check: |s| s == "us" || s == "eu", hint: "us or eu" };

    crate::credentials! {
        /// Example credentials.
        struct Example {
            /// the key
            /// (a second line)
            api_key: Secret,
            /// the region
            region: String => [shape(REGION), routes, default_value("us".into())],
            /// an endpoint
            endpoint: Option<String> => [host(HostRule::PublicHttps)],
        }
    }

    crate::table_params! {
        #[allow(dead_code, reason = "the test reads the spec, not the values")]
        struct ExampleTable {
            /// a list
            list_id: Option<i64>,
            /// a mode
            mode: Option<String> => [one_of(&["fast", "slow"])],
        }
    }

    #[test]
    fn days_left_until_a_documented_date() {
        let v = ApiVersion { version: "2026-10-15", retires: "2028-10-15", source: "" };
        assert_eq!(days_from_civil("1970-01-01"), Some(0));
        assert_eq!(days_from_civil("2000-03-01"), Some(11_017));
        let now = days_from_civil("2028-10-14").unwrap() * 86_400 + 3600;
        assert_eq!(v.days_left(now), 1);
        assert!(ApiVersion { retires: "nope", ..v }.days_left(0) < 0);
        assert_eq!(v.warning("Klaviyo", now - 100 * 86_400), None);
        assert!(v.warning("Klaviyo", now).unwrap().contains("retires on 2028-10-15 (in 1 days"));
        assert!(v.warning("Klaviyo", now + 2 * 86_400).unwrap().contains("retired on 2028-10-15"));
    }

    #[test]
    fn one_declaration_gives_the_struct_and_its_spec() {
        let spec = CredentialSpec::new(ConnectionKind::Braze, Example::fields());
        let f = &spec.fields;
        assert_eq!((f[0].name, f[0].secret, f[0].required), ("api_key", true, true));
        assert_eq!(f[0].description, "the key (a second line)");
        assert!(f[1].routes && f[1].shape.is_some() && f[1].default.is_some());
        assert!(!f[2].required && f[2].host.is_some() && f[2].routes);
        let body = serde_json::json!({"api_key": "k-123"});
        let checked = spec.validate(body.as_object().unwrap()).unwrap();
        let parsed: Example = serde_json::from_value(serde_json::Value::Object(checked)).unwrap();
        assert_eq!(
            (parsed.api_key.expose(), parsed.region.as_str(), parsed.endpoint.as_deref()),
            ("k-123", "us", None)
        );
        assert!(!format!("{parsed:?}").contains("k-123"), "a secret masks itself");
        assert_eq!(serde_json::to_value(&parsed.api_key).unwrap(), gateway_domain::MASK);
        let params = ExampleTable::params();
        assert_eq!(params[0].ty, ParamType::Integer);
        assert_eq!(params[1].ty, ParamType::Enum(&["fast", "slow"]));
    }
}

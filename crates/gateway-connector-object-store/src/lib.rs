//! Object-storage connectors on opendal: [`S3Connector`], [`GcsConnector`] and
//! [`LocalConnector`] (the platform's own storage, where LOCAL tables are uploaded).
//!
//! Every HTTP request goes through the guarded [`gateway_connector::OutboundClient`], opendal's
//! included ([`gateway_connector::opendal_guard`]). A peer other than the real provider is
//! reached only through the operator's `GATEWAY_PROVIDER_S3_URL`, `GATEWAY_PROVIDER_GCS_URL`
//! and `GATEWAY_PROVIDER_GOOGLE_OAUTH_URL`, honoured only with private targets allowed; never
//! from anything a request carries.

mod error;
mod gcs;
mod inspect;
mod local;
mod s3;
mod sigv4;
mod source;
pub mod table;

pub use gcs::GcsConnector;
pub use local::LocalConnector;
pub use s3::S3Connector;
pub use source::OpendalSource;

use gateway_connector::{ConnectorError, ErrorKind, OutboundClient};

/// A credential field's text, trimmed; `None` when absent or blank.
fn text<'a>(c: &'a gateway_domain::JsonObject, k: &str) -> Option<&'a str> {
    c.get(k).and_then(serde_json::Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// An operator whose every HTTP request goes through the guarded outbound client.
fn guarded(
    builder: impl opendal::Builder,
    outbound: &OutboundClient,
    what: &str,
) -> Result<opendal::Operator, ConnectorError> {
    let op = opendal::Operator::new(builder).map_err(|e| {
        ConnectorError::new(ErrorKind::WrongSpecification, format!("the {what} settings are not usable: {}", e.kind()))
            .with_source(e)
    })?;
    Ok(gateway_connector::opendal_guard::operator(op, outbound))
}

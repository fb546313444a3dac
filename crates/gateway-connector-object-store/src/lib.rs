//! Object-storage connectors on opendal: [`S3Connector`], [`GcsConnector`] and
//! [`LocalConnector`] (the platform's own storage, where LOCAL tables are uploaded).
//!
//! Every HTTP request goes through the guarded [`gateway_connector::OutboundClient`]: opendal
//! is given its reqwest client as transport. A peer other than the real provider is reached
//! only through [`ObjectStoreSettings`] the operator sets, honoured only with
//! `allow_private`; never from anything a request carries.

mod error;
mod gcs;
mod inspect;
mod local;
mod s3;
mod sigv4;
mod source;

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
    })?;
    let transport =
        opendal::HttpTransporter::new(opendal_http_transport_reqwest::ReqwestTransport::new(outbound.http().clone()));
    Ok(op.with_context(opendal::OperationContext::new().with_http_transport(transport)))
}

/// Where the object-store connectors send requests. The endpoints are the operator's (tests,
/// on-premise); they are honoured only when the outbound client allows private hosts.
#[derive(Debug, Clone, Default)]
pub struct ObjectStoreSettings {
    /// `GATEWAY_S3_ENDPOINT`: an S3-compatible server for every S3 connection (and its STS).
    pub s3_endpoint: Option<String>,
    /// `GATEWAY_GCS_ENDPOINT`: a GCS JSON API server.
    pub gcs_endpoint: Option<String>,
    /// `GATEWAY_GCS_TOKEN_URL`: the OAuth2 token endpoint service-account keys are exchanged at.
    pub gcs_token_url: Option<String>,
}

impl ObjectStoreSettings {
    /// Drops the endpoints unless the outbound client may reach private hosts.
    pub fn effective(&self, allow_private: bool) -> ObjectStoreSettings {
        if allow_private {
            return self.clone();
        }
        if self.s3_endpoint.is_some() || self.gcs_endpoint.is_some() || self.gcs_token_url.is_some() {
            tracing::warn!(
                "GATEWAY_S3_ENDPOINT / GATEWAY_GCS_* are ignored: they need GATEWAY_OUTBOUND_ALLOW_PRIVATE=true"
            );
        }
        ObjectStoreSettings::default()
    }
}

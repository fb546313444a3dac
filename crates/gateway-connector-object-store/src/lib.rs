//! Object-storage connectors on opendal: [`S3Connector`], [`GcsConnector`] and
//! [`LocalConnector`] (the platform's own storage, where LOCAL tables are uploaded).
//!
//! Every HTTP request goes through the guarded [`gateway_connector::OutboundClient`], opendal's
//! included ([`gateway_connector::opendal_guard`]). A peer other than the real provider is
//! reached only through the operator's `GATEWAY_PROVIDER_S3_URL`, `GATEWAY_PROVIDER_GCS_URL`
//! and `GATEWAY_PROVIDER_GOOGLE_OAUTH_URL`, honoured only with private targets allowed; never
//! from anything a request carries.

// Bytes and text from tenants and providers are never sliced or indexed unchecked (a panic
// would be one tenant stopping work for all): `.get()` and friends instead.
#![cfg_attr(not(test), deny(clippy::string_slice, clippy::indexing_slicing))]

mod error;
pub mod fileset;
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

use gateway_connector::api::text;

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

#[cfg(test)]
mod tests {
    use gateway_connector::{OutboundClient, OutboundSettings};

    /// opendal's responses are capped like the client's own: a peer that answers a read with
    /// more than the cap (ignoring the range asked for) fails the read, it is not buffered.
    #[tokio::test]
    async fn opendal_answers_are_capped() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let body = vec![b'x'; 64 * 1024];
                    let head =
                        format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
                    let _ = s.write_all(head.as_bytes()).await;
                    let _ = s.write_all(&body).await;
                });
            }
        });
        let settings =
            OutboundSettings { allow_private: true, max_response_bytes: 4096, ..OutboundSettings::default() };
        let outbound = OutboundClient::new(settings).unwrap();
        let b = opendal::services::S3::default()
            .bucket("bucket-a")
            .region("us-east-1")
            .endpoint(&format!("http://127.0.0.1:{port}"))
            .access_key_id("AKIATEST")
            .secret_access_key("secret")
            .disable_config_load()
            .disable_ec2_metadata();
        let op = super::guarded(b, &outbound, "S3").unwrap();
        let err = op.read("object.csv").await.unwrap_err();
        assert!(err.to_string().contains("larger than 4096 bytes"), "{err}");
    }

    /// opendal's requests pass the guard: an endpoint on loopback (an IP literal, which no
    /// resolver sees) is refused before any connection is made.
    #[tokio::test]
    async fn opendal_requests_to_inside_addresses_are_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let outbound = OutboundClient::new(OutboundSettings::default()).unwrap();
        let b = opendal::services::S3::default()
            .bucket("bucket-a")
            .region("us-east-1")
            .endpoint(&format!("https://127.0.0.1:{port}"))
            .access_key_id("AKIATEST")
            .secret_access_key("secret")
            .disable_config_load()
            .disable_ec2_metadata();
        let op = super::guarded(b, &outbound, "S3").unwrap();
        let err = op.read("object.csv").await.unwrap_err();
        let mapped = super::error::generic(&err, "object 'object.csv'");
        assert_eq!(mapped.kind, gateway_connector::ErrorKind::WrongSpecification, "{mapped}");
        let accepted = tokio::time::timeout(std::time::Duration::from_millis(300), listener.accept()).await;
        assert!(accepted.is_err(), "opendal reached the loopback listener");
    }
}

/// What the fuzz targets (`gateway-fuzz`) reach: S3 errors as opendal carries their text, and
/// S3's XML answers.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// Maps fuzzed text as an S3 error, and reads it as an S3 XML answer.
    pub fn s3_answers(data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        let e = opendal::Error::new(opendal::ErrorKind::PermissionDenied, text.to_string());
        let _ = crate::error::s3(&e, "bucket", Some("object"), "s3:GetObject");
        let _ = crate::error::generic(&e, "the object");
        for tag in ["Code", "Message", "Region", "KeyCount", "Arn"] {
            let _ = crate::s3::xml_tag(&text, tag);
        }
        // A ListObjectsV2 page of a file set, and the text as a tenant's path pattern.
        let _ = crate::fileset::parse_list_page(&text);
        if let Ok(Some(p)) = crate::fileset::Pattern::parse(&text) {
            let _ = p.prefix.len();
        }
    }
}

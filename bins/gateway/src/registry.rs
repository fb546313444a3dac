//! The one list of connectors this gateway serves. Adding a provider is a line here.

use gateway_connector::{DuplicateConnector, OutboundClient, Registry};

/// Every registered connector, each given the one guarded outbound client. Kinds without one
/// are stored but answer 501 CONNECTOR_UNAVAILABLE to their test and preview endpoints.
pub fn registry(_outbound: &OutboundClient) -> Result<Registry, DuplicateConnector> {
    #[allow(unused_mut)]
    let mut registry = Registry::new();
    // Provider crates register here, e.g.:
    // registry.register(Arc::new(gateway_connector_object_store::S3Connector::new(outbound.clone())))?;
    Ok(registry)
}

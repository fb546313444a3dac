//! The one list of connectors this gateway serves. Adding a provider is a line here.

use std::sync::Arc;

use gateway_connector::{DuplicateConnector, OutboundClient, Registry};
use gateway_connector_object_store::{GcsConnector, LocalConnector, ObjectStoreSettings, S3Connector};

/// Every registered connector, each given the one guarded outbound client. Kinds without one
/// are stored but answer 501 CONNECTOR_UNAVAILABLE to their test and preview endpoints.
pub fn registry(
    outbound: &OutboundClient,
    object_stores: &ObjectStoreSettings,
    local: LocalConnector,
) -> Result<Registry, DuplicateConnector> {
    let local = Arc::new(local);
    Ok(Registry::new()
        .with(Arc::new(S3Connector::new(outbound.clone(), object_stores)))?
        .with(Arc::new(GcsConnector::new(outbound.clone(), object_stores)))?
        .with(local.clone())?
        .with_uploads(local))
}

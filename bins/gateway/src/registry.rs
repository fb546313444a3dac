//! The one list of connectors this gateway serves. Adding a provider is a line here (and its
//! crate in Cargo.toml). The test kit builds its gateways from the same list.

use std::sync::Arc;

use gateway_connector::{DuplicateConnector, OutboundClient, Registry};
use gateway_connector_cdp::{MParticleConnector, SegmentConnector};
use gateway_connector_commerce::ShopifyConnector;
use gateway_connector_crm::SalesforceConnector;
use gateway_connector_engagement::{
    BrazeConnector, IterableConnector, IterableFeedConnector, KlaviyoConnector, MovableInkConnector, SailthruConnector,
    SendlaneConnector,
};
use gateway_connector_object_store::{GcsConnector, LocalConnector, S3Connector};
use gateway_connector_warehouse::BigQueryConnector;

/// Every registered connector, each given the one guarded outbound client: every kind of the
/// contract. (An embedder's registry without a kind stores its connections but answers 501
/// CONNECTOR_UNAVAILABLE to their test and preview endpoints.)
pub fn registry(outbound: &OutboundClient, local: LocalConnector) -> Result<Registry, DuplicateConnector> {
    let local = Arc::new(local);
    Ok(Registry::new()
        .with(Arc::new(S3Connector::new(outbound.clone())))?
        .with(Arc::new(GcsConnector::new(outbound.clone())))?
        .with(local.clone())?
        .with(Arc::new(BrazeConnector::new(outbound.clone())))?
        .with(Arc::new(IterableConnector::new(outbound.clone())))?
        .with(Arc::new(IterableFeedConnector::new(outbound.clone())))?
        .with(Arc::new(KlaviyoConnector::new(outbound.clone())))?
        .with(Arc::new(SailthruConnector::new(outbound.clone())))?
        .with(Arc::new(SendlaneConnector::new(outbound.clone())))?
        .with(Arc::new(MovableInkConnector::new(outbound.clone())))?
        .with(Arc::new(SegmentConnector::new(outbound.clone())))?
        .with(Arc::new(MParticleConnector::new(outbound.clone())))?
        .with(Arc::new(SalesforceConnector::new(outbound.clone())))?
        .with(Arc::new(ShopifyConnector::new(outbound.clone())))?
        .with(Arc::new(BigQueryConnector::new(outbound.clone())))?
        .with_uploads(local))
}

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
pub fn registry(
    outbound: &OutboundClient,
    local: LocalConnector,
    fileset_max_files: usize,
) -> Result<Registry, DuplicateConnector> {
    let local = Arc::new(local.with_max_files(fileset_max_files));
    Ok(Registry::new()
        .with(Arc::new(S3Connector::new(outbound.clone()).with_max_files(fileset_max_files)))?
        .with(Arc::new(GcsConnector::new(outbound.clone()).with_max_files(fileset_max_files)))?
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

#[cfg(test)]
mod tests {
    use gateway_connector::OutboundSettings;
    use gateway_domain::ConnectionKind;

    use super::*;

    /// The version calendar: no release ships a connector pinned to a version its provider has
    /// retired (docs/providers.md lists each, with its source). This fails the day one is past:
    /// move the connector to a current version.
    #[test]
    fn no_pinned_api_version_is_retired() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalConnector::from_url(&dir.path().display().to_string()).unwrap();
        let outbound = OutboundClient::new(OutboundSettings::default()).unwrap();
        let registry = registry(&outbound, local, 100_000).unwrap();
        let now = gateway_domain::now_seconds();
        let mut pinned = Vec::new();
        for kind in registry.kinds() {
            let Some(v) = registry.get(kind).and_then(|c| c.api_version()) else { continue };
            assert!(
                v.days_left(now) >= 0,
                "{kind} pins API version {} which retired on {} ({})",
                v.version,
                v.retires,
                v.source
            );
            assert!(v.source.starts_with("https://"), "{kind}: the retirement date needs its source");
            pinned.push(kind);
        }
        // The providers that version their API by date declare it.
        for kind in [ConnectionKind::Klaviyo, ConnectionKind::Shopify, ConnectionKind::Salesforce] {
            assert!(pinned.contains(&kind), "{kind} pins a version and must declare it");
        }
    }
}

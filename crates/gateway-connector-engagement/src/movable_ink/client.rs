//! Where Movable Ink's events go: the behavioral endpoint URL. The gateway never calls it to
//! "test" credentials: the collector ingests every POST as a real event.

use gateway_connector::OutboundClient;

/// The behavioral endpoint URL (`https://<collector>/behavioral/<key>`), or the operator's
/// peer in its place.
pub fn endpoint(outbound: &OutboundClient, collector: &str, key: &str) -> String {
    match outbound.provider_url("MOVABLE_INK") {
        Some(peer) => format!("{peer}/behavioral/{key}"),
        None => format!("https://{collector}/behavioral/{key}"),
    }
}

//! Segment: a source's write key, proven through the settings endpoint Segment's own
//! libraries fetch (the tracking API accepts any key), and an optional Public API token.
//! References: analytics-next `loadCDNSettings` (`https://cdn.segment.com/v1/projects/{writeKey}/settings`),
//! <https://docs.segmentapis.com/tag/Getting-Started> (Public API, Bearer tokens, `GET /`),
//! <https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/>.

mod client;
mod config;
mod connector;
pub(crate) mod error;

pub use connector::SegmentConnector;

//! Sendlane: API v2 with a Bearer token.
//! Reference: Sendlane's OpenAPI export (<https://sendlane.stoplight.io/docs/api-documentation>):
//! `https://api.sendlane.com/v2`, `Authorization: Bearer {apiToken}`, `GET /lists`,
//! `GET /lists/{listId}/contacts`, paginated `{data, links, meta}`.

mod client;
mod config;
mod connector;
pub(crate) mod error;

pub use connector::SendlaneConnector;

//! Movable Ink: its only machine API is the write-only behavioral event collector (the
//! Customer Data API: `POST https://<collector>/behavioral/<endpoint key>` with HTTP Basic
//! auth of the access key id and secret), as Braze's, Segment's and Hightouch's partner docs
//! describe it (<https://www.braze.com/docs/partners/message_personalization/dynamic_content/movable_ink/>).
//! It offers no read-only call: credentials are checked for their form only, and the gateway
//! says so.

mod client;
mod config;
mod connector;
pub(crate) mod error;

pub use connector::MovableInkConnector;

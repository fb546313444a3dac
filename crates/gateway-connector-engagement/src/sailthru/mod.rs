//! Sailthru (Marigold Engage): signed requests with an API key and shared secret.
//! Reference: <https://getstarted.sailthru.com/developers/api-basics/technical/> (signature,
//! transport), <https://getstarted.sailthru.com/developers/api/list/> (`GET /list`),
//! <https://getstarted.sailthru.com/developers/api-basics/responses/> (errors).

mod client;
mod config;
mod connector;
pub(crate) mod error;

pub use connector::SailthruConnector;

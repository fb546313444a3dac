//! mParticle: server-to-server keys for the Events API (POST-only), and optional Platform
//! API credentials that allow a real read-only check.
//! References: <https://docs.mparticle.com/developers/apis/http/> (Events API, pods, Basic
//! auth), <https://docs.mparticle.com/developers/apis/platform/#authentication> (token),
//! <https://docs.mparticle.com/developers/apis/dataplanning-api/> (data plans).

mod client;
mod config;
mod connector;
pub(crate) mod error;

pub use connector::MParticleConnector;

//! Customer data platforms: where customers' users and events flow, and where the platform's
//! recommendations can be sent as traits and events. Neither offers a read API for the data
//! itself; each proves what can be proven read-only and says what cannot. One module per
//! provider in the engagement family's shape (config, client, connector, error).

// Bytes and text from tenants and providers are never sliced or indexed unchecked (a panic
// would be one tenant stopping work for all): `.get()` and friends instead.
#![cfg_attr(not(test), deny(clippy::string_slice, clippy::indexing_slicing))]

mod mparticle;
mod names;
mod segment;

pub use mparticle::MParticleConnector;
pub use segment::SegmentConnector;

/// What the fuzz targets (`gateway-fuzz`) reach: every error mapping of this family's
/// providers, over one answer made of fuzzed bytes.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use gateway_connector::fuzzing::{answer, api};

    pub fn provider_answers(data: &[u8]) {
        let answer = answer(data);
        let _ = crate::mparticle::error::platform_failure(&api("mParticle"), &answer, "w");
        let _ = crate::segment::error::settings_failure(&api("Segment"), &answer);
        let _ = crate::segment::error::api_failure(&api("Segment"), &answer);
    }
}

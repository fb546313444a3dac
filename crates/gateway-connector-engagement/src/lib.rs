//! Engagement platforms, where the platform's recommendations and reports go and where some
//! customers keep their users and lists. One module per provider in the same shape: `config`
//! (credential and table specs), `client` (the provider's calls), `connector` (the trait),
//! `error` (its documented error bodies -> kinds). Every call goes through the guarded
//! outbound client; `GATEWAY_PROVIDER_<KIND>_URL` points one at a local peer.

// Bytes and text from tenants and providers are never sliced or indexed unchecked (a panic
// would be one tenant stopping work for all): `.get()` and friends instead.
#![cfg_attr(not(test), deny(clippy::string_slice, clippy::indexing_slicing))]

mod braze;
mod iterable;
mod klaviyo;
mod movable_ink;
mod sailthru;
mod sendlane;

pub use braze::BrazeConnector;
pub use iterable::{IterableConnector, IterableFeedConnector};
pub use klaviyo::KlaviyoConnector;
pub use movable_ink::MovableInkConnector;
pub use sailthru::SailthruConnector;
pub use sendlane::SendlaneConnector;

/// What the fuzz targets (`gateway-fuzz`) reach: every error mapping of this family's
/// providers, over one answer made of fuzzed bytes.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use gateway_connector::fuzzing::{answer, api};

    pub fn provider_answers(data: &[u8]) {
        let answer = answer(data);
        let _ = crate::braze::error::failure(&api("Braze"), &answer, "catalogs.get", "US-01");
        let _ = crate::iterable::error::failure(&api("Iterable"), &answer, "lists");
        let _ = crate::klaviyo::error::failure(&api("Klaviyo"), &answer, "lists", "lists:read");
        let _ = crate::sailthru::error::failure(&api("Sailthru"), &answer, "lists");
        let _ = crate::sendlane::error::failure(&api("Sendlane"), &answer, "lists");
    }
}

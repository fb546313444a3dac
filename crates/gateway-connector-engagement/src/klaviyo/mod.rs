//! Klaviyo: the JSON:API with a private API key and one pinned revision.
//! Reference: <https://developers.klaviyo.com/en/reference/api_overview> (auth, revisions),
//! <https://developers.klaviyo.com/en/reference/get_accounts>,
//! <https://developers.klaviyo.com/en/reference/get_profiles_for_list>,
//! <https://developers.klaviyo.com/en/docs/rate_limits_and_error_handling>.

mod client;
mod config;
mod connector;
pub(crate) mod error;

pub use connector::KlaviyoConnector;

//! CRM: Salesforce, where customers keep their contacts, leads and accounts. One module per
//! provider in the engagement family's shape (config, client, connector, error).

// Bytes and text from tenants and providers are never sliced or indexed unchecked (a panic
// would be one tenant stopping work for all): `.get()` and friends instead.
#![cfg_attr(not(test), deny(clippy::string_slice, clippy::indexing_slicing))]

mod salesforce;

pub use salesforce::SalesforceConnector;

/// What the fuzz targets (`gateway-fuzz`) reach: every error mapping of this family's
/// providers, over one answer made of fuzzed bytes.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use gateway_connector::fuzzing::{answer, api};

    pub fn provider_answers(data: &[u8]) {
        let answer = answer(data);
        let _ = crate::salesforce::error::rest_failure(&api("Salesforce"), &answer, "accounts");
    }
}

//! Commerce: Shopify, where customers keep their catalog, customers and orders. One module per
//! provider in the engagement family's shape (config, client, connector, error).

// Bytes and text from tenants and providers are never sliced or indexed unchecked (a panic
// would be one tenant stopping work for all): `.get()` and friends instead.
#![cfg_attr(not(test), deny(clippy::string_slice, clippy::indexing_slicing))]

mod shopify;

pub use shopify::ShopifyConnector;

/// What the fuzz targets (`gateway-fuzz`) reach: every error mapping of this family's
/// providers, over one answer made of fuzzed bytes.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use gateway_connector::fuzzing::{answer, api};

    pub fn provider_answers(data: &[u8]) {
        let answer = answer(data);
        let _ = crate::shopify::error::failure(&api("Shopify"), &answer, "products", "read_products");
    }
}

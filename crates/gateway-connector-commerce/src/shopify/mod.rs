//! Shopify: the Admin REST API of a shop with an Admin API access token.
//! References: <https://shopify.dev/docs/api/admin-rest> (auth header, versions),
//! <https://shopify.dev/docs/api/admin-rest/latest/resources/shop>,
//! <https://shopify.dev/docs/api/usage/response-codes>, <https://shopify.dev/docs/api/admin-rest/usage/rate-limits>.

mod client;
mod config;
mod connector;
pub(crate) mod error;

pub use connector::ShopifyConnector;

//! Shopify: the GraphQL Admin API of a shop, with a token from the client-credentials grant of
//! a Dev Dashboard app (or a legacy static Admin API token), its scopes read from
//! `access_scopes.json`. References: <https://shopify.dev/docs/api/admin-graphql>,
//! <https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/client-credentials-grant>,
//! <https://shopify.dev/docs/api/admin-rest/latest/resources/accessscope>,
//! <https://shopify.dev/docs/api/usage/response-codes>, <https://shopify.dev/docs/api/usage/limits>.

mod client;
mod config;
mod connector;
pub(crate) mod error;

pub use connector::ShopifyConnector;

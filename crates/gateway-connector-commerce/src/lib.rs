//! Commerce: Shopify, where customers keep their catalog, customers and orders. One module per
//! provider in the engagement family's shape (config, client, connector, error).

mod shopify;

pub use shopify::ShopifyConnector;

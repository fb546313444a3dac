//! Iterable: lists and user fields (ITERABLE), and catalogs (ITERABLE_FEED), with a
//! server-side API key of the project's data centre.
//! Reference: the API spec at <https://api.iterable.com/api/docs> (Swagger, `Api-Key` header),
//! <https://support.iterable.com/hc/en-us/articles/360043464871-API-Keys>.

mod client;
mod config;
mod connector;
pub(crate) mod error;

pub use connector::{IterableConnector, IterableFeedConnector};

//! Braze: the REST API of the customer's instance, with a REST API key.
//! Reference: <https://www.braze.com/docs/api/basics/> (instances, Bearer auth, errors),
//! <https://www.braze.com/docs/api/endpoints/catalogs/catalog_management/synchronous/get_list_catalogs/>.

mod client;
mod config;
mod connector;
pub(crate) mod error;

pub use connector::BrazeConnector;

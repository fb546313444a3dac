//! Salesforce: an External Client App's client credentials, exchanged at the org's My Domain,
//! then the REST API of the instance the token names.
//! References: <https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_client_credentials_flow.htm>,
//! <https://developer.salesforce.com/docs/platform/api-rest/guide/dome-limits.md>,
//! <https://developer.salesforce.com/docs/platform/api-rest/guide/dome-sobject-describe.md>,
//! <https://developer.salesforce.com/docs/platform/api-rest/guide/dome-query.md>.

mod client;
mod config;
mod connector;
pub(crate) mod error;

pub use connector::SalesforceConnector;

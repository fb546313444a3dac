//! CRM: Salesforce, where customers keep their contacts, leads and accounts. One module per
//! provider in the engagement family's shape (config, client, connector, error).

mod salesforce;

pub use salesforce::SalesforceConnector;

//! Salesforce credentials, tables, and the REST API version every call is pinned to.

use gateway_connector::{Secret, Shape};
use gateway_domain::Resource;

/// The REST API version every call uses: one place to move it.
pub const API_VERSION: &str = "v62.0";

/// My Domain partitions (<https://help.salesforce.com/s/articleView?id=sf.domain_name_formats.htm>).
const PARTITIONS: &[&str] = &["sandbox", "develop", "patch", "scratch", "trailblaze", "demo", "free"];

/// Names that are no org's: `localhost` would read as a host to a person, whatever Salesforce
/// would make of it.
const RESERVED: &[&str] = &["localhost", "local", "login", "test"];

fn label_ok(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

/// The org's My Domain host from a name (`acme`, `acme--uat`) or a host
/// (`acme.my.salesforce.com`, `acme--uat.sandbox.my.salesforce.com`,
/// `acme-dev-ed.develop.my.salesforce.com`), lower case; `None` for anything else.
pub fn my_domain(given: &str) -> Option<String> {
    let v = given.trim().to_ascii_lowercase();
    let v = v.strip_prefix("https://").unwrap_or(&v);
    let v = v.strip_suffix('/').unwrap_or(v);
    let Some(rest) = v.strip_suffix(".my.salesforce.com") else {
        return (label_ok(v) && !RESERVED.contains(&v)).then(|| format!("{v}.my.salesforce.com"));
    };
    let parts: Vec<&str> = rest.split('.').collect();
    let ok = match parts.as_slice() {
        [name] => label_ok(name) && !RESERVED.contains(name),
        [name, partition] => label_ok(name) && !RESERVED.contains(name) && PARTITIONS.contains(partition),
        _ => false,
    };
    ok.then(|| format!("{rest}.my.salesforce.com"))
}

/// Whether an `instance_url` the token endpoint answered may be called: https on a
/// `*.salesforce.com` host (My Domain, or a legacy instance such as `na1.salesforce.com`), no
/// port, user or path.
pub fn instance_ok(url: &str) -> bool {
    let Some(host) = url.trim_end_matches('/').strip_prefix("https://") else { return false };
    let Some(rest) = host.strip_suffix(".salesforce.com") else { return false };
    !rest.is_empty() && rest.split('.').all(label_ok)
}

pub const DOMAIN: Shape = Shape {
    pattern: "^[A-Za-z0-9-]+(\\.(sandbox|develop|patch|scratch|trailblaze|demo|free))?(\\.my\\.salesforce\\.com)?$",
    check: |s| my_domain(s).is_some(),
    hint: "the org's My Domain: its name (acme) or host (acme.my.salesforce.com, acme--uat.sandbox.my.salesforce.com)",
};

gateway_connector::credentials! {
    /// Salesforce credentials: an External Client App with the client-credentials flow.
    pub struct SalesforceCredentials {
        /// the org's My Domain name or host
        domain: String => [shape(DOMAIN), routes],
        /// the External Client App's consumer key
        client_id: String,
        /// the External Client App's consumer secret
        client_secret: Secret,
    }
}

gateway_connector::table_params! {
    /// A Salesforce table: an sObject.
    pub struct SalesforceTable {
        /// the sObject's API name (Contact, Lead, Account, Product2, a custom Thing__c); the table's name when absent
        object: Option<String>,
    }
}

pub const RESOURCES: &[Resource] =
    &[Resource::Item, Resource::User, Resource::UserId, Resource::Rating, Resource::Interaction];

/// Salesforce supports each REST API version at least three years; v62.0 (Winter '25) is
/// supported (41.0 to 68.0 are); versions retire by release, 31.0-40.0 in Summer '28
/// (<https://developer.salesforce.com/docs/platform/connect-rest-api/guide/intro_api_eol>).
/// v62.0's earliest retirement: Winter '28 (three years after its release).
pub const VERSION: gateway_connector::ApiVersion = gateway_connector::ApiVersion {
    version: API_VERSION,
    retires: "2027-10-01",
    source: "https://developer.salesforce.com/docs/platform/connect-rest-api/guide/intro_api_eol",
};

/// sObject API names: a letter, then letters, digits and underscores (custom ones end in
/// `__c`), at most 80 characters.
pub fn object_ok(name: &str) -> bool {
    (1..=80).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn my_domains_and_instances() {
        for (given, host) in [
            ("acme", "acme.my.salesforce.com"),
            ("ACME.my.salesforce.com", "acme.my.salesforce.com"),
            ("https://acme--uat.sandbox.my.salesforce.com/", "acme--uat.sandbox.my.salesforce.com"),
            ("acme-dev-ed.develop.my.salesforce.com", "acme-dev-ed.develop.my.salesforce.com"),
        ] {
            assert_eq!(my_domain(given).as_deref(), Some(host), "{given}");
        }
        for bad in [
            "evil.com",
            "acme.my.salesforce.com.evil.com",
            "acme.evil.my.salesforce.com",
            "127.0.0.1",
            "a b",
            "x@acme",
            "acme.my.salesforce.com:443",
            "localhost:8443/",
        ] {
            assert_eq!(my_domain(bad), None, "{bad}");
        }
        assert!(instance_ok("https://acme.my.salesforce.com"));
        assert!(instance_ok("https://na1.salesforce.com/"));
        for bad in [
            "http://acme.my.salesforce.com",
            "https://acme.my.salesforce.com.evil.com",
            "https://evil.com",
            "https://127.0.0.1",
            "https://acme.my.salesforce.com:8443",
            "https://u@acme.my.salesforce.com",
        ] {
            assert!(!instance_ok(bad), "{bad}");
        }
        assert!(object_ok("Contact") && object_ok("Loyalty_Tier__c"));
        assert!(!object_ok("Contact WHERE 1=1") && !object_ok("1x") && !object_ok(""));
    }
}

//! The Klaviyo connector: a private key proven by `GET /api/accounts/` (a success cached a
//! minute per key: the endpoint allows 15 calls a minute); lists as user sources (a page of
//! profiles), profile properties as recommendation destinations.

use gateway_connector::api::JsonAt;
use std::collections::HashMap;
use std::sync::Mutex;

use gateway_connector::{
    Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, Inspection, OutboundClient, Step, TableSpec,
};
use gateway_domain::{ConnectionKind, Credentials, JsonObject, Problem, Resource, Table, now_seconds};
use serde_json::Value;

use super::client::Client;
use super::config;
use gateway_connector::api::text;

pub struct KlaviyoConnector {
    spec: CredentialSpec,
    tables: TableSpec,
    outbound: OutboundClient,
    /// Successful checks by key fingerprint: what they found, and until when they hold.
    checked: Mutex<HashMap<String, (String, i64)>>,
}

impl std::fmt::Debug for KlaviyoConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KlaviyoConnector").finish_non_exhaustive()
    }
}

/// A map key for a private key: an HMAC under a key of this process's own, so the map holds
/// nothing that could be matched against a known key.
fn fingerprint(key: &str) -> String {
    static SALT: std::sync::OnceLock<aws_lc_rs::hmac::Key> = std::sync::OnceLock::new();
    let salt = SALT.get_or_init(|| {
        let mut bytes = [0u8; 32];
        let _ = aws_lc_rs::rand::fill(&mut bytes);
        aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &bytes)
    });
    aws_lc_rs::hmac::sign(salt, key.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl KlaviyoConnector {
    pub fn new(outbound: OutboundClient) -> KlaviyoConnector {
        KlaviyoConnector {
            spec: config::credential_spec(),
            tables: config::table_spec(),
            outbound,
            checked: Mutex::default(),
        }
    }

    fn key(c: &JsonObject) -> Result<&str, ConnectorError> {
        text(c, "private_api_key")
            .ok_or_else(|| ConnectorError::new(ErrorKind::WrongCredentials, "'private_api_key' is missing"))
    }

    fn target(table: &Table, key: &str) -> String {
        table.connection_table_params.get(key).and_then(Value::as_str).unwrap_or(table.name.as_str()).to_owned()
    }
}

#[async_trait::async_trait]
impl Connector for KlaviyoConnector {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Klaviyo
    }

    fn credential_spec(&self) -> &CredentialSpec {
        &self.spec
    }

    fn table_spec(&self) -> &TableSpec {
        &self.tables
    }

    fn check_table(&self, table: &Table) -> Result<(), Problem> {
        self.tables.check(table)?;
        if table.resource != Resource::UserToItemsReco {
            let id = Self::target(table, "list_id");
            if !config::list_id_ok(&id) {
                return Err(Problem::wrong_field(
                    "connection_table_params.list_id",
                    format!("'{id}' is not a Klaviyo list id (letters and digits, e.g. Y6nRLr)"),
                ));
            }
        }
        Ok(())
    }

    async fn test_credentials(&self, credentials: &Credentials) -> Result<CredentialCheck, ConnectorError> {
        let key = Self::key(credentials.expose())?;
        let id = fingerprint(key);
        let now = now_seconds();
        let mut check = CredentialCheck::default();
        if let Ok(cache) = self.checked.lock()
            && let Some((found, until)) = cache.get(&id)
            && *until > now
        {
            check.steps.push(Step::passed("get_account", format!("{found} (checked less than a minute ago)")));
            return Ok(check);
        }
        match Client::new(&self.outbound, key).account().await {
            Ok(account) => {
                let org =
                    account.at("/attributes/contact_information/organization_name").as_str().unwrap_or("an account");
                let found = format!(
                    "the key belongs to {org} ({}), GET /api/accounts/",
                    account.at("/id").as_str().unwrap_or("?")
                );
                if account.at("/attributes/test_account") == true {
                    check.warnings.push("this is a Klaviyo test account".into());
                }
                if let Ok(mut cache) = self.checked.lock() {
                    cache.retain(|_, (_, until)| *until > now);
                    cache.insert(id, (found.clone(), now + 60));
                }
                check.steps.push(Step::passed("get_account", found));
            }
            Err(e) => check.steps.push(Step::failed("get_account", e.kind, e.message)),
        }
        Ok(check)
    }

    async fn inspect_table(
        &self,
        credentials: Option<&Credentials>,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let credentials =
            credentials.ok_or_else(|| ConnectorError::new(ErrorKind::WrongCredentials, "no credentials"))?;
        let key = Self::key(credentials.expose())?;
        let mut detected = JsonObject::new();
        if table.resource == Resource::UserToItemsReco {
            let property = Self::target(table, "property");
            detected.insert("property".into(), property.clone().into());
            return Ok(Inspection {
                detected,
                warnings: vec![format!(
                    "profile property '{property}': Klaviyo lists no profile properties and offers no read-only check that the key may update profiles (profiles:write)"
                )],
                ..Inspection::default()
            });
        }
        let list_id = Self::target(table, "list_id");
        let profiles = Client::new(&self.outbound, key).list_profiles(&list_id, sample_rows).await?;
        // A profile as a row: its id and its attributes, nested ones as dotted paths.
        let records = profiles.into_iter().map(|p| {
            let mut row = JsonObject::new();
            row.insert("id".into(), p.at("/id").clone());
            if let Value::Object(attributes) = &p.at("/attributes") {
                row.extend(attributes.clone());
            }
            row
        });
        let (columns, rows) = gateway_formats::records_sample(records);
        detected.insert("list_id".into(), list_id.clone().into());
        let warnings = if rows.is_empty() { vec![format!("list '{list_id}' has no profiles yet")] } else { Vec::new() };
        Ok(Inspection { detected, columns, rows, writable: None, bytes_read: 0, warnings })
    }
}

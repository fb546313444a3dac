//! Google Cloud Storage with a service-account key: an OAuth2 JWT-bearer exchange (an RS256
//! assertion signed with the key), then the JSON API.

use gateway_connector::google::{GoogleAuth, ServiceAccountKey};
use gateway_connector::{
    Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, FieldSpec, FieldType, Inspection,
    OutboundClient, Step, TableSpec,
};
use gateway_domain::{ConnectionKind, Credentials, JsonObject, Problem, Table};
use opendal::Operator;
use serde_json::Value;

use crate::table::{Files, GCS_BUCKET};
use crate::{error, inspect, table, text};

const API: &str = "https://storage.googleapis.com";
const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.read_write";
const FILES: Files = Files::Bucket(GCS_BUCKET);

#[derive(Debug)]
pub struct GcsConnector {
    spec: CredentialSpec,
    tables: TableSpec,
    outbound: OutboundClient,
    /// The JSON API's origin: Google's, or the operator's peer (`GATEWAY_PROVIDER_GCS_URL`).
    api: String,
    /// Service-account key exchange, tokens cached so previews do not exchange on every call.
    auth: GoogleAuth,
}

impl GcsConnector {
    pub fn new(outbound: OutboundClient) -> GcsConnector {
        let f = |n, d| FieldSpec::optional(n, FieldType::String, d);
        GcsConnector {
            spec: CredentialSpec::new(
                ConnectionKind::Gcs,
                vec![
                    FieldSpec::required("type", FieldType::String, "\"service_account\", as in the key file"),
                    FieldSpec::required("project_id", FieldType::String, "the key's project"),
                    FieldSpec::required("private_key_id", FieldType::String, "the key's id"),
                    FieldSpec::required("private_key", FieldType::String, "the key's PEM private key").secret(),
                    FieldSpec::required("client_email", FieldType::String, "the service account's e-mail"),
                    f("client_id", "from the key file"),
                    f("auth_uri", "from the key file"),
                    f("token_uri", "from the key file (never followed: keys are exchanged at Google's token endpoint)"),
                    f("auth_provider_x509_cert_url", "from the key file"),
                    f("client_x509_cert_url", "from the key file"),
                    f("universe_domain", "from the key file"),
                    f("bucket", "the bucket tables read from unless they name one").shape(GCS_BUCKET),
                    FieldSpec::optional(
                        "service_account_key",
                        FieldType::ObjectOrString,
                        "the whole key file, as an object or the JSON text; its fields fill the others",
                    ),
                ],
            ),
            tables: table::spec(FILES),
            api: outbound.provider_url("GCS").unwrap_or(API).to_owned(),
            auth: GoogleAuth::new(outbound.clone()),
            outbound,
        }
    }

    /// objects.list with maxResults=1: the bucket exists and the key may list it.
    async fn list_bucket(&self, token: &str, bucket: &str) -> Result<(), ConnectorError> {
        let mut url = url::Url::parse(&format!("{}/storage/v1/b/", self.api))
            .map_err(|_| ConnectorError::new(ErrorKind::WrongSpecification, "the GCS endpoint is not valid"))?;
        url.path_segments_mut()
            .map_err(|_| ConnectorError::new(ErrorKind::Unknown, "bad URL"))?
            .pop_if_empty()
            .push(bucket)
            .push("o");
        url.query_pairs_mut().append_pair("maxResults", "1");
        let req = self
            .outbound
            .request(reqwest::Method::GET, url)
            .bearer_auth(token)
            .build()
            .map_err(|_| ConnectorError::new(ErrorKind::Unknown, "cannot build the list request"))?;
        let res = self.outbound.send(req).await?;
        match res.status().as_u16() {
            200 => Ok(()),
            404 => Err(ConnectorError::new(ErrorKind::ResourceNotFound, format!("bucket '{bucket}' does not exist"))),
            401 => Err(ConnectorError::new(ErrorKind::WrongCredentials, "the access token was refused")),
            403 => Err(ConnectorError::new(
                ErrorKind::Forbidden,
                format!("access denied: the service account lacks storage.objects.list on bucket '{bucket}'"),
            )),
            429 => Err(ConnectorError::new(ErrorKind::RateLimited, "GCS asks to slow down")),
            s => {
                Err(ConnectorError::new(ErrorKind::Unavailable, format!("GCS answered {s} listing bucket '{bucket}'")))
            }
        }
    }

    async fn inspect_with_token(
        &self,
        credentials: &Credentials,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let params = inspect::params(table, FILES)?;
        let token = self.auth.token(&ServiceAccountKey::from_credentials(credentials.expose())?, SCOPE).await?;
        let bucket = inspect::bucket(&params, credentials.expose())?;
        let path = inspect::object_path(table, &params);
        let op = self.operator(&token, &bucket)?;
        let what = format!("object '{path}' in bucket '{bucket}'");
        if table.resource.is_destination() {
            self.list_bucket(&token, &bucket).await?;
            return inspect::destination(op, &path, |e| error::generic(e, &what)).await;
        }
        match inspect::source(op, &path, &params, sample_rows, |e| error::generic(e, &what)).await {
            Err(e) if e.kind == ErrorKind::ResourceNotFound => {
                self.list_bucket(&token, &bucket).await?;
                Err(ConnectorError::new(
                    ErrorKind::ResourceNotFound,
                    format!("object '{path}' does not exist in bucket '{bucket}'"),
                ))
            }
            other => other,
        }
    }

    fn operator(&self, token: &str, bucket: &str) -> Result<Operator, ConnectorError> {
        let b = opendal::services::Gcs::default()
            .bucket(bucket)
            .endpoint(&self.api)
            .token(token.to_owned())
            .disable_config_load()
            .disable_vm_metadata();
        crate::guarded(b, &self.outbound, "GCS")
    }
}

#[async_trait::async_trait]
impl Connector for GcsConnector {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Gcs
    }

    fn credential_spec(&self) -> &CredentialSpec {
        &self.spec
    }

    fn table_spec(&self) -> &TableSpec {
        &self.tables
    }

    fn check_table(&self, table: &Table) -> Result<(), Problem> {
        table::check(table, &self.tables, FILES)
    }

    /// The key's fields, or the whole key file in `service_account_key` (an object or its
    /// JSON text), whose fields fill those not given.
    fn validate_credentials(&self, credentials: &JsonObject) -> Result<JsonObject, Problem> {
        let mut c = credentials.clone();
        if let Some(file) = c.remove("service_account_key") {
            let field = "credentials.service_account_key";
            let key = match file {
                Value::Object(o) => o,
                Value::String(s) => match serde_json::from_str::<Value>(&s) {
                    Ok(Value::Object(o)) => o,
                    _ => {
                        return Err(Problem::wrong_field(field, "'service_account_key' is not the JSON of a key file"));
                    }
                },
                _ => {
                    return Err(Problem::wrong_field(
                        field,
                        "'service_account_key' must be an object or its JSON text",
                    ));
                }
            };
            for (k, v) in key {
                if self.spec.field(&k).is_none() {
                    return Err(Problem::wrong_field(
                        format!("{field}.{k}"),
                        format!("the key file holds an unknown field '{k}'"),
                    ));
                }
                c.entry(k).or_insert(v);
            }
        }
        let c = self.spec.validate(&c)?;
        if text(&c, "type") != Some("service_account") {
            return Err(Problem::wrong_field(
                "credentials.type",
                "'type' must be \"service_account\": use a service-account key file",
            ));
        }
        if !text(&c, "private_key").is_some_and(|k| k.contains("PRIVATE KEY")) {
            return Err(Problem::wrong_field(
                "credentials.private_key",
                "'private_key' must be the PEM key of the key file",
            ));
        }
        Ok(c)
    }

    async fn test_credentials(&self, credentials: &Credentials) -> Result<CredentialCheck, ConnectorError> {
        let c = credentials.expose();
        let mut check = CredentialCheck::default();
        // Always a fresh exchange: checking the key is the point.
        let exchanged = match ServiceAccountKey::from_credentials(c) {
            Ok(key) => self.auth.exchange(&key, SCOPE).await.map(|t| t.token),
            Err(e) => Err(e),
        };
        let token = match exchanged {
            Ok(t) => {
                check
                    .steps
                    .push(Step::passed("token_exchange", "the service-account key was exchanged for an access token"));
                t
            }
            Err(e) => {
                check.steps.push(Step::failed("token_exchange", e.kind, e.message));
                check.steps.push(Step::skipped("list_bucket", "not tried: the key was refused"));
                return Ok(check);
            }
        };
        match text(c, "bucket") {
            Some(bucket) => match self.list_bucket(&token, bucket).await {
                Ok(()) => check.steps.push(Step::passed(
                    "list_bucket",
                    format!("listed bucket '{bucket}' (objects.list, maxResults=1)"),
                )),
                Err(e) => check.steps.push(Step::failed("list_bucket", e.kind, e.message)),
            },
            None => {
                check.steps.push(Step::skipped("list_bucket", "no bucket given"));
                check.warnings.push("no bucket given: access to a bucket was not checked".into());
            }
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
        let key = ServiceAccountKey::from_credentials(credentials.expose())?;
        match self.inspect_with_token(credentials, table, sample_rows).await {
            // A cached token GCS refuses (revoked, rotated key): forget it and try once more
            // with a fresh exchange.
            Err(e) if e.kind == ErrorKind::WrongCredentials => {
                self.auth.forget(&key, SCOPE);
                self.inspect_with_token(credentials, table, sample_rows).await
            }
            other => other,
        }
    }
}

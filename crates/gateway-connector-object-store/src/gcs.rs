//! Google Cloud Storage with a service-account key: an OAuth2 JWT-bearer exchange (an RS256
//! assertion signed with the key), then the JSON API.

use gateway_connector::{
    Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, FieldSpec, FieldType, Inspection,
    OutboundClient, Step,
};
use gateway_domain::{ConnectionKind, Credentials, JsonObject, Problem, Table};
use opendal::Operator;
use serde_json::{Value, json};

use crate::{ObjectStoreSettings, error, inspect, text};

const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
const API: &str = "https://storage.googleapis.com";
const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.read_write";

#[derive(Debug)]
pub struct GcsConnector {
    spec: CredentialSpec,
    outbound: OutboundClient,
    token_url: String,
    api: String,
    /// Access tokens by key (a hash of the e-mail and private key) with their expiry, so
    /// previews do not exchange the key on every request.
    tokens: std::sync::Mutex<std::collections::HashMap<String, (String, i64)>>,
}

impl GcsConnector {
    pub fn new(outbound: OutboundClient, settings: &ObjectStoreSettings) -> GcsConnector {
        let settings = settings.effective(outbound.settings().allow_private);
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
                    f("token_uri", "from the key file (the gateway uses Google's token endpoint)"),
                    f("auth_provider_x509_cert_url", "from the key file"),
                    f("client_x509_cert_url", "from the key file"),
                    f("universe_domain", "from the key file"),
                    f("bucket", "the bucket tables read from unless they name one"),
                    FieldSpec::optional(
                        "service_account_key",
                        FieldType::ObjectOrString,
                        "the whole key file, as an object or the JSON text; its fields fill the others",
                    ),
                ],
            ),
            outbound,
            token_url: settings.gcs_token_url.unwrap_or_else(|| TOKEN_URL.into()),
            api: settings.gcs_endpoint.unwrap_or_else(|| API.into()).trim_end_matches('/').to_owned(),
            tokens: Default::default(),
        }
    }

    fn cache_key(c: &JsonObject) -> String {
        let material =
            format!("{}\n{}", text(c, "client_email").unwrap_or_default(), text(c, "private_key").unwrap_or_default());
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, material.as_bytes())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// A cached access token for the key while it has a minute left, else a fresh one.
    async fn cached_token(&self, c: &JsonObject) -> Result<String, ConnectorError> {
        let key = Self::cache_key(c);
        let now = gateway_domain::now_seconds();
        if let Ok(tokens) = self.tokens.lock()
            && let Some((token, expires)) = tokens.get(&key)
            && *expires > now + 60
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = self.exchange(c).await?;
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.retain(|_, (_, e)| *e > now);
            tokens.insert(key, (token.clone(), now + lifetime));
        }
        Ok(token)
    }

    /// Exchanges the key for an access token; answers it with its lifetime in seconds.
    async fn exchange(&self, c: &JsonObject) -> Result<(String, i64), ConnectorError> {
        let wrong = |m: &str| ConnectorError::new(ErrorKind::WrongCredentials, m.to_owned());
        let email = text(c, "client_email").ok_or_else(|| wrong("'client_email' is missing"))?;
        let pem = text(c, "private_key").ok_or_else(|| wrong("'private_key' is missing"))?;
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.replace("\\n", "\n").as_bytes())
            .map_err(|_| wrong("'private_key' is not a PEM RSA private key"))?;
        let now = gateway_domain::now_seconds();
        let claims = json!({"iss": email, "scope": SCOPE, "aud": self.token_url, "iat": now, "exp": now + 3600});
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = text(c, "private_key_id").map(str::to_owned);
        let assertion = jsonwebtoken::encode(&header, &claims, &key).map_err(|_| wrong("the key cannot sign"))?;
        let url = url::Url::parse(&self.token_url)
            .map_err(|_| ConnectorError::new(ErrorKind::WrongSpecification, "the token URL is not valid"))?;
        let body = format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}");
        let req = self
            .outbound
            .request(reqwest::Method::POST, url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .build()
            .map_err(|_| ConnectorError::new(ErrorKind::Unknown, "cannot build the token request"))?;
        let res = self.outbound.send(req).await?;
        let status = res.status();
        let answer: Value = serde_json::from_slice(&self.outbound.read_body(res).await?).unwrap_or(Value::Null);
        if status.is_success() {
            let lifetime = answer["expires_in"].as_i64().unwrap_or(0);
            return answer["access_token"].as_str().map(|t| (t.to_owned(), lifetime)).ok_or_else(|| {
                ConnectorError::new(ErrorKind::Unavailable, "the token endpoint answered without a token")
            });
        }
        let code = answer["error"].as_str().unwrap_or_default();
        let detail = answer["error_description"].as_str().unwrap_or(code);
        match (status.as_u16(), code) {
            (_, "invalid_grant" | "invalid_client" | "unauthorized_client") | (400 | 401, _) => {
                Err(wrong(&format!("Google refused the service-account key: {detail}")))
            }
            (429, _) => Err(ConnectorError::new(ErrorKind::RateLimited, "the token endpoint asks to slow down")),
            _ => Err(ConnectorError::new(ErrorKind::Unavailable, format!("the token endpoint answered {status}"))),
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
        let token = match self.exchange(c).await.map(|(t, _)| t) {
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
        let token = self.cached_token(credentials.expose()).await?;
        let bucket = inspect::bucket(table, credentials.expose())?;
        let path = inspect::object_path(table);
        let op = self.operator(&token, &bucket)?;
        let what = format!("object '{path}' in bucket '{bucket}'");
        if table.resource.is_destination() {
            self.list_bucket(&token, &bucket).await?;
            return inspect::destination(op, &path, |e| error::generic(e, &what)).await;
        }
        match inspect::source(op, &path, table, sample_rows, |e| error::generic(e, &what)).await {
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
}

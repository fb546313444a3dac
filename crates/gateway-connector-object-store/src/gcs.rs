//! Google Cloud Storage with a service-account key: an OAuth2 JWT-bearer exchange (an RS256
//! assertion signed with the key), then the JSON API.

use gateway_connector::google::{GoogleAuth, ServiceAccountKey};
use gateway_connector::{
    Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, FieldSpec, FieldType, Inspection,
    OutboundClient, Step, TableSpec,
};
use gateway_domain::{ConnectionKind, Credentials, JsonObject, Problem, Table};
use opendal::Operator;
use std::sync::Arc;

use crate::table::{Files, GCS_BUCKET};
use crate::{error, inspect, table, text};

const API: &str = "https://storage.googleapis.com";
const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.read_write";
const FILES: Files = Files::Bucket(GCS_BUCKET);
/// Seconds a whole read's token must have left when the read's signer asks for one (a cached
/// token with less is exchanged again). The signer keeps a token until two minutes before it
/// expires and then asks again, so a read outlasting any one token (Google's last an hour)
/// signs each request with a live one.
const WHOLE_READ_TOKEN_SECS: i64 = 300;

#[derive(Debug)]
pub struct GcsConnector {
    spec: CredentialSpec,
    tables: TableSpec,
    outbound: OutboundClient,
    /// The JSON API's origin: Google's, or the operator's peer (`GATEWAY_PROVIDER_GCS_URL`).
    api: String,
    /// Service-account key exchange, tokens cached so previews do not exchange on every call.
    auth: Arc<GoogleAuth>,
    /// The most files a file-set table may match (`GATEWAY_FILESET_MAX_FILES`).
    max_files: usize,
}

impl GcsConnector {
    pub fn new(outbound: OutboundClient) -> GcsConnector {
        let mut fields = gateway_connector::google::key_file_fields();
        fields.push(
            FieldSpec::optional("bucket", FieldType::String, "the bucket tables read from unless they name one")
                .shape(GCS_BUCKET),
        );
        GcsConnector {
            spec: CredentialSpec::new(ConnectionKind::Gcs, fields),
            tables: table::spec(FILES),
            api: outbound.provider_url("GCS").unwrap_or(API).to_owned(),
            auth: Arc::new(GoogleAuth::new(outbound.clone())),
            outbound,
            max_files: crate::fileset::MAX_FILES,
        }
    }

    /// The most files a file-set table may match (default [`crate::fileset::MAX_FILES`]).
    pub fn with_max_files(mut self, max: usize) -> GcsConnector {
        self.max_files = max.max(1);
        self
    }

    /// objects.list with maxResults=1: the bucket exists and the key may list it.
    async fn list_bucket(&self, token: &str, bucket: &str) -> Result<(), ConnectorError> {
        self.list_bucket_under(token, bucket, "").await
    }

    /// objects.list with maxResults=1 under `prefix`.
    async fn list_bucket_under(&self, token: &str, bucket: &str, prefix: &str) -> Result<(), ConnectorError> {
        let mut url = url::Url::parse(&format!("{}/storage/v1/b/", self.api))
            .map_err(|_| ConnectorError::new(ErrorKind::WrongSpecification, "the GCS endpoint is not valid"))?;
        url.path_segments_mut()
            .map_err(|_| ConnectorError::new(ErrorKind::Unknown, "bad URL"))?
            .pop_if_empty()
            .push(bucket)
            .push("o");
        url.query_pairs_mut().append_pair("maxResults", "1");
        if !prefix.is_empty() {
            url.query_pairs_mut().append_pair("prefix", prefix);
        }
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
        let set = crate::fileset::Pattern::of(&params, &path)?.is_some();
        match inspect::source(op, &path, &params, sample_rows, self.max_files, |e| error::generic(e, &what)).await {
            Err(e) if e.kind == ErrorKind::ResourceNotFound && !set => {
                self.list_bucket(&token, &bucket).await?;
                Err(ConnectorError::new(
                    ErrorKind::ResourceNotFound,
                    format!("object '{path}' does not exist in bucket '{bucket}'"),
                ))
            }
            other => other,
        }
    }

    async fn open_with_token(
        &self,
        credentials: &Credentials,
        table: &Table,
    ) -> Result<Vec<std::sync::Arc<dyn gateway_connector::TableFile>>, ConnectorError> {
        let params = inspect::params(table, FILES)?;
        // The read's requests are signed with a token refreshed before it expires (a whole
        // read may outlast an hour's token). The first is asked for here, so a key Google
        // refuses fails the read before any file is opened, with Google's reason.
        let key = ServiceAccountKey::from_credentials(credentials.expose())?;
        self.auth.token_lasting(&key, SCOPE, WHOLE_READ_TOKEN_SECS).await?;
        let bucket = inspect::bucket(&params, credentials.expose())?;
        let path = inspect::object_path(table, &params);
        let why = crate::source::Reason::default();
        let tokens =
            RefreshingToken { auth: self.auth.clone(), credentials: credentials.expose().clone(), why: why.clone() };
        let b = self.builder(&bucket).credential_provider(tokens);
        let op = crate::guarded(b, &self.outbound, "GCS")?;
        let what = format!("object '{path}' in bucket '{bucket}'");
        let classify = |e: &opendal::Error| {
            let mut c = error::generic(e, &what);
            if let Some(reason) = why.lock().ok().and_then(|w| w.clone()) {
                c.message = format!("{}: {reason}", c.message);
            }
            c
        };
        match crate::fileset::Pattern::of(&params, &path)? {
            Some(pattern) => {
                let files = crate::fileset::list(&op, &pattern, self.max_files, &classify).await?;
                inspect::open_files(op, &path, Some((&pattern, files)), classify, Some(&why)).await
            }
            None => inspect::open_files(op, &path, None, classify, Some(&why)).await,
        }
    }

    fn operator(&self, token: &str, bucket: &str) -> Result<Operator, ConnectorError> {
        crate::guarded(self.builder(bucket).token(token.to_owned()), &self.outbound, "GCS")
    }

    /// The JSON API for a bucket, with no credentials of its own and none from the machine.
    fn builder(&self, bucket: &str) -> opendal::services::Gcs {
        opendal::services::Gcs::default().bucket(bucket).endpoint(&self.api).disable_config_load().disable_vm_metadata()
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
        gateway_connector::google::validate_key_credentials(&self.spec, credentials)
    }

    async fn test_credentials(
        &self,
        credentials: &Credentials,
        tables: &[Table],
    ) -> Result<CredentialCheck, ConnectorError> {
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
        // What the source tables need: each object read (storage.objects.get), each set
        // listed under its prefix (storage.objects.list). Writes are proven by each
        // destination's own test (a probe object written and deleted).
        let mut checked = 0;
        for t in tables.iter().filter(|t| !t.resource.is_destination()).take(10) {
            let Ok(params) = inspect::params(t, FILES) else { continue };
            let Ok(bucket) = inspect::bucket(&params, c) else { continue };
            let path = inspect::object_path(t, &params);
            let op = self.operator(&token, &bucket)?;
            let name = format!("read_table:{}", t.name);
            let what = format!("object '{path}' in bucket '{bucket}'");
            let (result, grant) = match crate::fileset::Pattern::of(&params, &path)? {
                Some(p) => (self.list_bucket_under(&token, &bucket, &p.prefix).await, "storage.objects.list"),
                None => {
                    (op.stat(&path).await.map(|_| ()).map_err(|e| error::generic(&e, &what)), "storage.objects.get")
                }
            };
            checked += 1;
            match result {
                Ok(()) => check.steps.push(Step::passed(name, format!("the key may read {what} ({grant})"))),
                Err(e) if e.kind == ErrorKind::ResourceNotFound => {
                    check.warnings.push(format!("table '{}': {} (its own test reports it)", t.name, e.message));
                }
                Err(e) if e.kind == ErrorKind::Forbidden => check.steps.push(Step::failed(
                    name,
                    ErrorKind::Forbidden,
                    format!(
                        "{}: grant {grant} (Storage Object Viewer, roles/storage.objectViewer) on bucket '{bucket}'",
                        e.message
                    ),
                )),
                Err(e) => check.steps.push(Step::failed(name, e.kind, e.message)),
            }
        }
        if checked > 0 {
            if check.steps.len() == 1 {
                check.steps.push(Step::skipped("read_table", "no source table's object exists yet"));
            }
            return Ok(check);
        }
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

    fn whole_read(&self) -> gateway_connector::WholeRead {
        gateway_connector::WholeRead::Files
    }

    async fn open_files(
        &self,
        credentials: Option<&Credentials>,
        table: &Table,
    ) -> Result<Vec<std::sync::Arc<dyn gateway_connector::TableFile>>, ConnectorError> {
        let credentials =
            credentials.ok_or_else(|| ConnectorError::new(ErrorKind::WrongCredentials, "no credentials"))?;
        let key = ServiceAccountKey::from_credentials(credentials.expose())?;
        match self.open_with_token(credentials, table).await {
            Err(e) if e.kind == ErrorKind::WrongCredentials => {
                self.auth.forget(&key, SCOPE);
                self.open_with_token(credentials, table).await
            }
            other => other,
        }
    }
}

/// The tokens a whole read signs with: the connector's cached token while it has
/// [`WHOLE_READ_TOKEN_SECS`] left, else a fresh exchange. reqsign asks again once the one it
/// holds is two minutes from expiry.
struct RefreshingToken {
    auth: Arc<GoogleAuth>,
    credentials: JsonObject,
    /// Google's reason when a token cannot be had: reqsign's chain would drop it.
    why: crate::source::Reason,
}

impl std::fmt::Debug for RefreshingToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshingToken").finish_non_exhaustive()
    }
}

impl reqsign_core::ProvideCredential for RefreshingToken {
    type Credential = reqsign_google::Credential;

    async fn provide_credential(&self, _: &reqsign_core::Context) -> reqsign_core::Result<Option<Self::Credential>> {
        let failed = |e: ConnectorError| {
            tracing::warn!(error = %e.message, "a GCS read cannot refresh its token");
            if let Ok(mut why) = self.why.lock() {
                *why = Some(format!("a fresh token was refused: {}", e.message));
            }
            reqsign_core::Error::credential_invalid(e.message)
        };
        let key = ServiceAccountKey::from_credentials(&self.credentials).map_err(failed)?;
        let (access_token, until) = self.auth.token_until(&key, SCOPE, WHOLE_READ_TOKEN_SECS).await.map_err(failed)?;
        let left = std::time::Duration::from_secs(u64::try_from(until - gateway_domain::now_seconds()).unwrap_or(0));
        let expires_at = Some(reqsign_core::time::Timestamp::now() + left);
        Ok(Some(reqsign_google::Credential::with_token(reqsign_google::Token { access_token, expires_at })))
    }
}

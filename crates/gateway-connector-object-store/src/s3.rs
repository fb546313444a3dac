//! S3 (and S3-compatible stores through a customer's https `endpoint`).

use gateway_connector::{
    Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, FieldSpec, FieldType, HostRule, Inspection,
    OutboundClient, Step, TableSpec,
};
use gateway_domain::{ConnectionKind, Credentials, JsonObject, Problem, Table};
use opendal::Operator;

use crate::table::{Files, REGION, S3_BUCKET};
use crate::{error, inspect, sigv4, table, text};

const DEFAULT_REGION: &str = "us-east-1";
/// Tables a connection's test checks, one request each.
const MAX_TABLE_CHECKS: usize = 10;

/// The origin of an AWS service in a region: `amazonaws.com`, or `amazonaws.com.cn` in the
/// China partition (cn-north-1, cn-northwest-1); GovCloud regions are in `amazonaws.com`
/// (<https://docs.aws.amazon.com/general/latest/gr/s3.html>,
/// <https://docs.amazonaws.cn/en_us/aws/latest/userguide/endpoints-Beijing.html>).
/// The ARN partition of a region: `aws-cn` in China, `aws-us-gov` in GovCloud, else `aws`.
fn aws_partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

pub(crate) fn aws_origin(service: &str, region: &str) -> String {
    let domain = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    format!("https://{service}.{region}.{domain}")
}
const FILES: Files = Files::Bucket(S3_BUCKET);

#[derive(Debug)]
pub struct S3Connector {
    spec: CredentialSpec,
    tables: TableSpec,
    outbound: OutboundClient,
    /// The operator's S3-compatible peer (`GATEWAY_PROVIDER_S3_URL`), for S3 and STS.
    peer: Option<String>,
    /// The most files a file-set table may match (`GATEWAY_FILESET_MAX_FILES`).
    max_files: usize,
}

/// The credential fields, read once.
struct S3Creds<'a> {
    key_id: &'a str,
    secret: &'a str,
    region: &'a str,
    bucket: Option<&'a str>,
    endpoint: Option<&'a str>,
    /// Temporary credentials (STS, SSO) come with a session token.
    session_token: Option<&'a str>,
}

impl<'a> S3Creds<'a> {
    fn parse(c: &'a JsonObject) -> Result<S3Creds<'a>, ConnectorError> {
        let missing = |f: &str| ConnectorError::new(ErrorKind::WrongCredentials, format!("'{f}' is missing"));
        Ok(S3Creds {
            key_id: text(c, "aws_access_key_id").ok_or_else(|| missing("aws_access_key_id"))?,
            secret: text(c, "aws_secret_access_key").ok_or_else(|| missing("aws_secret_access_key"))?,
            region: text(c, "region").unwrap_or(DEFAULT_REGION),
            bucket: text(c, "bucket"),
            endpoint: text(c, "endpoint"),
            session_token: text(c, "aws_session_token"),
        })
    }
}

impl S3Connector {
    pub fn new(outbound: OutboundClient) -> S3Connector {
        let peer = outbound.provider_url("S3").map(str::to_owned);
        S3Connector {
            spec: CredentialSpec::new(
                ConnectionKind::S3,
                vec![
                    FieldSpec::required("aws_access_key_id", FieldType::String, "the access key id"),
                    FieldSpec::required("aws_secret_access_key", FieldType::String, "the secret access key").secret(),
                    FieldSpec::optional(
                        "aws_session_token",
                        FieldType::String,
                        "the session token of temporary credentials (STS, SSO)",
                    )
                    .secret(),
                    FieldSpec::optional("region", FieldType::String, "the buckets' region")
                        .default_value(DEFAULT_REGION.into())
                        .shape(REGION)
                        .routes(),
                    FieldSpec::optional(
                        "bucket",
                        FieldType::String,
                        "the bucket tables read from unless they name one",
                    )
                    .shape(S3_BUCKET),
                    FieldSpec::optional("endpoint", FieldType::String, "an S3-compatible store's https origin")
                        .host(HostRule::PublicHttps),
                ],
            ),
            tables: table::spec(FILES),
            outbound,
            peer,
            max_files: crate::fileset::MAX_FILES,
        }
    }

    /// The most files a file-set table may match (default [`crate::fileset::MAX_FILES`]).
    pub fn with_max_files(mut self, max: usize) -> S3Connector {
        self.max_files = max.max(1);
        self
    }

    fn endpoint<'a>(&'a self, c: &'a S3Creds<'_>) -> Option<&'a str> {
        c.endpoint.or(self.peer.as_deref())
    }

    fn operator(&self, c: &S3Creds<'_>, bucket: &str) -> Result<Operator, ConnectorError> {
        let mut b = opendal::services::S3::default()
            .bucket(bucket)
            .region(c.region)
            .access_key_id(c.key_id)
            .secret_access_key(c.secret)
            .disable_config_load()
            .disable_ec2_metadata();
        if let Some(t) = c.session_token {
            b = b.session_token(t);
        }
        b = match self.endpoint(c) {
            Some(e) => b.endpoint(e),
            None => b.endpoint(&aws_origin("s3", c.region)),
        };
        crate::guarded(b, &self.outbound, "S3")
    }

    /// Sends a SigV4-signed request; answers the status, the bucket region header and the body.
    #[allow(clippy::too_many_arguments)]
    async fn signed(
        &self,
        c: &S3Creds<'_>,
        service: &str,
        method: reqwest::Method,
        base: &str,
        path: &str,
        query: &[(&str, &str)],
        content_type: Option<&str>,
        body: &str,
    ) -> Result<(u16, Option<String>, String), ConnectorError> {
        let bad = || {
            ConnectorError::new(
                ErrorKind::WrongSpecification,
                format!("the endpoint for region '{}' is not valid", c.region),
            )
        };
        let origin = url::Url::parse(base).map_err(|_| bad())?;
        let host = match origin.port() {
            Some(p) => format!("{}:{p}", origin.host_str().unwrap_or_default()),
            None => origin.host_str().unwrap_or_default().to_owned(),
        };
        let mut headers: Vec<(&str, &str)> = content_type.map(|t| ("content-type", t)).into_iter().collect();
        if let Some(t) = c.session_token {
            headers.push(("x-amz-security-token", t));
        }
        let req = sigv4::Request {
            method: method.as_str(),
            host: &host,
            path,
            query,
            headers: &headers,
            payload: body.as_bytes(),
            region: c.region,
            service,
        };
        let signed = sigv4::sign(&req, c.key_id, c.secret, gateway_domain::now_seconds());
        let mut url = format!("{}{path}", base.trim_end_matches('/'));
        if !signed.query.is_empty() {
            url = format!("{url}?{}", signed.query);
        }
        let url = url::Url::parse(&url).map_err(|_| bad())?;
        let mut builder = self.outbound.request(method, url).body(body.to_owned());
        for (k, v) in &signed.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let req = builder.build().map_err(|_| ConnectorError::new(ErrorKind::Unknown, "cannot build the request"))?;
        let res = self.outbound.send(req).await?;
        let status = res.status().as_u16();
        let region = res.headers().get("x-amz-bucket-region").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = String::from_utf8_lossy(&self.outbound.read_body(res).await?).into_owned();
        Ok((status, region, text))
    }

    /// STS GetCallerIdentity: who the credentials belong to.
    async fn caller_identity(&self, c: &S3Creds<'_>) -> Result<String, ConnectorError> {
        let base = match &self.peer {
            Some(e) => e.clone(),
            None => aws_origin("sts", c.region),
        };
        let body = "Action=GetCallerIdentity&Version=2011-06-15";
        let form = "application/x-www-form-urlencoded; charset=utf-8";
        let (status, _, text) = self.signed(c, "sts", reqwest::Method::POST, &base, "/", &[], Some(form), body).await?;
        if status == 200 {
            return Ok(xml_tag(&text, "Arn").unwrap_or_else(|| "an AWS identity".into()));
        }
        let code = xml_tag(&text, "Code");
        let e = error::s3_code(code.as_deref(), None, "", None, "sts:GetCallerIdentity");
        if e.kind == ErrorKind::Unavailable && (400..500).contains(&status) {
            return Err(ConnectorError::new(
                ErrorKind::WrongCredentials,
                format!("STS refused the credentials ({})", code.unwrap_or_default()),
            ));
        }
        Err(e)
    }

    /// ListObjectsV2 with max-keys=1 (under `prefix`): the bucket exists and the credentials
    /// may list it there.
    async fn list_bucket(&self, c: &S3Creds<'_>, bucket: &str, prefix: &str) -> Result<(), ConnectorError> {
        let base = match self.endpoint(c) {
            Some(e) => e.to_owned(),
            None => aws_origin("s3", c.region),
        };
        let path = format!("/{}", sigv4::encode(bucket, false));
        let mut query = vec![("list-type", "2"), ("max-keys", "1")];
        if !prefix.is_empty() {
            query.push(("prefix", prefix));
        }
        let (status, region, text) = self.signed(c, "s3", reqwest::Method::GET, &base, &path, &query, None, "").await?;
        if status == 200 {
            return Ok(());
        }
        let code = xml_tag(&text, "Code").or_else(|| (status == 301).then(|| "PermanentRedirect".to_owned()));
        let e = error::s3_code(code.as_deref(), region.as_deref(), bucket, None, "s3:ListBucket");
        if e.kind == ErrorKind::Unavailable && (400..500).contains(&status) {
            return Err(ConnectorError::new(
                ErrorKind::Unknown,
                format!("S3 answered {status} listing bucket '{bucket}'"),
            ));
        }
        Err(e)
    }
}

impl S3Connector {
    /// One page of ListObjectsV2 under `prefix` (1000 keys), signed here: the set's files.
    async fn list_page(
        &self,
        c: &S3Creds<'_>,
        bucket: &str,
        prefix: &str,
        token: Option<String>,
    ) -> Result<(Vec<crate::fileset::Listed>, Option<String>), ConnectorError> {
        let base = match self.endpoint(c) {
            Some(e) => e.to_owned(),
            None => aws_origin("s3", c.region),
        };
        let path = format!("/{}", sigv4::encode(bucket, false));
        let mut query = vec![("list-type", "2"), ("prefix", prefix)];
        if let Some(t) = token.as_deref() {
            query.push(("continuation-token", t));
        }
        let (status, region, text) = self.signed(c, "s3", reqwest::Method::GET, &base, &path, &query, None, "").await?;
        if status == 200 {
            return crate::fileset::parse_list_page(&text);
        }
        let code = xml_tag(&text, "Code").or_else(|| (status == 301).then(|| "PermanentRedirect".to_owned()));
        Err(error::s3_code(code.as_deref(), region.as_deref(), bucket, None, "s3:ListBucket"))
    }
}

pub(crate) fn xml_tag(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let rest = text.get(text.find(&open)? + open.len()..)?;
    Some(rest.get(..rest.find('<')?)?.to_owned())
}

#[async_trait::async_trait]
impl Connector for S3Connector {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::S3
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

    /// What the connection's tables need: each source object read (HeadObject, which
    /// `s3:GetObject` allows: a policy granting only the tables' prefixes works); without
    /// tables, the bucket listed; without a bucket, STS GetCallerIdentity. Writes
    /// (`s3:PutObject`) are proven by each destination's own test, which writes and deletes a
    /// probe object.
    async fn test_credentials(
        &self,
        credentials: &Credentials,
        tables: &[Table],
    ) -> Result<CredentialCheck, ConnectorError> {
        let c = S3Creds::parse(credentials.expose())?;
        let mut check = CredentialCheck::default();
        let mut sources = Vec::new();
        for t in tables.iter().filter(|t| !t.resource.is_destination()) {
            let Ok(params) = inspect::params(t, FILES) else { continue };
            let Ok(bucket) = inspect::bucket(&params, credentials.expose()) else { continue };
            let path = inspect::object_path(t, &params);
            sources.push((t, bucket, path, params));
        }
        if tables.iter().any(|t| t.resource.is_destination()) {
            check.warnings.push(
                "writes (s3:PutObject) are proven by each destination table's own test, which writes and deletes a probe object".into(),
            );
            // Destinations only: listing the bucket is no use of theirs (an export policy
            // grants their prefix only), and writes cannot be checked read-only.
            if tables.iter().all(|t| t.resource.is_destination()) {
                check.steps.push(Step::skipped(
                    "write_objects",
                    "the connection's tables are destinations: s3:PutObject is proven by each one's own test",
                ));
                return Ok(check);
            }
        }
        if !sources.is_empty() {
            if sources.len() > MAX_TABLE_CHECKS {
                check.warnings.push(format!(
                    "only the first {MAX_TABLE_CHECKS} source tables were checked; each table's own test checks it"
                ));
            }
            for (table, bucket, path, params) in sources.into_iter().take(MAX_TABLE_CHECKS) {
                let name = format!("read_table:{}", table.name);
                // A set: listing under its prefix is what reading it takes (s3:ListBucket
                // there, as a prefix-scoped policy grants it).
                if let Ok(Some(pattern)) = crate::fileset::Pattern::of(&params, &path) {
                    match self.list_bucket(&c, &bucket, &pattern.prefix).await {
                        Ok(()) => check.steps.push(Step::passed(
                            name,
                            format!("the credentials may list '{}' in bucket '{bucket}' (ListObjectsV2: s3:ListBucket)", pattern.prefix),
                        )),
                        Err(e) if e.kind == ErrorKind::Forbidden => check.steps.push(Step::failed(
                            name,
                            ErrorKind::Forbidden,
                            format!(
                                "{}: allow s3:ListBucket on arn:{}:s3:::{bucket} for the prefix '{}' (condition s3:prefix) and s3:GetObject under it",
                                e.message,
                                aws_partition(c.region),
                                pattern.prefix
                            ),
                        )),
                        Err(e) => check.steps.push(Step::failed(name, e.kind, e.message)),
                    }
                    continue;
                }
                let op = self.operator(&c, &bucket)?;
                match op.stat(&path).await {
                    Ok(_) => check.steps.push(Step::passed(
                        name,
                        format!(
                            "the credentials may read object '{path}' in bucket '{bucket}' (HeadObject: s3:GetObject)"
                        ),
                    )),
                    Err(e) => {
                        let e = error::s3(&e, &bucket, Some(&path), "s3:GetObject");
                        match e.kind {
                            // The table's problem, not the credentials': its own test says so.
                            ErrorKind::ResourceNotFound => check
                                .warnings
                                .push(format!("table '{}': {} (its own test reports it)", table.name, e.message)),
                            ErrorKind::Forbidden => check.steps.push(Step::failed(
                                name,
                                ErrorKind::Forbidden,
                                format!(
                                    "{}: allow s3:GetObject on arn:{}:s3:::{bucket}/{path} (S3 answers 403 for a missing object too unless s3:ListBucket is allowed)",
                                    e.message,
                                    aws_partition(c.region)
                                ),
                            )),
                            _ => check.steps.push(Step::failed(name, e.kind, e.message)),
                        }
                    }
                }
            }
            if check.steps.is_empty() {
                check.steps.push(Step::skipped("read_table", "no source table's object exists yet"));
            }
            return Ok(check);
        }
        match c.bucket {
            Some(bucket) => match self.list_bucket(&c, bucket, "").await {
                Ok(()) => check
                    .steps
                    .push(Step::passed("list_bucket", format!("listed bucket '{bucket}' (ListObjectsV2, max-keys=1)"))),
                Err(e) => {
                    let hint = if e.kind == ErrorKind::Forbidden {
                        " (a policy granting only some prefixes cannot list the whole bucket: add the connection's tables and test again; their objects are checked instead)"
                    } else {
                        ""
                    };
                    check.steps.push(Step::failed("list_bucket", e.kind, format!("{}{hint}", e.message)));
                }
            },
            None if c.endpoint.is_some() => {
                check.steps.push(Step::skipped(
                    "get_caller_identity",
                    "S3-compatible stores offer no identity check: give a bucket to check access to it",
                ));
                check.warnings.push("the credentials were not checked: give a bucket to check them".into());
            }
            None => match self.caller_identity(&c).await {
                Ok(arn) => {
                    check.steps.push(Step::passed("get_caller_identity", format!("the credentials belong to {arn}")));
                    check.steps.push(Step::skipped("list_bucket", "no bucket given"));
                    check.warnings.push("no bucket given: access to a bucket was not checked".into());
                }
                Err(e) => check.steps.push(Step::failed("get_caller_identity", e.kind, e.message)),
            },
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
        let c = S3Creds::parse(credentials.expose())?;
        let params = inspect::params(table, FILES)?;
        let bucket = inspect::bucket(&params, credentials.expose())?;
        let path = inspect::object_path(table, &params);
        let op = self.operator(&c, &bucket)?;
        if table.resource.is_destination() {
            return inspect::destination(op, &path, |e| error::s3(e, &bucket, Some(&path), "s3:PutObject")).await;
        }
        if let Some(pattern) = crate::fileset::Pattern::of(&params, &path)? {
            let files = crate::fileset::list_paged(&pattern, self.max_files, |token| {
                self.list_page(&c, &bucket, &pattern.prefix, token)
            })
            .await?;
            return inspect::source_set(op, &pattern, &files, &params, sample_rows, |e| {
                error::s3(e, &bucket, Some(&path), "s3:GetObject")
            })
            .await;
        }
        let found = inspect::source(op, &path, &params, sample_rows, self.max_files, |e| {
            error::s3(e, &bucket, Some(&path), "s3:GetObject")
        })
        .await;
        match found {
            // A HEAD of a missing object and of an object in a missing bucket look alike.
            Err(e) if e.kind == ErrorKind::ResourceNotFound => match self.list_bucket(&c, &bucket, "").await {
                Err(b) if b.kind == ErrorKind::ResourceNotFound => Err(b),
                _ => Err(ConnectorError::new(
                    ErrorKind::ResourceNotFound,
                    format!("object '{path}' does not exist in bucket '{bucket}'"),
                )),
            },
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
        let c = S3Creds::parse(credentials.expose())?;
        let params = inspect::params(table, FILES)?;
        let bucket = inspect::bucket(&params, credentials.expose())?;
        let path = inspect::object_path(table, &params);
        let op = self.operator(&c, &bucket)?;
        let classify = |e: &opendal::Error| error::s3(e, &bucket, Some(&path), "s3:GetObject");
        match crate::fileset::Pattern::of(&params, &path)? {
            Some(pattern) => {
                let files = crate::fileset::list_paged(&pattern, self.max_files, |token| {
                    self.list_page(&c, &bucket, &pattern.prefix, token)
                })
                .await?;
                inspect::open_files(op, &path, Some((&pattern, files)), classify, None).await
            }
            None => inspect::open_files(op, &path, None, classify, None).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{aws_origin, aws_partition};

    #[test]
    fn each_partition_has_its_hosts() {
        assert_eq!(aws_origin("s3", "eu-west-3"), "https://s3.eu-west-3.amazonaws.com");
        assert_eq!(aws_origin("sts", "cn-north-1"), "https://sts.cn-north-1.amazonaws.com.cn");
        assert_eq!(aws_origin("s3", "cn-northwest-1"), "https://s3.cn-northwest-1.amazonaws.com.cn");
        assert_eq!(aws_origin("s3", "us-gov-west-1"), "https://s3.us-gov-west-1.amazonaws.com");
        assert_eq!(
            [aws_partition("cn-north-1"), aws_partition("us-gov-east-1"), aws_partition("eu-west-1")],
            ["aws-cn", "aws-us-gov", "aws"]
        );
    }
}

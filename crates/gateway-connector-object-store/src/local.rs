//! LOCAL: the platform's own storage, where LOCAL tables' files are uploaded. An opendal
//! operator the operator configures (`GATEWAY_LOCAL_STORAGE_URL`): a folder by default,
//! `s3://bucket/prefix` or `gs://bucket/prefix` where several replicas run (credentials from
//! the process environment, as the cloud SDKs read them).

use gateway_connector::{
    Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, Inspection, Step, TableSpec, UploadWriter,
    Uploads,
};
use gateway_domain::{ConnectionKind, Credentials, OrganizationId, Problem, Table, TableName};
use opendal::Operator;

use crate::table::Files;
use crate::{error, inspect, table};

#[derive(Debug)]
pub struct LocalConnector {
    spec: CredentialSpec,
    tables: TableSpec,
    op: Operator,
    description: String,
}

/// A path segment for an organization: its id when plainly safe, else its bytes in hex.
fn org_segment(org: &OrganizationId) -> String {
    let s = org.as_str();
    if s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        s.to_owned()
    } else {
        format!("x-{}", s.bytes().map(|b| format!("{b:02x}")).collect::<String>())
    }
}

/// Where a LOCAL table's file lives: `<org>/<name>`. Names are already free of `/` and
/// control characters; `.` and `..` are refused here so nothing escapes the prefix.
pub fn local_path(org: &OrganizationId, name: &TableName) -> Result<String, ConnectorError> {
    let n = name.as_str();
    if n == "." || n == ".." {
        return Err(ConnectorError::new(
            ErrorKind::WrongSpecification,
            format!("'{n}' cannot name a LOCAL table's file"),
        ));
    }
    Ok(format!("{}/{n}", org_segment(org)))
}

impl LocalConnector {
    /// The storage at `url`: a folder path (or `file://path`), `s3://bucket/prefix`, `gs://bucket/prefix`.
    pub fn from_url(url: &str) -> Result<LocalConnector, String> {
        LocalConnector::from_url_with(url, None, None)
    }

    /// As [`LocalConnector::from_url`], with an S3-compatible `endpoint` for `s3://` storage (the
    /// operator's MinIO, Ceph, R2...). Credentials and region come from the process
    /// environment, as the cloud SDKs read them (`AWS_ACCESS_KEY_ID`, ..., `AWS_REGION`). Its
    /// HTTP requests go through `outbound` (the guard: the operator's storage endpoint is
    /// allowed by giving a client that allows private targets); an object store needs one.
    pub fn from_url_with(
        url: &str,
        endpoint: Option<&str>,
        outbound: Option<&gateway_connector::OutboundClient>,
    ) -> Result<LocalConnector, String> {
        let guarded = |op: Operator| match outbound {
            Some(o) => Ok(gateway_connector::opendal_guard::operator(op, o)),
            None => Err("an s3:// or gs:// LOCAL storage needs the gateway's outbound client".to_owned()),
        };
        let (op, description) = if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let mut b = opendal::services::S3::default().bucket(bucket).root(&format!("/{prefix}"));
            if let Some(e) = endpoint {
                b = b.endpoint(e);
            }
            if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none() {
                b = b.region("us-east-1");
            }
            (guarded(Operator::new(b).map_err(|e| e.to_string())?)?, format!("s3://{bucket}/{prefix}"))
        } else if let Some(rest) = url.strip_prefix("gs://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let b = opendal::services::Gcs::default().bucket(bucket).root(&format!("/{prefix}"));
            (guarded(Operator::new(b).map_err(|e| e.to_string())?)?, format!("gs://{bucket}/{prefix}"))
        } else {
            let path = url.strip_prefix("file://").unwrap_or(url);
            std::fs::create_dir_all(path).map_err(|e| format!("cannot create {path}: {e}"))?;
            let abs = std::fs::canonicalize(path).map_err(|e| format!("{path}: {e}"))?;
            let b = opendal::services::Fs::default().root(&abs.to_string_lossy());
            (Operator::new(b).map_err(|e| e.to_string())?, abs.display().to_string())
        };
        Ok(LocalConnector {
            spec: CredentialSpec::new(ConnectionKind::Local, Vec::new()),
            tables: table::spec(Files::Upload),
            op,
            description,
        })
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn operator(&self) -> &Operator {
        &self.op
    }
}

/// Streams into a temporary object beside `<org>/<name>` through opendal's writer (a folder
/// writes to a file as chunks come; S3 and GCS upload in parts), so memory stays bounded
/// whatever the file's size; only a finished upload replaces the table's file (a rename, or a
/// copy where the storage has none), so a failed, oversized or interrupted upload leaves the
/// previous file intact.
struct LocalWriter {
    op: Operator,
    writer: opendal::Writer,
    temporary: String,
    path: String,
    written: u64,
}

#[async_trait::async_trait]
impl UploadWriter for LocalWriter {
    async fn write(&mut self, chunk: bytes::Bytes) -> Result<(), ConnectorError> {
        self.written += chunk.len() as u64;
        self.writer.write(chunk).await.map_err(|e| error::generic(&e, "the upload"))
    }

    async fn finish(mut self: Box<Self>) -> Result<u64, ConnectorError> {
        let failed = |e: opendal::Error| error::generic(&e, "the upload");
        if let Err(e) = self.writer.close().await {
            let _ = self.op.delete(&self.temporary).await;
            return Err(failed(e));
        }
        let moved = if self.op.info().capability().rename {
            self.op.rename(&self.temporary, &self.path).await
        } else {
            let copied = self.op.copy(&self.temporary, &self.path).await.map(|_| ());
            let _ = self.op.delete(&self.temporary).await;
            copied
        };
        if let Err(e) = moved {
            let _ = self.op.delete(&self.temporary).await;
            return Err(failed(e));
        }
        Ok(self.written)
    }

    async fn abort(mut self: Box<Self>) {
        let _ = self.writer.abort().await;
        let _ = self.op.delete(&self.temporary).await;
    }
}

#[async_trait::async_trait]
impl Uploads for LocalConnector {
    async fn open(&self, org: &OrganizationId, name: &TableName) -> Result<Box<dyn UploadWriter>, ConnectorError> {
        let path = local_path(org, name)?;
        // Beside the file, under a name no table can have (names cannot hold `/`).
        let temporary = format!(
            "{}/.uploading/{}",
            path.rsplit_once('/').map_or("", |(dir, _)| dir),
            uuid::Uuid::new_v4().simple()
        );
        let writer = self.op.writer_with(&temporary).await.map_err(|e| error::generic(&e, "the LOCAL storage"))?;
        Ok(Box::new(LocalWriter { op: self.op.clone(), writer, temporary, path, written: 0 }))
    }
}

#[async_trait::async_trait]
impl Connector for LocalConnector {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::Local
    }

    fn credential_spec(&self) -> &CredentialSpec {
        &self.spec
    }

    fn table_spec(&self) -> &TableSpec {
        &self.tables
    }

    /// A LOCAL table waits for its file.
    fn new_table_status(&self) -> gateway_domain::TableStatus {
        gateway_domain::TableStatus::Uploading
    }

    /// A LOCAL table's file is stored under its name: nothing may climb out of the prefix.
    fn check_table(&self, table: &Table) -> Result<(), Problem> {
        if matches!(table.name.as_str(), "." | "..") {
            return Err(Problem::wrong_field("name", format!("'{}' cannot name a LOCAL table", table.name)));
        }
        table::check(table, &self.tables, Files::Upload)
    }

    async fn test_credentials(&self, _credentials: &Credentials) -> Result<CredentialCheck, ConnectorError> {
        Ok(CredentialCheck {
            steps: vec![Step::skipped("credentials", "LOCAL is the platform's own storage: it has no credentials")],
            warnings: Vec::new(),
        })
    }

    async fn inspect_table(
        &self,
        _credentials: Option<&Credentials>,
        table: &Table,
        sample_rows: usize,
    ) -> Result<Inspection, ConnectorError> {
        let path = local_path(&table.organization, &table.name)?;
        let params = inspect::params(table, Files::Upload)?;
        let what = format!("the file of LOCAL table '{}'", table.name);
        if table.resource.is_destination() {
            return inspect::destination(self.op.clone(), &path, |e| error::generic(e, &what)).await;
        }
        inspect::source(self.op.clone(), &path, &params, sample_rows, |e| match e.kind() {
            opendal::ErrorKind::NotFound => ConnectorError::new(
                ErrorKind::ResourceNotFound,
                format!("{what} has not been uploaded yet: PUT it to the table's connection_table_params.url"),
            ),
            _ => error::generic(e, &what),
        })
        .await
    }
}

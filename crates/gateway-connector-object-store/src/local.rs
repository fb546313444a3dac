//! LOCAL: the platform's own storage, where LOCAL tables' files are uploaded. An opendal
//! operator the operator configures (`GATEWAY_LOCAL_STORAGE_URL`): a folder by default,
//! `s3://bucket/prefix` or `gs://bucket/prefix` where several replicas run (credentials from
//! the process environment, as the cloud SDKs read them).

use futures_util::TryStreamExt;
use gateway_connector::{
    Connector, ConnectorError, CredentialCheck, CredentialSpec, ErrorKind, Holding, Inspection, SetFile, Step,
    TableSpec, UploadWriter, Uploads,
};
use gateway_domain::{ConnectionKind, Credentials, OrganizationId, Problem, Table, TableName, UploadedFile};
use opendal::Operator;

use crate::fileset::{Listed, Pattern};

use crate::table::Files;
use crate::{error, inspect, table};

#[derive(Debug)]
pub struct LocalConnector {
    spec: CredentialSpec,
    tables: TableSpec,
    op: Operator,
    description: String,
    /// The folder, for a folder storage: its files are made private to the gateway's user.
    folder: Option<std::path::PathBuf>,
    /// The most files a table's set may hold.
    max_files: usize,
}

/// A path segment for an organization, one per organization (injective): its id when plainly
/// safe and not starting with `x-`, else `x-` and its bytes in hex. (An id such as `x-612e62`
/// is spelt in hex too, so it can never name the folder of the organization `a.b`.)
fn org_segment(org: &OrganizationId) -> String {
    let s = org.as_str();
    if !s.starts_with("x-") && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        s.to_owned()
    } else {
        format!("x-{}", s.bytes().map(|b| format!("{b:02x}")).collect::<String>())
    }
}

/// Where unfinished uploads are written: a folder no organization's segment can be (it starts
/// with a dot), one subfolder per organization.
const UPLOADING: &str = ".uploading";

/// Where the sets of files live: `.sets/<org>/<name>/<file>`, a folder no organization's
/// segment can be (it starts with a dot), so a set never meets a table's one file.
const SETS: &str = ".sets";

fn checked_name(name: &TableName) -> Result<&str, ConnectorError> {
    let n = name.as_str();
    if n == "." || n == ".." {
        return Err(ConnectorError::new(
            ErrorKind::WrongSpecification,
            format!("'{n}' cannot name a LOCAL table's file"),
        ));
    }
    Ok(n)
}

/// Where a LOCAL table's one file lives: `<org>/<name>`. Names are already free of `/` and
/// control characters; `.` and `..` are refused here so nothing escapes the prefix.
pub fn local_path(org: &OrganizationId, name: &TableName) -> Result<String, ConnectorError> {
    Ok(format!("{}/{}", org_segment(org), checked_name(name)?))
}

/// The folder of a LOCAL table's set of files: `.sets/<org>/<name>/`. Its files' names
/// ([`SetFile`]) have no `.` or `..` segment, so nothing escapes it either.
fn set_pattern(org: &OrganizationId, name: &TableName) -> Result<Pattern, ConnectorError> {
    let prefix = format!("{SETS}/{}/{}/", org_segment(org), checked_name(name)?);
    Ok(Pattern::folder(prefix, format!("{name}/*")))
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
        let mut folder = None;
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
            private(&abs, true).map_err(|e| format!("cannot make {} private: {e}", abs.display()))?;
            folder = Some(abs.clone());
            let b = opendal::services::Fs::default().root(&abs.to_string_lossy());
            (Operator::new(b).map_err(|e| e.to_string())?, abs.display().to_string())
        };
        Ok(LocalConnector {
            spec: CredentialSpec::new(ConnectionKind::Local, Vec::new()),
            tables: table::spec(Files::Upload),
            op,
            description,
            folder,
            max_files: crate::fileset::MAX_FILES,
        })
    }

    /// The most files a table's set may hold (default [`crate::fileset::MAX_FILES`]).
    pub fn with_max_files(mut self, max: usize) -> LocalConnector {
        self.max_files = max.max(1);
        self
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn operator(&self) -> &Operator {
        &self.op
    }
}

/// Makes a folder (0700) or file (0600) readable by the gateway's user alone, whatever the
/// umask: uploads hold customers' data.
fn private(path: &std::path::Path, dir: bool) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(if dir { 0o700 } else { 0o600 }))?;
    }
    #[cfg(not(unix))]
    let _ = (path, dir);
    Ok(())
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
    folder: Option<std::path::PathBuf>,
    /// Finished or aborted: nothing left to clean up.
    done: bool,
}

/// An upload dropped unfinished (the client reset the connection, the request was cancelled)
/// deletes its temporary object: in a task, as dropping cannot wait. A crash leaves it to the
/// sweep ([`Uploads::sweep`]).
impl Drop for LocalWriter {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (op, temporary) = (self.op.clone(), std::mem::take(&mut self.temporary));
            runtime.spawn(async move {
                let _ = op.delete(&temporary).await;
            });
        }
    }
}

#[async_trait::async_trait]
impl UploadWriter for LocalWriter {
    async fn write(&mut self, chunk: bytes::Bytes) -> Result<(), ConnectorError> {
        self.written += chunk.len() as u64;
        self.writer.write(chunk).await.map_err(|e| error::generic(&e, "the upload"))
    }

    async fn finish(mut self: Box<Self>) -> Result<u64, ConnectorError> {
        self.done = true;
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
        if let Some(folder) = &self.folder {
            let _ = private(&folder.join(&self.path), false);
        }
        Ok(self.written)
    }

    async fn abort(mut self: Box<Self>) {
        self.done = true;
        let _ = self.writer.abort().await;
        let _ = self.op.delete(&self.temporary).await;
    }
}

#[async_trait::async_trait]
impl Uploads for LocalConnector {
    async fn open(
        &self,
        org: &OrganizationId,
        name: &TableName,
        file: Option<&SetFile>,
    ) -> Result<Box<dyn UploadWriter>, ConnectorError> {
        let path = match file {
            None => local_path(org, name)?,
            Some(f) => format!("{}{f}", set_pattern(org, name)?.prefix),
        };
        let temporary = format!("{UPLOADING}/{}/{}", org_segment(org), uuid::Uuid::new_v4().simple());
        let writer = self.op.writer_with(&temporary).await.map_err(|e| error::generic(&e, "the LOCAL storage"))?;
        Ok(Box::new(LocalWriter {
            op: self.op.clone(),
            writer,
            temporary,
            path,
            written: 0,
            folder: self.folder.clone(),
            done: false,
        }))
    }

    async fn holding(&self, org: &OrganizationId, name: &TableName) -> Result<Holding, ConnectorError> {
        if self.has_set(org, name).await? {
            return Ok(Holding::Set);
        }
        match self.op.stat(&local_path(org, name)?).await {
            Ok(_) => Ok(Holding::One),
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(Holding::Nothing),
            Err(e) => Err(error::generic(&e, "the LOCAL storage")),
        }
    }

    fn max_files(&self) -> usize {
        self.max_files
    }

    async fn files(&self, org: &OrganizationId, name: &TableName) -> Result<Vec<UploadedFile>, ConnectorError> {
        let pattern = set_pattern(org, name)?;
        let set = self.set_files(&pattern).await?;
        if !set.is_empty() {
            let mut files: Vec<UploadedFile> = set
                .into_iter()
                .map(|f| UploadedFile {
                    file: Some(pattern.show(&f.path).to_owned()),
                    size: f.size,
                    modified_timestamp: f.modified,
                })
                .collect();
            files.sort_by(|a, b| a.file.cmp(&b.file));
            return Ok(files);
        }
        match crate::source::OpendalSource::open(self.op.clone(), &local_path(org, name)?).await {
            Ok(one) => Ok(vec![UploadedFile {
                file: None,
                size: one.content_length(),
                modified_timestamp: one.modified.unwrap_or(0),
            }]),
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(error::generic(&e, "the LOCAL storage")),
        }
    }

    async fn delete_file(
        &self,
        org: &OrganizationId,
        name: &TableName,
        file: &SetFile,
    ) -> Result<bool, ConnectorError> {
        let path = format!("{}{file}", set_pattern(org, name)?.prefix);
        let failed = |e: opendal::Error| error::generic(&e, "the LOCAL storage");
        match self.op.stat(&path).await {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(failed(e)),
        }
        self.op.delete(&path).await.map_err(failed)?;
        Ok(true)
    }

    async fn remove(&self, org: &OrganizationId, name: &TableName) -> Result<(), ConnectorError> {
        let failed = |e: opendal::Error| error::generic(&e, "the LOCAL storage");
        self.op.delete(&local_path(org, name)?).await.map_err(failed)?;
        match self.op.delete_with(&set_pattern(org, name)?.prefix).recursive(true).await {
            Err(e) if e.kind() != opendal::ErrorKind::NotFound => Err(failed(e)),
            _ => Ok(()),
        }
    }

    async fn sweep(&self, older_than: std::time::Duration) -> Result<usize, ConnectorError> {
        let failed = |e: opendal::Error| error::generic(&e, "the LOCAL storage's unfinished uploads");
        let cutoff = std::time::SystemTime::now() - older_than;
        let entries = match self.op.list_with(&format!("{UPLOADING}/")).recursive(true).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(failed(e)),
        };
        let mut swept = 0;
        for entry in entries.iter().filter(|e| !e.path().ends_with('/')) {
            let modified = match entry.metadata().last_modified() {
                Some(t) => Some(t),
                None => self.op.stat(entry.path()).await.ok().and_then(|m| m.last_modified()),
            };
            let old = modified.is_some_and(|t| std::time::SystemTime::from(t) < cutoff);
            if old && self.op.delete(entry.path()).await.is_ok() {
                swept += 1;
            }
        }
        Ok(swept)
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

    async fn test_credentials(
        &self,
        _credentials: &Credentials,
        _tables: &[Table],
    ) -> Result<CredentialCheck, ConnectorError> {
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
        let pattern = set_pattern(&table.organization, &table.name)?;
        let set = self.set_files(&pattern).await?;
        if !set.is_empty() {
            return inspect::source_set(self.op.clone(), &pattern, &set, &params, sample_rows, |e| classify(e, &what))
                .await;
        }
        if self.namesakes(&path, table).await {
            let _ = self.op.delete(&path).await;
            return Err(not_uploaded(&what));
        }
        inspect::source(self.op.clone(), &path, &params, sample_rows, crate::fileset::MAX_FILES, |e| classify(e, &what))
            .await
    }

    fn whole_read(&self) -> gateway_connector::WholeRead {
        gateway_connector::WholeRead::Files
    }

    async fn open_files(
        &self,
        _credentials: Option<&Credentials>,
        table: &Table,
    ) -> Result<Vec<std::sync::Arc<dyn gateway_connector::TableFile>>, ConnectorError> {
        let path = local_path(&table.organization, &table.name)?;
        inspect::params(table, Files::Upload)?;
        let what = format!("the file of LOCAL table '{}'", table.name);
        let pattern = set_pattern(&table.organization, &table.name)?;
        let set = self.set_files(&pattern).await?;
        if !set.is_empty() {
            return inspect::open_files(self.op.clone(), &path, Some((&pattern, set)), |e| classify(e, &what), None)
                .await;
        }
        if self.namesakes(&path, table).await {
            return Err(not_uploaded(&what));
        }
        let src = crate::source::OpendalSource::open(self.op.clone(), &path).await.map_err(|e| classify(&e, &what))?;
        // Reports name the table, not the gateway's own storage path.
        let file = crate::source::ObjectFile::new(src, what).reported_as(table.name.as_str());
        Ok(vec![std::sync::Arc::new(file)])
    }
}

impl LocalConnector {
    /// The files of a table's set, bounded; none when it has no set.
    async fn set_files(&self, pattern: &Pattern) -> Result<Vec<Listed>, ConnectorError> {
        let what = "the LOCAL storage's files of a set";
        match crate::fileset::list(&self.op, pattern, self.max_files, |e| error::generic(e, what)).await {
            Err(_) if !self.has_set_prefix(pattern).await => Ok(Vec::new()),
            other => other,
        }
    }

    /// Whether the set's folder exists (a store answers a missing folder's listing with an
    /// error or nothing).
    async fn has_set_prefix(&self, pattern: &Pattern) -> bool {
        self.op.exists(&pattern.prefix).await.unwrap_or(false)
    }

    /// Whether a table's set holds at least one file (read without listing it all).
    async fn has_set(&self, org: &OrganizationId, name: &TableName) -> Result<bool, ConnectorError> {
        let pattern = set_pattern(org, name)?;
        let failed = |e: opendal::Error| error::generic(&e, "the LOCAL storage");
        let mut lister = match self.op.lister_with(&pattern.prefix).recursive(true).await {
            Ok(l) => l,
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(failed(e)),
        };
        loop {
            match lister.try_next().await {
                Ok(Some(entry)) if !entry.path().ends_with('/') => return Ok(true),
                Ok(Some(_)) => {}
                Ok(None) => return Ok(false),
                Err(e) if e.kind() == opendal::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(failed(e)),
            }
        }
    }

    /// Whether the stored file is a deleted namesake's, left by an older gateway: older than
    /// the table (a minute's slack for the storage's clock), so not this table's.
    async fn namesakes(&self, path: &str, table: &Table) -> bool {
        let Ok(meta) = self.op.stat(path).await else { return false };
        let Some(modified) = meta.last_modified() else { return false };
        let created = std::time::UNIX_EPOCH + std::time::Duration::from_secs(table.created_timestamp.max(0) as u64);
        std::time::SystemTime::from(modified) + std::time::Duration::from_secs(60) < created
    }
}

fn not_uploaded(what: &str) -> ConnectorError {
    ConnectorError::new(
        ErrorKind::ResourceNotFound,
        format!("{what} has not been uploaded yet: PUT it to the table's connection_table_params.url"),
    )
}

/// A storage failure of a LOCAL table's file: missing is "not uploaded yet".
fn classify(e: &opendal::Error, what: &str) -> ConnectorError {
    match e.kind() {
        opendal::ErrorKind::NotFound => not_uploaded(what),
        _ => error::generic(e, what),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organization_folders_are_one_per_organization() {
        let seg = |s: &str| org_segment(&OrganizationId::parse(s).unwrap());
        assert_eq!(seg("acme"), "acme");
        assert_eq!(seg("a.b"), "x-612e62");
        assert_ne!(seg("x-612e62"), seg("a.b"), "an id that looks like another's hex is spelt in hex");
        assert!(seg("x-612e62").starts_with("x-782d"));
    }

    /// The sweep deletes unfinished uploads older than it is told, and leaves younger ones.
    #[tokio::test]
    async fn the_sweep_deletes_old_unfinished_uploads() {
        let dir = std::env::temp_dir().join(format!("gateway-sweep-{}", uuid::Uuid::new_v4().simple()));
        let local = LocalConnector::from_url(&dir.display().to_string()).unwrap();
        let org = OrganizationId::parse("acme").unwrap();
        let name = TableName::parse("t.csv").unwrap();
        let mut w = local.open(&org, &name, None).await.unwrap();
        w.write(bytes::Bytes::from_static(b"a,b\n")).await.unwrap();
        std::mem::forget(w); // as a crash leaves it
        let temp = dir.join(".uploading/acme");
        let file = std::fs::read_dir(&temp).unwrap().next().unwrap().unwrap().path();
        assert_eq!(local.sweep(std::time::Duration::from_secs(3600)).await.unwrap(), 0, "young: kept");
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(old).unwrap();
        assert_eq!(local.sweep(std::time::Duration::from_secs(3600)).await.unwrap(), 1);
        assert!(!file.exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

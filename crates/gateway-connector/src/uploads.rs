//! Where LOCAL tables' files are uploaded: the platform's own storage, behind a trait so the
//! HTTP layer streams into it without naming the connector that provides it. A LOCAL table
//! holds one file (uploaded without a name) or a set of named files ([`SetFile`], `PUT
//! <url>?file=part-0001.csv`), never both.

use bytes::Bytes;
use gateway_domain::{OrganizationId, Problem, TableName, UploadedFile};

use crate::ConnectorError;

/// The name of one file of a LOCAL table's set: `/`-separated segments (so Hive partitions
/// such as `dt=2026-12-01/part-0.csv` can be uploaded), each 1 to 255 bytes, not `.` or `..`,
/// not starting with `.` or `_` (hidden files and markers, which a set leaves out), without
/// control characters or `\`; at most 16 segments and 1,024 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetFile(String);

impl SetFile {
    /// Parses the `file` query parameter: WRONG_DATA_TYPE with `field` = `file` naming the rule
    /// broken.
    pub fn parse(s: &str) -> Result<SetFile, Problem> {
        let refused = |why: &str| {
            let shown: String = s.chars().take(80).collect();
            Problem::wrong_field("file", format!("'{shown}' cannot name a file of a LOCAL table: {why}"))
        };
        if s.is_empty() || s.len() > 1024 {
            return Err(refused("a name is 1 to 1024 bytes"));
        }
        if s.chars().any(|c| c.is_control() || c == '\\') {
            return Err(refused("control characters and '\\' are not allowed"));
        }
        let segments: Vec<&str> = s.split('/').collect();
        if segments.len() > 16 {
            return Err(refused("at most 16 '/'-separated segments"));
        }
        for seg in segments {
            if seg.is_empty() || seg.len() > 255 {
                return Err(refused("each '/'-separated segment is 1 to 255 bytes"));
            }
            if seg.starts_with('.') || seg.starts_with('_') {
                return Err(refused(
                    "a segment starting with '.' or '_' is a hidden file or a marker, which a set leaves out",
                ));
            }
        }
        Ok(SetFile(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SetFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a LOCAL table holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holding {
    Nothing,
    /// One file, uploaded without a name.
    One,
    /// Named files.
    Set,
}

/// The platform's own storage for LOCAL tables.
#[async_trait::async_trait]
pub trait Uploads: Send + Sync + 'static {
    /// Opens a writer for a table's one file (`file` none) or for one file of its set,
    /// replacing any earlier one of that name when it is finished.
    async fn open(
        &self,
        org: &OrganizationId,
        name: &TableName,
        file: Option<&SetFile>,
    ) -> Result<Box<dyn UploadWriter>, ConnectorError>;

    /// Whether the table holds nothing, one file or a set.
    async fn holding(&self, org: &OrganizationId, name: &TableName) -> Result<Holding, ConnectorError>;

    /// The most files a table's set may hold.
    fn max_files(&self) -> usize;

    /// The table's files by name (its one file alone, `file` none), at most
    /// [`Uploads::max_files`] (past it, a refusal naming the bound).
    async fn files(&self, org: &OrganizationId, name: &TableName) -> Result<Vec<UploadedFile>, ConnectorError>;

    /// Deletes one file of the table's set; answers whether there was one.
    async fn delete_file(&self, org: &OrganizationId, name: &TableName, file: &SetFile)
    -> Result<bool, ConnectorError>;

    /// Deletes every file of a table (its one file, or its set); nothing when there is none.
    async fn remove(&self, org: &OrganizationId, name: &TableName) -> Result<(), ConnectorError>;

    /// Deletes temporary objects of uploads that never finished (a connection reset, a
    /// crash) and are older than `older_than`; answers how many.
    async fn sweep(&self, older_than: std::time::Duration) -> Result<usize, ConnectorError>;
}

/// A file being uploaded, written chunk by chunk (never held whole).
#[async_trait::async_trait]
pub trait UploadWriter: Send {
    async fn write(&mut self, chunk: Bytes) -> Result<(), ConnectorError>;
    /// Makes the file visible; answers its size.
    async fn finish(self: Box<Self>) -> Result<u64, ConnectorError>;
    /// Drops what was written.
    async fn abort(self: Box<Self>);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_file_names() {
        for ok in ["part-0001.csv", "dt=2026-12-01/part-0.parquet", "a b.csv", "données.csv"] {
            assert_eq!(SetFile::parse(ok).map(|f| f.to_string()), Ok(ok.to_owned()), "{ok}");
        }
        for bad in ["", ".hidden", "_SUCCESS", "a/../b", "a//b", "/abs", "a/", "..", "a\\b", "a\nb", &"x".repeat(256)] {
            let p = SetFile::parse(bad).err().unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert_eq!(p.data.get("field").and_then(|v| v.as_str()), Some("file"), "{bad:?}");
        }
    }
}

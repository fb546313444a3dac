//! Where LOCAL tables' files are uploaded: the platform's own storage, behind a trait so the
//! HTTP layer streams into it without naming the connector that provides it.

use bytes::Bytes;
use gateway_domain::{OrganizationId, TableName};

use crate::ConnectorError;

/// The platform's own storage for LOCAL tables.
#[async_trait::async_trait]
pub trait Uploads: Send + Sync + 'static {
    /// Opens a writer for a table's file, replacing any earlier one when it is finished.
    async fn open(&self, org: &OrganizationId, name: &TableName) -> Result<Box<dyn UploadWriter>, ConnectorError>;

    /// Deletes a table's file (the table was deleted); nothing when there is none.
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

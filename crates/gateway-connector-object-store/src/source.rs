//! A [`ByteSource`] over an opendal operator: the object's size once (stat), then ranged reads.

use bytes::Bytes;
use gateway_formats::{ByteSource, FormatError};
use opendal::Operator;

/// Why the requests of a read cannot be signed, when its credential provider knows better than
/// the signer (reqsign goes on to the next provider of its chain and loses the reason).
pub type Reason = std::sync::Arc<std::sync::Mutex<Option<String>>>;

#[derive(Debug, Clone)]
pub struct OpendalSource {
    op: Operator,
    path: String,
    size: u64,
    /// When the object was last modified, Unix seconds (from its stat).
    pub modified: Option<i64>,
    why: Option<Reason>,
}

impl OpendalSource {
    /// An object whose size a listing already said (no stat).
    pub fn sized(op: Operator, path: &str, size: u64) -> OpendalSource {
        OpendalSource { op, path: path.to_owned(), size, modified: None, why: None }
    }

    /// A failed read names `why`'s reason when it holds one.
    pub fn explained_by(mut self, why: Option<&Reason>) -> OpendalSource {
        self.why = why.cloned();
        self
    }

    /// Stats the object; the error is opendal's, for the caller to classify.
    pub async fn open(op: Operator, path: &str) -> Result<OpendalSource, opendal::Error> {
        let meta = op.stat(path).await?;
        let modified = meta.last_modified().and_then(|m| {
            std::time::SystemTime::from(m).duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs() as i64)
        });
        Ok(OpendalSource { op, path: path.to_owned(), size: meta.content_length(), modified, why: None })
    }

    /// The object's size, bytes.
    pub fn content_length(&self) -> u64 {
        self.size
    }
}

#[async_trait::async_trait]
impl ByteSource for OpendalSource {
    async fn size(&self) -> Result<u64, FormatError> {
        Ok(self.size)
    }

    async fn read(&self, start: u64, end: u64) -> Result<Bytes, FormatError> {
        let end = end.min(self.size);
        if end <= start {
            return Ok(Bytes::new());
        }
        let buf = self.op.read_with(&self.path).range(start..end).await.map_err(|e| {
            let why = self.why.as_ref().and_then(|w| w.lock().ok().and_then(|w| w.clone()));
            let why = why.map(|w| format!(" ({w})")).unwrap_or_default();
            FormatError::Source(format!("reading bytes {start}..{end} failed: {}{why}", e.kind()))
        })?;
        Ok(buf.to_bytes())
    }

    fn name(&self) -> Option<&str> {
        Some(&self.path)
    }
}

/// The same object as a [`TableFile`](gateway_connector::TableFile), for whole reads.
#[derive(Debug)]
pub struct ObjectFile {
    source: OpendalSource,
    /// What a failed read is classified as (a message naming the object, never a secret).
    what: String,
    /// The path reports name it by: the object's, unless told otherwise.
    reported: String,
}

impl ObjectFile {
    pub fn new(source: OpendalSource, what: String) -> ObjectFile {
        let reported = source.path.clone();
        ObjectFile { source, what, reported }
    }

    /// Reported under another path (a LOCAL table's name, not the storage's path).
    pub fn reported_as(mut self, path: &str) -> ObjectFile {
        path.clone_into(&mut self.reported);
        self
    }
}

#[async_trait::async_trait]
impl gateway_connector::TableFile for ObjectFile {
    fn path(&self) -> &str {
        &self.reported
    }

    fn size(&self) -> u64 {
        self.source.size
    }

    async fn read(&self, start: u64, end: u64) -> Result<Bytes, gateway_connector::ConnectorError> {
        ByteSource::read(&self.source, start, end).await.map_err(|e| {
            gateway_connector::ConnectorError::new(
                gateway_connector::ErrorKind::Unavailable,
                format!("{}: {}", self.what, e),
            )
        })
    }
}

//! A [`ByteSource`] over an opendal operator: the object's size once (stat), then ranged reads.

use bytes::Bytes;
use gateway_formats::{ByteSource, FormatError};
use opendal::Operator;

#[derive(Debug, Clone)]
pub struct OpendalSource {
    op: Operator,
    path: String,
    size: u64,
}

impl OpendalSource {
    /// Stats the object; the error is opendal's, for the caller to classify.
    pub async fn open(op: Operator, path: &str) -> Result<OpendalSource, opendal::Error> {
        let meta = op.stat(path).await?;
        Ok(OpendalSource { op, path: path.to_owned(), size: meta.content_length() })
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
        let buf = self
            .op
            .read_with(&self.path)
            .range(start..end)
            .await
            .map_err(|e| FormatError::Source(format!("reading bytes {start}..{end} failed: {}", e.kind())))?;
        Ok(buf.to_bytes())
    }

    fn name(&self) -> Option<&str> {
        Some(&self.path)
    }
}

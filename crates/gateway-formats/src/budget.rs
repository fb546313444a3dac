//! Raw reads counted against the byte budget: no file can make a sniff read more.

use std::sync::Arc;

use bytes::Bytes;

use crate::{ByteSource, FormatError};

pub struct Budget {
    source: Arc<dyn ByteSource>,
    limit: u64,
    used: u64,
}

impl Budget {
    pub fn new(source: Arc<dyn ByteSource>, limit: u64) -> Self {
        Budget { source, limit, used: 0 }
    }

    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    pub fn used(&self) -> u64 {
        self.used
    }

    pub fn source(&self) -> Arc<dyn ByteSource> {
        self.source.clone()
    }

    /// Counts reads made on the budget's behalf by another reader.
    pub fn charge(&mut self, n: u64) {
        self.used += n;
    }

    /// Reads `[start, end)`, clipped to what the budget has left.
    pub async fn read(&mut self, start: u64, end: u64) -> Result<Bytes, FormatError> {
        let end = end.min(start.saturating_add(self.remaining()));
        if end <= start {
            return Ok(Bytes::new());
        }
        let bytes = self.source.read(start, end).await?;
        self.used += bytes.len() as u64;
        Ok(bytes)
    }

    /// Reads outside the budget (the Parquet footer, capped on its own); still counted.
    pub async fn read_extra(&mut self, start: u64, end: u64) -> Result<Bytes, FormatError> {
        let bytes = self.source.read(start, end).await?;
        self.used += bytes.len() as u64;
        self.limit += bytes.len() as u64;
        Ok(bytes)
    }
}

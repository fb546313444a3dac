//! Where bytes come from: anything that knows its size and serves byte ranges. An object
//! store's ranged GET, a local file and bytes in memory all fit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::FormatError;

/// A file read by ranges. `read` answers `[start, end)`, clipped to the file's length.
#[async_trait::async_trait]
pub trait ByteSource: Send + Sync {
    /// The file's size in bytes.
    async fn size(&self) -> Result<u64, FormatError>;

    /// The bytes of `[start, end)`.
    async fn read(&self, start: u64, end: u64) -> Result<Bytes, FormatError>;

    /// The file's name or path, for extension hints (`users.csv.gz`).
    fn name(&self) -> Option<&str> {
        None
    }
}

#[async_trait::async_trait]
impl<S: ByteSource + ?Sized> ByteSource for Arc<S> {
    async fn size(&self) -> Result<u64, FormatError> {
        (**self).size().await
    }

    async fn read(&self, start: u64, end: u64) -> Result<Bytes, FormatError> {
        (**self).read(start, end).await
    }

    fn name(&self) -> Option<&str> {
        (**self).name()
    }
}

/// Bytes in memory.
#[derive(Debug, Clone)]
pub struct MemorySource {
    bytes: Bytes,
    name: Option<String>,
}

impl MemorySource {
    pub fn new(bytes: impl Into<Bytes>) -> Self {
        MemorySource { bytes: bytes.into(), name: None }
    }

    pub fn named(bytes: impl Into<Bytes>, name: &str) -> Self {
        MemorySource { bytes: bytes.into(), name: Some(name.to_owned()) }
    }
}

#[async_trait::async_trait]
impl ByteSource for MemorySource {
    async fn size(&self) -> Result<u64, FormatError> {
        Ok(self.bytes.len() as u64)
    }

    async fn read(&self, start: u64, end: u64) -> Result<Bytes, FormatError> {
        let len = self.bytes.len();
        let s = usize::try_from(start).unwrap_or(usize::MAX).min(len);
        let e = usize::try_from(end).unwrap_or(usize::MAX).min(len).max(s);
        Ok(self.bytes.slice(s..e))
    }

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

/// Counts the bytes and calls served by another source (tests and benchmarks prove the budget
/// with it).
#[derive(Debug)]
pub struct CountingSource<S> {
    inner: S,
    bytes: AtomicU64,
    calls: AtomicU64,
}

impl<S> CountingSource<S> {
    pub fn new(inner: S) -> Self {
        CountingSource { inner, bytes: AtomicU64::new(0), calls: AtomicU64::new(0) }
    }

    pub fn bytes_read(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn reads(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

#[async_trait::async_trait]
impl<S: ByteSource> ByteSource for CountingSource<S> {
    async fn size(&self) -> Result<u64, FormatError> {
        self.inner.size().await
    }

    async fn read(&self, start: u64, end: u64) -> Result<Bytes, FormatError> {
        let b = self.inner.read(start, end).await?;
        self.bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(b)
    }

    fn name(&self) -> Option<&str> {
        self.inner.name()
    }
}

//! What one organization may ask of providers: at most so many provider calls (credential
//! tests, previews, uploads' previews, webhook tests, name lookups of PUTs) in flight at once,
//! and so many such requests a minute; and what all may together (a global cap on provider
//! calls and one on previews in flight, queued). Uploads are held to so many at once and so
//! many bytes in flight per organization. A tenant hammering its tests cannot crowd out the
//! others nor make the gateway a traffic source; it hears 429 with when to retry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gateway_domain::{ErrorName, OrganizationId, Problem};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The limits, from the operator.
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    /// Provider calls in flight for all organizations together; more wait their turn.
    pub global_calls: usize,
    /// Provider calls in flight for one organization; more are refused with 429.
    pub org_calls: usize,
    /// Credential and table tests one organization may make a minute.
    pub org_tests_per_minute: u32,
    /// Previews (of tests, uploads and the schedule) decoding files at once, in all: each
    /// holds up to its read budget and a decompressed page in memory.
    pub previews: usize,
    /// Uploads one organization may send at once.
    pub org_uploads: usize,
    /// Bytes one organization's uploads may have received and not finished, in all.
    pub org_upload_bytes: u64,
    /// Reads of rows (`GET .../rows/`) one organization may have open at once.
    pub org_row_reads: usize,
    /// Source bytes one read of rows may take, if the operator caps it (MiB).
    pub row_read_mb: Option<u64>,
    /// Compressed bytes a split of a Parquet file holds at least (MiB): its row groups are
    /// taken in order into splits of this much (`GATEWAY_ROW_SPLIT_MB`, default 64).
    pub row_split_mb: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            global_calls: 64,
            org_calls: 8,
            org_tests_per_minute: 60,
            previews: 8,
            org_uploads: 4,
            org_upload_bytes: 8 << 30,
            org_row_reads: 2,
            row_read_mb: None,
            row_split_mb: 64,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Limits {
    settings: LimitSettings,
    global: Arc<Semaphore>,
    previews: Arc<Semaphore>,
    orgs: Mutex<HashMap<OrganizationId, OrgState>>,
}

#[derive(Debug)]
struct OrgState {
    calls: Arc<Semaphore>,
    uploads: Arc<Semaphore>,
    row_reads: Arc<Semaphore>,
    upload_bytes: Arc<std::sync::atomic::AtomicU64>,
    window: Instant,
    tests: u32,
}

/// Held while an upload runs: its slot and the bytes it has counted.
#[derive(Debug)]
pub(crate) struct Uploading {
    _slot: OwnedSemaphorePermit,
    bytes: Arc<std::sync::atomic::AtomicU64>,
    counted: u64,
    cap: u64,
}

impl Uploading {
    /// Counts `n` more bytes received; refuses past the organization's bytes in flight.
    pub(crate) fn count(&mut self, n: u64) -> Result<(), Problem> {
        use std::sync::atomic::Ordering;
        let before = self.bytes.fetch_add(n, Ordering::Relaxed);
        self.counted += n;
        if before + n > self.cap {
            return Err(too_many(
                format!(
                    "this organization's uploads in flight hold more than {} bytes, the most they may (GATEWAY_ORG_UPLOAD_BYTES): retry when one ends",
                    self.cap
                ),
                5,
            )
            .with("quota", "upload_bytes")
            .with("setting", "GATEWAY_ORG_UPLOAD_BYTES"));
        }
        Ok(())
    }
}

impl Drop for Uploading {
    fn drop(&mut self) {
        self.bytes.fetch_sub(self.counted, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Held while a provider call runs.
#[derive(Debug)]
pub(crate) struct Admitted {
    _org: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

fn too_many(message: String, retry_after: u64) -> Problem {
    Problem::new(ErrorName::TooManyRequests, message).with("retry_after", retry_after)
}

impl Limits {
    pub(crate) fn new(settings: LimitSettings) -> Limits {
        Limits {
            settings,
            global: Arc::new(Semaphore::new(settings.global_calls.max(1))),
            previews: Arc::new(Semaphore::new(settings.previews.max(1))),
            orgs: Mutex::default(),
        }
    }

    fn with_org<T>(&self, org: &OrganizationId, f: impl FnOnce(&mut OrgState) -> T) -> Result<T, Problem> {
        let mut orgs =
            self.orgs.lock().map_err(|_| Problem::new(ErrorName::InternalError, "the limits are unusable"))?;
        let state = orgs.entry(org.clone()).or_insert_with(|| OrgState {
            calls: Arc::new(Semaphore::new(self.settings.org_calls.max(1))),
            uploads: Arc::new(Semaphore::new(self.settings.org_uploads.max(1))),
            row_reads: Arc::new(Semaphore::new(self.settings.org_row_reads.max(1))),
            upload_bytes: Arc::default(),
            window: Instant::now(),
            tests: 0,
        });
        Ok(f(state))
    }

    /// A slot for one of the organization's uploads, or 429 when it has as many at once as
    /// it may.
    pub(crate) fn upload(&self, org: &OrganizationId) -> Result<Uploading, Problem> {
        let (slots, bytes) = self.with_org(org, |s| (s.uploads.clone(), s.upload_bytes.clone()))?;
        let slot = slots.try_acquire_owned().map_err(|_| {
            too_many(
                format!(
                    "this organization has {} uploads in flight, the most it may (GATEWAY_ORG_UPLOADS): retry when one ends",
                    self.settings.org_uploads
                ),
                5,
            )
            .with("quota", "uploads")
            .with("setting", "GATEWAY_ORG_UPLOADS")
        })?;
        Ok(Uploading { _slot: slot, bytes, counted: 0, cap: self.settings.org_upload_bytes })
    }

    /// A slot for one of the organization's reads of rows, or 429 when it has as many open
    /// as it may.
    pub(crate) fn row_read(&self, org: &OrganizationId) -> Result<OwnedSemaphorePermit, Problem> {
        let slots = self.with_org(org, |s| s.row_reads.clone())?;
        slots.try_acquire_owned().map_err(|_| {
            too_many(
                format!(
                    "this organization has {} reads of rows open, the most it may (GATEWAY_ORG_ROW_READS): retry when one ends",
                    self.settings.org_row_reads
                ),
                5,
            )
            .with("quota", "row_reads")
            .with("setting", "GATEWAY_ORG_ROW_READS")
        })
    }

    /// Compressed bytes a split of a Parquet file holds at least.
    pub(crate) fn row_split_bytes(&self) -> u64 {
        self.settings.row_split_mb.max(1).saturating_mul(1 << 20)
    }

    /// Source bytes one read of rows may take (`None`: no cap).
    pub(crate) fn row_read_bytes(&self) -> Option<u64> {
        self.settings.row_read_mb.map(|mb| mb.saturating_mul(1 << 20))
    }

    /// One of the previews in flight, waited for at most `wait`; `None` when none came free.
    pub(crate) async fn preview(&self, wait: Duration) -> Option<OwnedSemaphorePermit> {
        tokio::time::timeout(wait, self.previews.clone().acquire_owned()).await.ok()?.ok()
    }

    /// A provider call of the schedule's: the global cap alone (the schedule holds each
    /// organization to its share when it claims), waited for at most `wait`.
    pub(crate) async fn scheduled(&self, wait: Duration) -> Option<OwnedSemaphorePermit> {
        tokio::time::timeout(wait, self.global.clone().acquire_owned()).await.ok()?.ok()
    }

    /// Counts a test request against the organization's minute and admits its provider call,
    /// or refuses it with when to retry. The global cap is waited for at most `wait`.
    pub(crate) async fn admit(&self, org: &OrganizationId, wait: Duration) -> Result<Admitted, Problem> {
        let calls = self.count(org)?;
        let org_permit = calls.try_acquire_owned().map_err(|_| {
            too_many(
                format!(
                    "this organization has {} provider calls in flight, the most it may: retry when one ends",
                    self.settings.org_calls
                ),
                1,
            )
        })?;
        let global = tokio::time::timeout(wait, self.global.clone().acquire_owned()).await;
        match global {
            Ok(Ok(permit)) => Ok(Admitted { _org: org_permit, _global: permit }),
            _ => Err(too_many("the gateway is at its limit of provider calls: retry shortly".into(), 1)),
        }
    }

    /// Admits a provider call already counted by [`Limits::count`] (an upload's preview, once
    /// the file is in), waiting at most `wait` for the organization's share and the global cap.
    pub(crate) async fn admit_counted(&self, org: &OrganizationId, wait: Duration) -> Result<Admitted, Problem> {
        let calls = self.with_org(org, |state| state.calls.clone())?;
        let both = async {
            let org = calls.acquire_owned().await.ok()?;
            let global = self.global.clone().acquire_owned().await.ok()?;
            Some(Admitted { _org: org, _global: global })
        };
        match tokio::time::timeout(wait, both).await {
            Ok(Some(a)) => Ok(a),
            _ => Err(too_many("the gateway is at its limit of provider calls: retry shortly".into(), 1)),
        }
    }

    /// Counts a request against the organization's minute, or refuses it with when to retry;
    /// answers the organization's call slots.
    pub(crate) fn count(&self, org: &OrganizationId) -> Result<Arc<Semaphore>, Problem> {
        self.with_org(org, |state| {
            let now = Instant::now();
            if now.duration_since(state.window) >= Duration::from_secs(60) {
                state.window = now;
                state.tests = 0;
            }
            if state.tests >= self.settings.org_tests_per_minute.max(1) {
                let left = 60u64.saturating_sub(now.duration_since(state.window).as_secs()).max(1);
                return Err(too_many(
                    format!(
                        "this organization made {} tests this minute, the most it may: retry in {left} s",
                        self.settings.org_tests_per_minute
                    ),
                    left,
                ));
            }
            state.tests += 1;
            Ok(state.calls.clone())
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn organizations_are_held_to_their_share() {
        let limits =
            Limits::new(LimitSettings { global_calls: 2, org_calls: 1, org_tests_per_minute: 3, ..Default::default() });
        let (acme, globex) = (OrganizationId::parse("acme").unwrap(), OrganizationId::parse("globex").unwrap());
        let held = limits.admit(&acme, Duration::from_millis(50)).await.unwrap();
        let refused = limits.admit(&acme, Duration::from_millis(50)).await.unwrap_err();
        assert_eq!(refused.name, ErrorName::TooManyRequests, "one call in flight per organization");
        let other = limits.admit(&globex, Duration::from_millis(50)).await.unwrap();
        drop((held, other));
        // Three tests a minute: the second above was counted, the fourth is refused.
        limits.admit(&acme, Duration::from_millis(50)).await.unwrap();
        let refused = limits.admit(&acme, Duration::from_millis(50)).await.unwrap_err();
        assert!(refused.message.contains("this minute"), "{}", refused.message);
        assert!(refused.data["retry_after"].as_u64().is_some_and(|s| (1..=60).contains(&s)));
    }

    #[test]
    fn uploads_are_held_to_their_count_and_bytes_in_flight() {
        let limits = Limits::new(LimitSettings { org_uploads: 2, org_upload_bytes: 100, ..Default::default() });
        let acme = OrganizationId::parse("acme").unwrap();
        let mut first = limits.upload(&acme).unwrap();
        let mut second = limits.upload(&acme).unwrap();
        let refused = limits.upload(&acme).unwrap_err();
        assert!(refused.message.contains("GATEWAY_ORG_UPLOADS"), "{}", refused.message);
        first.count(60).unwrap();
        let over = second.count(60).unwrap_err();
        assert!(over.message.contains("GATEWAY_ORG_UPLOAD_BYTES"), "{}", over.message);
        drop((first, second));
        let mut again = limits.upload(&acme).unwrap();
        again.count(100).unwrap();
    }
}

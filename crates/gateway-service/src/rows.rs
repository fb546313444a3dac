//! Rows through the gateway: `GET .../rows/` streams a stored source table whole, its
//! `columns_mapping` applied and typed per resource, held to the validation's rules
//! (`gateway_engine::rows`), so a pipeline reads rows and never holds the customer's secrets.
//!
//! Files are read through their connector as a validation reads them (every byte through the
//! outbound guard, streamed); SaaS objects page by page, spooled under the spill cap first
//! (a paged read cannot wait on a slow client between pages without holding the provider's
//! cursor open). A slow client slows the read: the engine runs two batches ahead of the
//! response. A client that goes away stops it. Each read holds one of its organization's
//! [`crate::LimitSettings::org_row_reads`] slots, is counted in `/metrics` and audited
//! (`table.rows_read`) however it ends.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::stream::BoxStream;
use gateway_connector::WholeRead;
use gateway_domain::{Actor, ConnectionKind, Credentials, OrganizationId, Problem, RowSplit, RowSplits, TableName};
use gateway_engine::{Columns, EngineError, Format, Invalid, Progress, RowCounts, RowsJob, Rules};
use gateway_store::RowsRead;

use crate::Gateway;
use crate::tables::table_not_found;

/// How a read of rows is asked for.
#[derive(Debug, Clone)]
pub struct RowsRequest {
    pub format: Format,
    pub columns: Columns,
    pub invalid: Invalid,
    /// Rows served at most.
    pub max_rows: Option<u64>,
    /// One split of the table ([`Gateway::row_splits`]'s token) rather than all of it.
    pub split: Option<String>,
}

/// The split token of a file, or of a range of a Parquet file's row groups: its path
/// hex-encoded, then `.first.end` (opaque to clients, checked on use against the table's files
/// as they are then).
fn split_of(path: &str, groups: Option<&Range<usize>>) -> String {
    let hex: String = path.bytes().map(|b| format!("{b:02x}")).collect();
    match groups {
        Some(g) => format!("{hex}.{}.{}", g.start, g.end),
        None => hex,
    }
}

/// The path and row groups a split token names, or `None` when it is not one.
fn path_of(split: &str) -> Option<(String, Option<Range<usize>>)> {
    let (hex, groups) = match split.split_once('.') {
        Some((hex, range)) => {
            let (start, end) = range.split_once('.')?;
            let (start, end) = (start.parse::<usize>().ok()?, end.parse::<usize>().ok()?);
            (hex, Some(start..end).filter(|g| g.start < g.end))
        }
        None => (split, None),
    };
    if split.contains('.') && groups.is_none() {
        return None;
    }
    if !hex.len().is_multiple_of(2) || hex.len() > 8192 {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..hex.len()).step_by(2).map(|i| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
    Some((String::from_utf8(bytes?).ok()?, groups))
}

/// A Parquet file's splits: its row groups taken in order into ranges of at least `least`
/// compressed bytes (`GATEWAY_ROW_SPLIT_MB`), each with its bytes; `None` when the whole file
/// is one.
fn group_splits(groups: &[(u64, u64)], least: u64) -> Option<Vec<(Range<usize>, u64)>> {
    let mut out: Vec<(Range<usize>, u64)> = Vec::new();
    for (i, (_, bytes)) in groups.iter().enumerate() {
        match out.last_mut() {
            Some((range, held)) if *held < least => {
                range.end = i + 1;
                *held += bytes;
            }
            _ => out.push((i..i + 1, *bytes)),
        }
    }
    (out.len() > 1).then_some(out)
}

/// Whether a table's file is Parquet by its declared format or its name (only those are
/// split within; the others are not asked for a footer).
fn parquet_named(params: &gateway_domain::JsonObject, path: &str) -> bool {
    let declared = params.get("file_format").and_then(serde_json::Value::as_str);
    let lower = path.to_ascii_lowercase();
    declared.is_some_and(|f| f.eq_ignore_ascii_case("parquet"))
        || [".parquet", ".parq", ".pq"].iter().any(|e| lower.ends_with(e))
}

/// The one split of a table read page by page.
const PAGES_SPLIT: &str = "pages";

fn no_split(split: &str) -> Problem {
    Problem::new(
        gateway_domain::ErrorName::ResourceNotFound,
        format!(
            "the split '{}' names no part of this table now: list its splits again",
            split.chars().take(64).collect::<String>()
        ),
    )
    .with("field", "split")
}

/// A read under way: its media type and its body.
pub struct RowsAnswer {
    pub content_type: &'static str,
    pub body: BoxStream<'static, Result<Bytes, std::io::Error>>,
}

impl std::fmt::Debug for RowsAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowsAnswer").field("content_type", &self.content_type).finish_non_exhaustive()
    }
}

/// Held while a read runs, by its answer and by the engine's reading thread (whichever lets go
/// last): its slot, its spill folder, and what it served. Records the read (metrics, audit)
/// and removes the folder however the read ends, once the source is no longer read.
struct Reading {
    gateway: Gateway,
    org: OrganizationId,
    actor: Actor,
    kind: ConnectionKind,
    name: TableName,
    counts: Arc<RowCounts>,
    progress: Arc<Progress>,
    ended: Mutex<Ended>,
    spill_dir: Option<PathBuf>,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

/// How a read ended (so far).
struct Ended {
    how: &'static str,
    error: Option<String>,
}

impl Reading {
    fn end(&self, how: &'static str) {
        if let Ok(mut e) = self.ended.lock() {
            e.how = how;
        }
    }

    /// The read failed: `problem` (already scrubbed) is what its audit entry says.
    fn fail(&self, problem: &Problem) {
        if let Ok(mut e) = self.ended.lock() {
            e.how = "failed";
            e.error = Some(format!("{}: {}", problem.name, problem.message));
        }
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        let handle = tokio::runtime::Handle::try_current().ok();
        if let Some(dir) = self.spill_dir.take() {
            // Off the runtime's workers: a folder of spooled pages may take a while to remove.
            match &handle {
                Some(h) => drop(h.spawn_blocking(move || std::fs::remove_dir_all(dir))),
                None => drop(std::fs::remove_dir_all(dir)),
            }
        }
        let (ended, error) = match self.ended.get_mut() {
            Ok(e) => (e.how, e.error.take()),
            Err(_) => ("failed", None),
        };
        let read = RowsRead {
            rows: self.counts.served.load(Ordering::Relaxed),
            skipped: self.counts.skipped.load(Ordering::Relaxed),
            bytes: self.progress.bytes_read.load(Ordering::Relaxed),
            ended,
            error,
        };
        self.gateway.metrics().row_read(read.ended, read.rows, read.skipped, read.bytes);
        let (g, o, a, k, n) =
            (self.gateway.clone(), self.org.clone(), self.actor.clone(), self.kind, self.name.clone());
        if let Some(handle) = handle {
            handle.spawn(async move {
                if let Err(p) = g.db(move |s| s.record_rows_read(&o, k, &n, &read, &a)).await {
                    tracing::warn!(error = %p.message, "cannot audit a read of rows");
                }
            });
        }
    }
}

/// Where a read's answer is: waiting for its spooled pages and its engine, or reading.
enum Stage {
    Starting(futures_util::future::BoxFuture<'static, Result<gateway_engine::Rows, Problem>>),
    Reading(gateway_engine::Rows),
    Done,
}

/// What a paged read's start came to before its answer: failed already, or still going.
enum Early {
    Failed(Problem),
    Pending(futures_util::future::BoxFuture<'static, Result<gateway_engine::Rows, Problem>>),
}

/// Polls `rest` once: a spool that ended before its first page (a provider's refusal) is the
/// read's answer; otherwise the read goes on in the answer's body.
async fn done_early(
    rest: impl std::future::Future<Output = Result<gateway_engine::Rows, Problem>> + Send + 'static,
) -> Early {
    let mut rest = Box::pin(rest);
    match futures_util::poll!(rest.as_mut()) {
        std::task::Poll::Ready(Err(p)) => Early::Failed(p),
        std::task::Poll::Ready(Ok(rows)) => Early::Pending(Box::pin(async move { Ok(rows) })),
        std::task::Poll::Pending => Early::Pending(rest),
    }
}

/// A spawned task stopped when its holder lets go (a read's spool, when its client left).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Held by a read's answer: letting go of it (the client went away) stops the engine at its
/// next batch.
struct StopOnDrop(Arc<Progress>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.cancelled.store(true, Ordering::Relaxed);
    }
}

impl Gateway {
    /// A stored source table's independent parts: each file of a set (or the one file; a
    /// Parquet file of several row groups, ranges of them), or the whole table for a kind read
    /// page by page. Reading each gives the rows of one read of all, in the same columns;
    /// duplicates are found within a split (a read of all finds them across splits too).
    pub async fn row_splits(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
    ) -> Result<RowSplits, Problem> {
        let (table, connector, credentials) = self.readable_table(org, kind, name).await?;
        if connector.whole_read() != WholeRead::Files {
            return Ok(RowSplits { splits: vec![RowSplit { split: PAGES_SPLIT.into(), file: None, bytes: None }] });
        }
        let files = self.open_table_files(connector.as_ref(), credentials.as_ref(), &table).await?;
        let mut splits = Vec::with_capacity(files.len());
        for f in files {
            let path = f.name().unwrap_or("").to_owned();
            // A Parquet file of several row groups is split by them (a footer it cannot read
            // is the read's to report: the file stays one split).
            if parquet_named(&table.connection_table_params, &path)
                && let Ok(groups) = gateway_engine::parquet_row_groups(f.as_ref()).await
                && let Some(parts) = group_splits(&groups, self.inner.limits.row_split_bytes())
            {
                for (range, bytes) in parts {
                    splits.push(RowSplit {
                        split: split_of(&path, Some(&range)),
                        file: Some(path.clone()),
                        bytes: Some(bytes),
                    });
                }
                continue;
            }
            let bytes = f.size().await.ok();
            splits.push(RowSplit { split: split_of(&path, None), file: Some(path), bytes });
        }
        Ok(RowSplits { splits })
    }

    /// The stored source table, its connector and credentials, if its rows can be read here.
    async fn readable_table(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
    ) -> Result<(gateway_domain::Table, Arc<dyn gateway_connector::Connector>, Option<Credentials>), Problem> {
        let table = self.load_table(org, kind, name).await?.ok_or_else(|| table_not_found(kind, name))?;
        if table.resource.is_destination() {
            return Err(Problem::wrong_field(
                "resource",
                format!(
                    "'{name}' is a destination ({}): the platform writes it, it has no rows to read here",
                    table.resource
                ),
            ));
        }
        let connector = self.connector(kind)?;
        let readable_by = |c: &dyn gateway_connector::Connector| c.whole_read() == WholeRead::Files || c.reads_pages();
        if !readable_by(connector.as_ref()) {
            let readable = self.kinds_whose(readable_by);
            return Err(Problem::wrong_field(
                "connection",
                format!("{kind} tables cannot be read through this gateway yet; rows are read from {readable}"),
            )
            .with("connection", kind.as_str()));
        }
        let conn = self.load_connection(org, kind).await?;
        let credentials = crate::tables::checked_credentials(connector.as_ref(), conn.as_ref())?;
        Ok((table, connector, credentials))
    }

    /// Starts streaming a stored source table's rows.
    ///
    /// Refusals (the table, the slot, the split, a provider refusing to list the files or to
    /// serve the first page) are answered before any row and not audited; from the first read
    /// of the source the read is audited however it ends. A table read page by page is
    /// answered once its first page is in: its pages are spooled while the client waits on the
    /// body, and a client that goes away stops the spool.
    pub async fn read_rows(
        &self,
        org: &OrganizationId,
        actor: &Actor,
        kind: ConnectionKind,
        name: &TableName,
        request: RowsRequest,
    ) -> Result<RowsAnswer, Problem> {
        let (table, connector, credentials) = self.readable_table(org, kind, name).await?;
        let slot = self.inner.limits.row_read(org)?;
        let settings = self.settings().validation.clone();
        let cap = self.inner.limits.row_read_bytes();
        let paged = connector.whole_read() != WholeRead::Files;
        let progress = Arc::new(Progress::default());
        let counts = Arc::new(RowCounts::default());
        let reading = |slot, spill_dir, how| {
            Arc::new(Reading {
                gateway: self.clone(),
                org: org.clone(),
                actor: actor.clone(),
                kind,
                name: name.clone(),
                counts: counts.clone(),
                progress: progress.clone(),
                ended: Mutex::new(Ended { how, error: None }),
                spill_dir,
                _slot: slot,
            })
        };
        // The read's own spill folder (its spooled pages, its keys past memory), named here,
        // made by whoever first writes it, removed with the read.
        let folder = || -> Result<PathBuf, Problem> {
            let mut id = [0u8; 12];
            getrandom::fill(&mut id).map_err(|e| {
                tracing::error!(error = %e, "no randomness for a read's spill folder");
                Problem::new(
                    gateway_domain::ErrorName::InternalError,
                    "the gateway cannot name its spill folder (logged)",
                )
            })?;
            let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
            Ok(settings.spill_dir.join(format!("rows-{id}")))
        };
        let spill_bytes = settings.spill_mb << 20;
        let memory = settings.memory_mb.max(16);
        let job = {
            let rules = Rules::new(
                table.resource,
                &gateway_engine::mapping_of(&table.resource_params),
                gateway_preview::required_fields(table.resource),
            );
            let (columns, invalid, max_rows, format) =
                (request.columns, request.invalid, request.max_rows, request.format);
            move |files, params, (only, groups), reading: &Arc<Reading>, spill: Option<(PathBuf, u64)>| RowsJob {
                files,
                params,
                rules,
                columns,
                invalid,
                max_rows,
                // 16 bytes a key, about as much again for the set's own table.
                max_keys: ((memory << 20) / 40) as usize,
                memory_mb: memory,
                // Keys past memory go to the read's folder, under the spill cap.
                spill: spill.map(|(dir, bytes)| gateway_engine::KeySpill { dir, bytes }),
                only,
                groups,
                format,
                // Paged kinds: the spool is bounded by the cap already.
                byte_cap: cap.filter(|_| !paged),
                hold: Some(Box::new(reading.clone())),
            }
        };
        let scrub = {
            let (connector, credentials) = (connector.clone(), credentials.clone());
            move |p: &EngineError| {
                let mut p = p.problem();
                p.message = crate::scrub(&p.message, connector.as_ref(), credentials.as_ref());
                p
            }
        };
        let (stage, reading) = if paged {
            if let Some(split) = request.split.as_deref().filter(|s| *s != PAGES_SPLIT) {
                return Err(no_split(split));
            }
            let dir = folder()?;
            // A client that goes away while the pages are spooled stopped the read.
            let reading = reading(slot, Some(dir.clone()), "stopped");
            tokio::fs::create_dir_all(&dir).await.map_err(|e| {
                tracing::error!(dir = %dir.display(), error = %e, "cannot create a read's spill folder");
                let p = Problem::new(
                    gateway_domain::ErrorName::InternalError,
                    "the gateway cannot write its spill folder (logged)",
                );
                reading.fail(&p);
                p
            })?;
            // The spool is the read's source: GATEWAY_ROW_READ_MB bounds it where it is the
            // smaller cap.
            let (limit, over) = match cap.map(|c| c >> 20) {
                Some(c) if c < settings.spill_mb => (c, EngineError::ReadCap { limit_mb: c }),
                _ => (settings.spill_mb, EngineError::Spill { limit_mb: settings.spill_mb }),
            };
            let (started, first_page) = tokio::sync::oneshot::channel();
            let spool = {
                let (connector, credentials, dir) = (connector.clone(), credentials.clone(), dir.clone());
                let max_rows = request.max_rows.unwrap_or(u64::MAX);
                tokio::spawn(async move {
                    crate::validations::spool_pages(
                        connector.as_ref(),
                        credentials.as_ref(),
                        &table,
                        max_rows,
                        &dir,
                        limit,
                        over,
                        Some(started),
                    )
                    .await
                })
            };
            let mut spool = AbortOnDrop(spool);
            let spooled = |r: Result<Result<_, Problem>, tokio::task::JoinError>| {
                r.unwrap_or_else(|e| {
                    tracing::error!(error = %e, "a read's spool stopped");
                    Err(Problem::new(gateway_domain::ErrorName::InternalError, "the read's spool stopped (logged)"))
                })
            };
            // Answered once the provider served the first page (or the read ended before).
            let done = tokio::select! {
                _ = first_page => None,
                r = &mut spool.0 => Some(spooled(r)),
            };
            let rest = {
                let (reading, keys) = (reading.clone(), dir.clone());
                let (progress, counts, scrub) = (progress.clone(), counts.clone(), scrub.clone());
                async move {
                    let pages = match done {
                        Some(pages) => pages,
                        None => spooled((&mut spool.0).await),
                    }?;
                    // The spool and the keys share the read's folder and its cap.
                    let room = spill_bytes.saturating_sub(pages.bytes);
                    let job = job(pages.files, pages.params, (None, None), &reading, Some((keys, room)));
                    gateway_engine::rows(job, progress, counts).await.map_err(|e| scrub(&e))
                }
            };
            let stage = match done_early(rest).await {
                Early::Failed(p) => {
                    reading.fail(&p);
                    return Err(p);
                }
                Early::Pending(rest) => Stage::Starting(rest),
            };
            (stage, reading)
        } else {
            let files = self.open_table_files(connector.as_ref(), credentials.as_ref(), &table).await?;
            let (only, groups) = match request.split.as_deref() {
                Some(split) => {
                    let (path, groups) = path_of(split).ok_or_else(|| no_split(split))?;
                    let index =
                        files.iter().position(|f| f.name() == Some(path.as_str())).ok_or_else(|| no_split(split))?;
                    (Some(index), groups)
                }
                None => (None, None),
            };
            let dir = folder()?;
            let reading = reading(slot, Some(dir.clone()), "failed");
            let job =
                job(files, table.connection_table_params.clone(), (only, groups), &reading, Some((dir, spill_bytes)));
            match gateway_engine::rows(job, progress.clone(), counts).await {
                Ok(rows) => (Stage::Reading(rows), reading),
                Err(e) => {
                    let p = scrub(&e);
                    reading.fail(&p);
                    return Err(p);
                }
            }
        };
        struct State {
            stage: Stage,
            reading: Arc<Reading>,
            _stop: StopOnDrop,
        }
        // From here, a read dropped before its end was stopped by its client.
        reading.end("stopped");
        let state = State { stage, reading, _stop: StopOnDrop(progress) };
        let body = futures_util::stream::unfold(state, move |mut st| {
            let scrub = scrub.clone();
            async move {
                let failed = |st: &mut State, p: Problem| {
                    // The response is under way: cut short, so the client sees it fail; the
                    // reason is in the read's audit entry.
                    tracing::info!(error = %p.message, "a read of rows stopped");
                    st.reading.fail(&p);
                    st.stage = Stage::Done;
                    std::io::Error::other(p.message)
                };
                loop {
                    match &mut st.stage {
                        Stage::Done => return None,
                        Stage::Starting(rest) => match rest.await {
                            Ok(rows) => st.stage = Stage::Reading(rows),
                            Err(p) => {
                                let e = failed(&mut st, p);
                                return Some((Err(e), st));
                            }
                        },
                        Stage::Reading(rows) => {
                            return match rows.next().await {
                                Ok(Some(bytes)) => Some((Ok(bytes), st)),
                                Ok(None) => {
                                    st.reading.end("completed");
                                    None
                                }
                                Err(e) => {
                                    let e = failed(&mut st, scrub(&e));
                                    Some((Err(e), st))
                                }
                            };
                        }
                    }
                }
            }
        });
        Ok(RowsAnswer { content_type: request.format.content_type(), body: Box::pin(body) })
    }
}

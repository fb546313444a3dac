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

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use gateway_connector::WholeRead;
use gateway_domain::{Actor, ConnectionKind, Credentials, OrganizationId, Problem, RowSplit, RowSplits, TableName};
use gateway_engine::{Columns, Encoder, EngineError, Format, Invalid, Progress, RowCounts, RowsJob, Rules};
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

/// The split token of a file: its path, hex-encoded (opaque to clients, checked on use
/// against the table's files as they are then).
fn split_of(path: &str) -> String {
    path.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The path a split token names, or `None` when it is not one.
fn path_of(split: &str) -> Option<String> {
    if !split.len().is_multiple_of(2) || split.len() > 8192 {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..split.len()).step_by(2).map(|i| split.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
    String::from_utf8(bytes?).ok()
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

/// Held while a read runs: its slot, its spill folder, and what it served; records the read
/// (metrics, audit) and removes the folder however the read ends.
struct Reading {
    gateway: Gateway,
    org: OrganizationId,
    actor: Actor,
    kind: ConnectionKind,
    name: TableName,
    counts: Arc<RowCounts>,
    progress: Arc<Progress>,
    ended: &'static str,
    spill_dir: Option<PathBuf>,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Reading {
    fn drop(&mut self) {
        if let Some(dir) = self.spill_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        // The reader went away mid-read: stop the engine at its next batch.
        self.progress.cancelled.store(true, Ordering::Relaxed);
        let read = RowsRead {
            rows: self.counts.served.load(Ordering::Relaxed),
            skipped: self.counts.skipped.load(Ordering::Relaxed),
            bytes: self.progress.bytes_read.load(Ordering::Relaxed),
            ended: self.ended,
        };
        self.gateway.metrics().row_read(read.ended, read.rows, read.skipped, read.bytes);
        let (g, o, a, k, n) =
            (self.gateway.clone(), self.org.clone(), self.actor.clone(), self.kind, self.name.clone());
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Err(p) = g.db(move |s| s.record_rows_read(&o, k, &n, &read, &a)).await {
                    tracing::warn!(error = %p.message, "cannot audit a read of rows");
                }
            });
        }
    }
}

impl Gateway {
    /// A stored source table's independent parts: each file of a set (or the one file), or
    /// the whole table for a kind read page by page. Reading each gives the rows of one read of
    /// all, in the same columns; duplicates are found within a split (a read of all finds them
    /// across files too).
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
            let bytes = f.size().await.ok();
            splits.push(RowSplit { split: split_of(&path), file: Some(path), bytes });
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
        let credentials = conn
            .as_ref()
            .map(|c| connector.validate_credentials(c.credentials.expose()).map(Credentials::new))
            .transpose()?;
        Ok((table, connector, credentials))
    }

    /// Starts streaming a stored source table's rows.
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
        let progress = Arc::new(Progress::default());
        let counts = Arc::new(RowCounts::default());
        let mut reading = Reading {
            gateway: self.clone(),
            org: org.clone(),
            actor: actor.clone(),
            kind,
            name: name.clone(),
            counts: counts.clone(),
            progress: progress.clone(),
            ended: "failed",
            spill_dir: None,
            _slot: slot,
        };
        if let Some(split) = &request.split
            && connector.whole_read() != WholeRead::Files
            && split != PAGES_SPLIT
        {
            return Err(no_split(split));
        }
        let (files, params) = if connector.whole_read() != WholeRead::Files {
            let mut id = [0u8; 12];
            let _ = getrandom::fill(&mut id);
            let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
            let dir = settings.spill_dir.join(format!("rows-{id}"));
            tokio::fs::create_dir_all(&dir).await.map_err(|e| {
                tracing::error!(dir = %dir.display(), error = %e, "cannot create a read's spill folder");
                Problem::new(
                    gateway_domain::ErrorName::InternalError,
                    "the gateway cannot write its spill folder (logged)",
                )
            })?;
            reading.spill_dir = Some(dir.clone());
            let max_rows = request.max_rows.unwrap_or(u64::MAX);
            let spooled = crate::validations::spool_pages(
                connector.as_ref(),
                credentials.as_ref(),
                &table,
                max_rows,
                &dir,
                settings.spill_mb,
            )
            .await?;
            (spooled.files, spooled.params)
        } else {
            let files = self.open_table_files(connector.as_ref(), credentials.as_ref(), &table).await?;
            (files, table.connection_table_params.clone())
        };
        let rules = Rules::new(
            table.resource,
            &gateway_engine::mapping_of(&table.resource_params),
            gateway_preview::required_fields(table.resource),
        );
        let only = match request.split.as_deref() {
            Some(split) if connector.whole_read() == WholeRead::Files => {
                let path = path_of(split).ok_or_else(|| no_split(split))?;
                Some(files.iter().position(|f| f.name() == Some(path.as_str())).ok_or_else(|| no_split(split))?)
            }
            _ => None,
        };
        let memory = settings.memory_mb.max(16);
        let job = RowsJob {
            files,
            params,
            rules,
            columns: request.columns,
            invalid: request.invalid,
            max_rows: request.max_rows,
            // 16 bytes a key, about as much again for the set's own table.
            max_keys: ((memory << 20) / 40) as usize,
            memory_mb: memory,
            only,
        };
        let scrub = {
            let (c, k) = (connector.clone(), credentials.clone());
            move |p: &EngineError| {
                let mut p = p.problem();
                p.message = crate::scrub(&p.message, c.as_ref(), k.as_ref());
                p
            }
        };
        let rows = gateway_engine::rows(job, progress.clone(), counts).await.map_err(|e| scrub(&e))?;
        let schema = rows.schema.clone();
        let mut encoder = Encoder::new(request.format, &schema).map_err(|e| e.problem())?;
        let head = encoder.start();
        let cap = self.inner.limits.row_read_bytes();
        struct State {
            rows: gateway_engine::Rows,
            encoder: Option<Encoder>,
            head: Option<Bytes>,
            reading: Reading,
        }
        // From here, a read dropped before its end was stopped by its client.
        reading.ended = "stopped";
        let state = State { rows, encoder: Some(encoder), head: Some(head).filter(|h| !h.is_empty()), reading };
        let body = futures_util::stream::unfold(state, move |mut st| {
            let scrub = scrub.clone();
            async move {
                if let Some(head) = st.head.take() {
                    return Some((Ok(head), st));
                }
                let encoder = st.encoder.as_mut()?;
                let failed = |message: String| std::io::Error::other(message);
                match st.rows.batches.recv().await {
                    Some(Ok(batch)) => {
                        if cap.is_some_and(|c| st.reading.progress.bytes_read.load(Ordering::Relaxed) > c) {
                            st.encoder = None;
                            st.reading.ended = "failed";
                            let message = "the read took more source bytes than GATEWAY_ROW_READ_MB allows one read";
                            return Some((Err(failed(message.to_owned())), st));
                        }
                        match encoder.batch(&batch) {
                            Ok(bytes) => Some((Ok(bytes), st)),
                            Err(e) => {
                                st.encoder = None;
                                st.reading.ended = "failed";
                                Some((Err(failed(scrub(&e).message)), st))
                            }
                        }
                    }
                    Some(Err(e)) => {
                        // The response is under way: cut short, so the client sees it fail.
                        st.encoder = None;
                        st.reading.ended = "failed";
                        tracing::info!(error = %scrub(&e).message, "a read of rows stopped");
                        Some((Err(failed(scrub(&e).message)), st))
                    }
                    None => {
                        let encoder = st.encoder.take()?;
                        match encoder.finish(&st.rows.schema) {
                            Ok(tail) => {
                                st.reading.ended = "completed";
                                Some((Ok(tail), st))
                            }
                            Err(e) => {
                                st.reading.ended = "failed";
                                Some((Err(failed(scrub(&e).message)), st))
                            }
                        }
                    }
                }
            }
        });
        Ok(RowsAnswer { content_type: request.format.content_type(), body: Box::pin(body) })
    }
}

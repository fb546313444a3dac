//! Whole-table validations: a stored source table read whole and held to its resource's
//! rules on `gateway-engine`, as durable jobs any replica may run.
//!
//! `POST .../validations/` queues one (or answers the one queued or running for the table);
//! the validation loop of the schedule claims queued jobs with a lease (at most
//! [`ValidationSettings::org_concurrency`] of one organization's at once, over every replica),
//! opens the table's files through its connector (every byte through the outbound guard),
//! and runs the engine under the job's memory, spill and time caps. Progress is written every
//! couple of seconds, which renews the lease and is where a cancel (`DELETE`) or the table's
//! deletion is seen. The job's own failures (the table cannot be read, a cap is reached, the
//! engine fails) end it `failed` with the contract's error shape, never the process. The
//! table's status is never changed by a validation.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use gateway_connector::{TableFile, WholeRead};
use gateway_domain::{
    Actor, ConnectionKind, Credentials, DEFAULT_MAX_ERRORS, ErrorName, MAX_MAX_ERRORS, OrganizationId, Paging, Problem,
    TableName, ValidationProgress, ValidationRequest, ValidationView, ValidationsPage, now_seconds,
};
use gateway_engine::{ByteSource, EngineError, FormatError, Job, Limits, Progress, Rules};
use gateway_store::{Outcome, ValidationJob};
use serde_json::{Value, json};

use crate::Gateway;
use crate::tables::table_not_found;

/// How validations run (`GATEWAY_VALIDATION_*`, `GATEWAY_ORG_VALIDATIONS`).
#[derive(Debug, Clone)]
pub struct ValidationSettings {
    /// Validations at once, per gateway (`GATEWAY_VALIDATION_CONCURRENCY`, default 2).
    pub concurrency: usize,
    /// Validations of one organization running at once, over every gateway
    /// (`GATEWAY_ORG_VALIDATIONS`, default 2).
    pub org_concurrency: usize,
    /// Memory one validation's engine may hold (`GATEWAY_VALIDATION_MEMORY_MB`, default 256).
    pub memory_mb: u64,
    /// Spill files one validation may write (`GATEWAY_VALIDATION_SPILL_MB`, default 10,240).
    pub spill_mb: u64,
    /// Bytes a validation run where its table lives may have the provider process and bill
    /// (BigQuery; `GATEWAY_VALIDATION_BILLED_MB`, default 10,240).
    pub billed_mb: u64,
    /// Where spill files go, one folder per job (`<data dir>/spill`).
    pub spill_dir: PathBuf,
    /// The longest one validation may run (`GATEWAY_VALIDATION_TIMEOUT_SECS`, default 3,600).
    pub timeout: Duration,
    /// Days a finished validation is kept (`GATEWAY_VALIDATION_RETENTION_DAYS`, default 30).
    pub retention_days: u32,
    /// How long a claimed job is this gateway's without a progress write.
    pub lease_secs: i64,
    /// How often progress is written (and a cancel seen).
    pub progress_every: Duration,
}

impl Default for ValidationSettings {
    fn default() -> Self {
        ValidationSettings {
            concurrency: 2,
            org_concurrency: 2,
            memory_mb: 256,
            spill_mb: 10_240,
            billed_mb: 10_240,
            spill_dir: std::env::temp_dir().join("gateway-spill"),
            timeout: Duration::from_secs(3600),
            retention_days: 30,
            lease_secs: 60,
            progress_every: Duration::from_secs(2),
        }
    }
}

pub(crate) fn validation_not_found(id: &str) -> Problem {
    Problem::new(ErrorName::ValidationNotFound, format!("no validation '{id}' of this table")).with("id", id)
}

/// The contract's error shape, as a failed validation keeps it.
fn error_body(p: &Problem) -> Value {
    json!({"error_name": p.name.as_str(), "message": p.message, "error_data": p.data})
}

/// The request body, checked: `max_errors` at most [`MAX_MAX_ERRORS`], `max_rows` positive.
fn request(body: Option<Value>) -> Result<(u32, Option<u64>), Problem> {
    let req: ValidationRequest = match body {
        None | Some(Value::Null) => ValidationRequest::default(),
        Some(v @ Value::Object(_)) => serde_json::from_value(v).map_err(|e| {
            let text = e.to_string();
            let field = ["max_errors", "max_rows"].into_iter().find(|f| text.contains(f)).unwrap_or("body");
            Problem::wrong_field(field, format!("the body must be {{\"max_errors\": <0..={MAX_MAX_ERRORS}>, \"max_rows\": <a positive integer>}} (both optional): {text}"))
        })?,
        Some(_) => return Err(Problem::wrong_field("body", "the body must be a JSON object (or empty)")),
    };
    let max_errors = req.max_errors.unwrap_or(DEFAULT_MAX_ERRORS);
    if max_errors > MAX_MAX_ERRORS {
        return Err(Problem::wrong_field(
            "max_errors",
            format!("max_errors is at most {MAX_MAX_ERRORS} (samples kept); got {max_errors}"),
        )
        .with("max", MAX_MAX_ERRORS));
    }
    if req.max_rows == Some(0) {
        return Err(Problem::wrong_field("max_rows", "max_rows must be a positive integer (rows read at most)"));
    }
    Ok((max_errors, req.max_rows))
}

/// A connector's file as the engine reads it.
struct FileSource(Arc<dyn TableFile>);

#[async_trait::async_trait]
impl ByteSource for FileSource {
    async fn size(&self) -> Result<u64, FormatError> {
        Ok(self.0.size())
    }

    async fn read(&self, start: u64, end: u64) -> Result<bytes::Bytes, FormatError> {
        self.0.read(start, end).await.map_err(|e| FormatError::Source(e.message))
    }

    fn name(&self) -> Option<&str> {
        Some(self.0.path())
    }
}

/// Rows read page by page, spooled as JSON lines into the job's spill folder (bounded by its
/// spill cap) for the engine to read as a file.
struct Spool {
    out: std::io::BufWriter<std::fs::File>,
    written: u64,
    cap: u64,
    over: bool,
    /// Told when the first page is in (the provider took the credentials and the table).
    started: Option<tokio::sync::oneshot::Sender<()>>,
}

impl gateway_connector::PageSink for Spool {
    fn page(&mut self, rows: Vec<gateway_domain::JsonObject>) -> Result<(), gateway_connector::ConnectorError> {
        use std::io::Write;
        if let Some(started) = self.started.take() {
            let _ = started.send(());
        }
        let failed = |e: std::io::Error| {
            tracing::error!(error = %e, "cannot write a validation's spooled rows");
            gateway_connector::ConnectorError::new(
                gateway_connector::ErrorKind::Unknown,
                "the gateway cannot write its spill folder (logged)",
            )
        };
        for r in rows {
            let line = serde_json::to_vec(&r).unwrap_or_default();
            self.written += line.len() as u64 + 1;
            if self.written > self.cap {
                self.over = true;
                return Err(gateway_connector::ConnectorError::new(gateway_connector::ErrorKind::Unknown, "spill"));
            }
            self.out.write_all(&line).map_err(failed)?;
            self.out.write_all(b"\n").map_err(failed)?;
        }
        Ok(())
    }
}

/// A spooled file, read by range, named as the table (samples name it).
struct Spooled {
    path: PathBuf,
    len: u64,
    name: String,
}

#[async_trait::async_trait]
impl ByteSource for Spooled {
    async fn size(&self) -> Result<u64, FormatError> {
        Ok(self.len)
    }

    async fn read(&self, start: u64, end: u64) -> Result<bytes::Bytes, FormatError> {
        let (path, len) = (self.path.clone(), end.min(self.len).saturating_sub(start));
        tokio::task::spawn_blocking(move || {
            use std::io::{Read, Seek};
            let mut f = std::fs::File::open(path)?;
            f.seek(std::io::SeekFrom::Start(start))?;
            let mut buf = Vec::with_capacity(len as usize);
            f.take(len).read_to_end(&mut buf)?;
            Ok::<_, std::io::Error>(bytes::Bytes::from(buf))
        })
        .await
        .map_err(|e| FormatError::Source(e.to_string()))?
        .map_err(|e| FormatError::Source(e.to_string()))
    }

    fn name(&self) -> Option<&str> {
        Some(&self.name)
    }
}

/// Rows read page by page and spooled as one JSON-lines file (what the engine reads).
pub(crate) struct SpooledPages {
    pub(crate) files: Vec<Arc<dyn ByteSource>>,
    /// The spooled file's `connection_table_params`.
    pub(crate) params: gateway_domain::JsonObject,
    /// Whether rows were left past `max_rows`.
    pub(crate) unread: bool,
    /// What the spool took of the spill cap.
    pub(crate) bytes: u64,
}

/// Reads a table page by page into `<dir>/rows.jsonl`, at most `max_rows` rows and
/// `spill_mb` MiB (past which it answers `over`), telling `started` when its first page is in;
/// bounded in time by its caller's own cap, not a call's.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn spool_pages(
    connector: &dyn gateway_connector::Connector,
    credentials: Option<&Credentials>,
    table: &gateway_domain::Table,
    max_rows: u64,
    dir: &std::path::Path,
    spill_mb: u64,
    over: EngineError,
    started: Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<SpooledPages, Problem> {
    let cannot = |e: std::io::Error| {
        tracing::error!(error = %e, "cannot write spooled rows");
        Problem::new(ErrorName::InternalError, "the gateway cannot write its spill folder (logged)")
    };
    let path = dir.join("rows.jsonl");
    let file = std::fs::File::create(&path).map_err(cannot)?;
    // Written from the read's task: a megabyte at a time into the page cache, one write call
    // per MiB of rows (pages are small; the disk is the gateway's own).
    let out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut spool = Spool { out, written: 0, cap: spill_mb << 20, over: false, started };
    let read = connector.read_pages(credentials, table, max_rows, &mut spool).await;
    if spool.over {
        return Err(over.problem());
    }
    let unread = read.map_err(|mut e| {
        e.message = crate::scrub(&e.message, connector, credentials);
        crate::connector_problem(&e)
    })?;
    use std::io::Write;
    spool.out.flush().map_err(cannot)?;
    let spooled = Spooled { path, len: spool.written, name: table.name.as_str().to_owned() };
    let mut params = gateway_domain::JsonObject::new();
    params.insert("file_format".into(), "JSONL".into());
    Ok(SpooledPages { files: vec![Arc::new(spooled) as Arc<dyn ByteSource>], params, unread, bytes: spool.written })
}

impl Gateway {
    /// The registered kinds whose connector `can`, comma-separated: what a refusal names.
    pub(crate) fn kinds_whose(&self, can: impl Fn(&dyn gateway_connector::Connector) -> bool) -> String {
        let registry = &self.inner.registry;
        let kinds: Vec<&str> = registry
            .kinds()
            .filter(|k| registry.get(*k).is_some_and(|c| can(c.as_ref())))
            .map(ConnectionKind::as_str)
            .collect();
        kinds.join(", ")
    }

    /// A stored table's files opened for a whole read (bounded as a table inspection is).
    pub(crate) async fn open_table_files(
        &self,
        connector: &dyn gateway_connector::Connector,
        credentials: Option<&Credentials>,
        table: &gateway_domain::Table,
    ) -> Result<Vec<Arc<dyn ByteSource>>, Problem> {
        let open = connector.open_files(credentials, table);
        let files = self.bounded(table.connection, crate::ProviderStep::InspectTable, open, |_| None).await.map_err(
            |mut e| {
                e.message = crate::scrub(&e.message, connector, credentials);
                crate::connector_problem(&e)
            },
        )?;
        Ok(files.into_iter().map(|f| Arc::new(FileSource(f)) as Arc<dyn ByteSource>).collect())
    }
}

impl Gateway {
    /// Starts a validation of a stored source table (202), or answers the one queued or
    /// running for it (`false`: not new).
    pub async fn start_validation(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        body: Option<Value>,
    ) -> Result<(ValidationView, bool), Problem> {
        let (max_errors, max_rows) = request(body)?;
        let table = self.load_table(org, kind, name).await?.ok_or_else(|| table_not_found(kind, name))?;
        if table.resource.is_destination() {
            return Err(Problem::wrong_field(
                "resource",
                format!(
                    "'{name}' is a destination ({}): the platform writes it, there is nothing to validate before ingestion",
                    table.resource
                ),
            ));
        }
        let connector = self.connector(kind)?;
        if connector.whole_read() == WholeRead::Unsupported {
            let readable = self.kinds_whose(|c| c.whole_read() != WholeRead::Unsupported);
            return Err(Problem::wrong_field(
                "connection",
                format!(
                    "{kind} tables cannot be validated by this gateway yet; validations read the tables of {readable}"
                ),
            )
            .with("connection", kind.as_str()));
        }
        let (o, n) = (org.clone(), name.clone());
        self.db(move |s| s.start_validation(&o, kind, &n, max_errors, max_rows)).await
    }

    pub async fn get_validation(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        id: &str,
    ) -> Result<ValidationView, Problem> {
        self.load_table(org, kind, name).await?.ok_or_else(|| table_not_found(kind, name))?;
        let (o, n, i) = (org.clone(), name.clone(), id.to_owned());
        self.db(move |s| s.get_validation(&o, kind, &n, &i)).await?.ok_or_else(|| validation_not_found(id))
    }

    /// A table's validations, newest first.
    pub async fn list_validations(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        paging: Paging,
    ) -> Result<ValidationsPage, Problem> {
        self.load_table(org, kind, name).await?.ok_or_else(|| table_not_found(kind, name))?;
        let (o, n) = (org.clone(), name.clone());
        let (validations, has_next) = self.db(move |s| s.validations_page(&o, kind, &n, paging)).await?;
        Ok(ValidationsPage { has_next, next_page: paging.page() + 1, validations })
    }

    /// Cancels a validation (a finished one is left as it is: also 204).
    pub async fn cancel_validation(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        id: &str,
    ) -> Result<(), Problem> {
        self.load_table(org, kind, name).await?.ok_or_else(|| table_not_found(kind, name))?;
        let (o, n, i) = (org.clone(), name.clone(), id.to_owned());
        match self.db(move |s| s.cancel_validation(&o, kind, &n, &i)).await? {
            None => Err(validation_not_found(id)),
            Some(_) => Ok(()),
        }
    }

    /// Runs one claimed validation to its end and records it; never panics out (a panic in
    /// the engine is this job's failure).
    pub(crate) async fn run_validation(&self, owner: &str, job: ValidationJob) {
        let settings = self.settings().validation.clone();
        let progress = Arc::new(Progress::default());
        let spill_dir = settings.spill_dir.join(&job.id);
        let work = {
            let (g, job, progress, spill_dir) = (self.clone(), job.clone(), progress.clone(), spill_dir.clone());
            tokio::spawn(async move { g.validate_job(&job, progress, spill_dir).await })
        };
        let started = std::time::Instant::now();
        let mut work = std::pin::pin!(work);
        let mut tick = tokio::time::interval(settings.progress_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ours = true;
        let result = loop {
            tokio::select! {
                r = &mut work => break r,
                _ = tick.tick() => {
                    if started.elapsed() > settings.timeout {
                        progress.cancelled.store(true, Ordering::Relaxed);
                        work.as_mut().abort();
                        break Ok(Err(Problem::new(
                            ErrorName::QuotaExceeded,
                            format!(
                                "the validation ran past the {} s a validation may take: validate with max_rows, or ask the operator to raise GATEWAY_VALIDATION_TIMEOUT_SECS",
                                settings.timeout.as_secs()
                            ),
                        )
                        .with("setting", "GATEWAY_VALIDATION_TIMEOUT_SECS")
                        .with("limit", settings.timeout.as_secs())));
                    }
                    let at = snapshot(&progress);
                    let (o, j, until) = (owner.to_owned(), job.clone(), now_seconds() + settings.lease_secs);
                    match self.db(move |s| s.validation_progress(&o, &j, at, until)).await {
                        Ok(true) => {}
                        // Cancelled, deleted with its table, or no longer ours: stop now (a query
                        // run in place is dropped; the engine stops at its next batch).
                        Ok(false) => {
                            ours = false;
                            progress.cancelled.store(true, Ordering::Relaxed);
                            work.as_mut().abort();
                            break Ok(Err(Problem::new(ErrorName::InternalError, "cancelled")));
                        }
                        Err(p) => tracing::warn!(error = %p.message, "cannot record a validation's progress"),
                    }
                }
            }
        };
        let _ = tokio::fs::remove_dir_all(&spill_dir).await;
        let outcome = match result {
            Ok(Ok(report)) => {
                self.metrics().validation_finished("succeeded", report.rows);
                Outcome::Succeeded(report)
            }
            Ok(Err(p)) => {
                if !ours {
                    self.metrics().validation_finished("cancelled", 0);
                    return;
                }
                self.metrics().validation_finished("failed", 0);
                Outcome::Failed(error_body(&p))
            }
            Err(e) => {
                if e.is_panic() {
                    tracing::error!(validation = %job.id, "a validation panicked");
                }
                self.metrics().validation_finished("failed", 0);
                Outcome::Failed(error_body(&Problem::new(
                    ErrorName::InternalError,
                    "the validation failed on a fault of the gateway's (logged): start another",
                )))
            }
        };
        if !ours {
            return;
        }
        let mut at = snapshot(&progress);
        // A validation run where the table lives reports no progress on the way: its rows
        // are the report's.
        if let Outcome::Succeeded(report) = &outcome {
            at.rows = at.rows.max(report.rows);
        }
        let (o, j) = (owner.to_owned(), job.clone());
        match self.db(move |s| s.finish_validation(&o, &j, at, &outcome)).await {
            Ok(_) => {}
            Err(p) => tracing::warn!(error = %p.message, "cannot record a finished validation (its lease will expire)"),
        }
    }

    /// Opens the table's files and runs the engine on them.
    async fn validate_job(
        &self,
        job: &ValidationJob,
        progress: Arc<Progress>,
        spill_dir: PathBuf,
    ) -> Result<gateway_domain::ValidationReport, Problem> {
        let settings = self.settings().validation.clone();
        let table = self
            .load_table(&job.organization, job.connection, &job.table)
            .await?
            .ok_or_else(|| table_not_found(job.connection, &job.table))?;
        let connector = self.connector(job.connection)?;
        let conn = self.load_connection(&job.organization, job.connection).await?;
        let credentials = crate::tables::checked_credentials(connector.as_ref(), conn.as_ref())?;
        let scrub = |t: &str| crate::scrub(t, connector.as_ref(), credentials.as_ref());
        // The schema the table shows as its validation starts joins its history.
        self.observe_schema(conn.as_ref(), table.clone(), &Actor::system("validation")).await;
        let rules = Rules::new(
            table.resource,
            &gateway_engine::mapping_of(&table.resource_params),
            gateway_preview::required_fields(table.resource),
        );
        if connector.whole_read() == WholeRead::InPlace {
            // Bounded by the validation's own time cap (run_validation), not a call's.
            let plan = rules.plan(job.max_errors as usize, job.max_rows, settings.billed_mb.saturating_mul(1 << 20));
            return connector.validate_in_place(credentials.as_ref(), &table, &plan).await.map_err(|mut e| {
                e.message = scrub(&e.message);
                crate::connector_problem(&e)
            });
        }
        tokio::fs::create_dir_all(&spill_dir).await.map_err(|e| {
            tracing::error!(dir = %spill_dir.display(), error = %e, "cannot create a validation's spill folder");
            Problem::new(ErrorName::InternalError, "the gateway cannot write its spill folder (logged)")
        })?;
        let mut unread = false;
        // What the spooled rows took of the spill cap: the duplicate stage may spill the rest.
        let mut spooled_bytes = 0u64;
        let (files, params) = if connector.whole_read() == WholeRead::Pages {
            let max_rows = job.max_rows.unwrap_or(gateway_domain::DEFAULT_MAX_PAGED_ROWS);
            let spooled = spool_pages(
                connector.as_ref(),
                credentials.as_ref(),
                &table,
                max_rows,
                &spill_dir,
                settings.spill_mb,
                EngineError::Spill { limit_mb: settings.spill_mb },
                None,
            )
            .await?;
            unread = spooled.unread;
            spooled_bytes = spooled.bytes;
            (spooled.files, spooled.params)
        } else {
            let files = self.open_table_files(connector.as_ref(), credentials.as_ref(), &table).await?;
            (files, table.connection_table_params.clone())
        };
        let engine_job = Job {
            files,
            params,
            rules,
            max_errors: job.max_errors as usize,
            max_rows: job.max_rows,
            limits: Limits {
                memory_bytes: (settings.memory_mb.max(16) << 20) as usize,
                spill_dir,
                spill_bytes: (settings.spill_mb << 20).saturating_sub(spooled_bytes),
            },
        };
        // A provider's words reach the message through a read that failed: scrubbed.
        let mut report = gateway_engine::validate(engine_job, progress).await.map_err(|e| {
            let mut p = e.problem();
            p.message = scrub(&p.message);
            p
        })?;
        report.truncated |= unread;
        Ok(report)
    }

    /// Claims queued validations into free slots and runs each in a task of its own.
    pub(crate) async fn validation_loop(self, owner: String, tick: Duration) {
        let settings = self.settings().validation.clone();
        let slots = Arc::new(tokio::sync::Semaphore::new(settings.concurrency.max(1)));
        loop {
            self.metrics().heartbeat("validations");
            let mut free = crate::scheduler::free_slots(&slots).await;
            let (o, limit, lease) = (owner.clone(), free.len() as i64, settings.lease_secs);
            let per_org = settings.org_concurrency.max(1) as i64;
            let jobs = match self.db(move |s| s.claim_validations(&o, now_seconds(), lease, limit, per_org)).await {
                Ok(jobs) => jobs,
                Err(p) => {
                    tracing::warn!(error = %p.message, "cannot claim validations");
                    Vec::new()
                }
            };
            let n = jobs.len();
            for job in jobs {
                let Some(slot) = free.pop() else { break };
                let (g, o) = (self.clone(), owner.clone());
                tokio::spawn(async move {
                    g.run_validation(&o, job).await;
                    drop(slot);
                });
            }
            drop(free);
            if (n as i64) < limit {
                tokio::time::sleep(tick.min(Duration::from_secs(1))).await;
            }
        }
    }
}

fn snapshot(p: &Progress) -> ValidationProgress {
    ValidationProgress {
        rows: p.rows.load(Ordering::Relaxed),
        bytes_read: p.bytes_read.load(Ordering::Relaxed),
        bytes_total: p.bytes_total.load(Ordering::Relaxed),
    }
}

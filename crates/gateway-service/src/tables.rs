//! Tables: get, patch (create or shallow update), delete, filter, preview and test.

use gateway_connector::Connector;
use gateway_domain::{
    Actor, Connection, ConnectionKind, Credentials, ErrorName, OrganizationId, PageCursor, Paging, Problem, Resource,
    Table, TableName, TablePatch, TablePreview, TableStatus, TableView, TablesList, TablesPage,
};
use gateway_preview::{Preview, SAMPLE_ROWS};
use gateway_store::TableFilter;
use serde_json::Value;

use crate::{Gateway, connection_not_found, uploads};

/// Kept schemas a test's drift is judged against (newest first): a mapped column fit in any
/// of them and unfit now fails the table.
const SCHEMAS_JUDGED: i64 = 64;

pub(crate) fn table_not_found(kind: ConnectionKind, name: &TableName) -> Problem {
    Problem::new(ErrorName::TableNotFound, format!("no table '{name}' on connection {kind}"))
        .with("connection", kind.as_str())
        .with("name", name.as_str())
}

/// What a test that still passes says of columns changed since the last recorded one.
fn schema_warning(diff: &gateway_domain::SchemaDiff) -> Option<String> {
    let names = |cs: &[gateway_domain::Column]| cs.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ");
    let mut parts = Vec::new();
    if !diff.added.is_empty() {
        parts.push(format!("added {}", names(&diff.added)));
    }
    if !diff.removed.is_empty() {
        parts.push(format!("removed {}", names(&diff.removed)));
    }
    if !diff.changed.is_empty() {
        parts.push(format!("retyped {}", diff.changed.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")));
    }
    let mut warning =
        (!parts.is_empty()).then(|| format!("the columns changed since the last recorded test: {}", parts.join("; ")));
    if let Some(u) = &diff.timestamp_unit {
        let unit = format!(
            "the mapped timestamp now holds {} since the epoch where it held {}: check the export",
            u.to, u.from
        );
        warning = Some(warning.map_or(unit.clone(), |w| format!("{w}; {unit}")));
    }
    warning
}

fn preview_body(preview: Preview) -> TablePreview {
    let mut view = TableView::from(preview.table);
    view.warnings = preview.warnings;
    TablePreview { table: view, sample: preview.sample }
}

/// A page answered: `next_page`, and `next_cursor` when another page follows.
fn tables_page(tables: Vec<Table>, has_next: bool, page: u32) -> TablesPage {
    let next_cursor = if has_next {
        tables.last().map(|t| {
            PageCursor { page: page.saturating_add(1), connection: t.connection, name: t.name.clone() }.encode()
        })
    } else {
        None
    };
    TablesPage {
        has_next,
        next_page: page.saturating_add(1),
        tables: tables.into_iter().map(TableView::from).collect(),
        next_cursor,
        warnings: Vec::new(),
    }
}

/// Why a preview failed: the problem answered, the status it means for a stored table
/// (`None`: nothing), and the provider's failure when there was one (its kind, how long it
/// asked to wait).
#[derive(Debug)]
pub(crate) struct PreviewFailure {
    pub problem: Problem,
    pub status: Option<TableStatus>,
    pub provider: Option<(gateway_connector::ErrorKind, Option<std::time::Duration>)>,
    /// The source's columns, when it was read but the table does not fit them (a mapped
    /// column gone): the schema history keeps them all the same.
    pub columns: Option<Vec<gateway_domain::Column>>,
}

impl PreviewFailure {
    fn new(problem: Problem, status: Option<TableStatus>) -> Self {
        PreviewFailure { problem, status, provider: None, columns: None }
    }
}

impl Gateway {
    /// The schemas recorded tests saw of a table, newest first, paged.
    pub async fn schema_history(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        paging: gateway_domain::Paging,
    ) -> Result<gateway_domain::SchemaHistory, Problem> {
        self.load_table(org, kind, name).await?.ok_or_else(|| table_not_found(kind, name))?;
        let (o, n) = (org.clone(), name.clone());
        self.db(move |s| s.schema_history(&o, kind, &n, paging)).await
    }

    pub async fn get_table(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
    ) -> Result<TableView, Problem> {
        let (o, n) = (org.clone(), name.clone());
        let table = self.db(move |s| s.get_table(&o, kind, &n)).await?.ok_or_else(|| table_not_found(kind, name))?;
        Ok(TableView::from(table))
    }

    /// Creates a table or merges the body over the stored one (shallow), checks it statically
    /// against its connector's table spec, and stores it. A table whose file is uploaded to
    /// the platform (a kind without a connection) gets its upload URL here.
    pub async fn patch_table(
        &self,
        org: &OrganizationId,
        actor: &Actor,
        kind: ConnectionKind,
        name: &TableName,
        body: Value,
    ) -> Result<TableView, Problem> {
        let patch = TablePatch::from_json(body, kind, name)?;
        let connector = self.registry().get(kind).cloned();
        let initial = connector.as_ref().map_or(TableStatus::Available, |c| c.new_table_status());
        let (o, n, a) = (org.clone(), name.clone(), actor.clone());
        let (key, public_url) = (self.settings().upload_key.clone(), self.settings().public_url.clone());
        let c = connector.clone();
        let table = self
            .db(move |s| {
                s.upsert_table(&o, kind, &n, &a, |stored| {
                    let mut table = gateway_preview::merge(&o, kind, &n, stored, &patch, initial)?;
                    gateway_preview::check(&table, c.as_deref())?;
                    if !kind.has_connection() {
                        let url = uploads::upload_url(&key, &public_url, stored, &o, &n)?;
                        table.connection_table_params.insert("url".into(), url.into());
                    }
                    Ok(table)
                })
            })
            .await?;
        let mut view = TableView::from(table);
        if connector.is_none() {
            view.warnings
                .push(format!("the gateway has no {kind} connector yet: connection_table_params are stored unchecked"));
        }
        Ok(view)
    }

    pub async fn delete_table(
        &self,
        org: &OrganizationId,
        actor: &Actor,
        kind: ConnectionKind,
        name: &TableName,
    ) -> Result<(), Problem> {
        let (o, n, a) = (org.clone(), name.clone(), actor.clone());
        if !self.db(move |s| s.delete_table(&o, kind, &n, &a)).await? {
            return Err(table_not_found(kind, name));
        }
        // A LOCAL table's file goes with it: a table created again under the name waits for
        // its own.
        if !kind.has_connection()
            && let Some(storage) = self.registry().uploads()
            && let Err(e) = storage.remove(org, name).await
        {
            tracing::warn!(table = %name, reason = %e.kind, "a deleted LOCAL table's file could not be removed");
        }
        Ok(())
    }

    /// Deprecated: the tables of one connection, summarised. Use [`Gateway::filter_tables`].
    pub async fn list_tables(&self, org: &OrganizationId, kind: ConnectionKind) -> Result<TablesList, Problem> {
        let o = org.clone();
        let tables = self.db(move |s| s.list_tables(&o, kind)).await?;
        Ok(TablesList {
            tables: tables.into_iter().map(Into::into).collect(),
            warnings: vec![format!("this endpoint is deprecated: use GET /tables/?connection={kind}")],
        })
    }

    /// A page of the organization's tables, in (connection, name) order.
    pub async fn filter_tables(
        &self,
        org: &OrganizationId,
        connection: Option<ConnectionKind>,
        resource: Option<Resource>,
        paging: Paging,
    ) -> Result<TablesPage, Problem> {
        let o = org.clone();
        let filter = TableFilter { connection, resource };
        let (tables, has_next) = self.db(move |s| s.filter_tables(&o, filter, paging)).await?;
        Ok(tables_page(tables, has_next, paging.page()))
    }

    /// The page a [`PageCursor`] (an answer's `next_cursor`) leads to, with the same filters:
    /// found by a seek on the table order, so the last page costs what the first does.
    pub async fn filter_tables_after(
        &self,
        org: &OrganizationId,
        connection: Option<ConnectionKind>,
        resource: Option<Resource>,
        cursor: PageCursor,
        amt: u32,
    ) -> Result<TablesPage, Problem> {
        let o = org.clone();
        let filter = TableFilter { connection, resource };
        let page = cursor.page;
        let (tables, has_next) =
            self.db(move |s| s.filter_tables_after(&o, filter, (cursor.connection, &cursor.name), amt)).await?;
        Ok(tables_page(tables, has_next, page))
    }

    /// Preview and validate: merges the body over the stored table and opens it. Stores
    /// nothing. A table that is neither stored nor created by the body is TABLE_NOT_FOUND.
    pub async fn preview_table(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
        body: Value,
    ) -> Result<TablePreview, Problem> {
        let patch = TablePatch::from_json(body, kind, name)?;
        let stored = self.load_table(org, kind, name).await?;
        if stored.is_none() && patch.resource.is_none() {
            return Err(table_not_found(kind, name)
                .with("hint", "give 'resource' (and the table's params) to preview a table before creating it"));
        }
        let conn = self.load_connection(org, kind).await?;
        let connector = self.connector(kind)?;
        let _admitted = self.admit(org).await?;
        let merged = gateway_preview::merge(org, kind, name, stored.as_ref(), &patch, connector.new_table_status())?;
        let preview = self.run_preview(&connector, conn.as_ref(), merged).await.map_err(|f| f.problem)?;
        Ok(preview_body(preview))
    }

    /// Tests the stored table and records the outcome as its status (by `actor`, in the
    /// audit trail when it changes).
    pub async fn test_table(
        &self,
        org: &OrganizationId,
        actor: &Actor,
        kind: ConnectionKind,
        name: &TableName,
    ) -> Result<TablePreview, Problem> {
        let table = self.load_table(org, kind, name).await?.ok_or_else(|| table_not_found(kind, name))?;
        let conn = self.load_connection(org, kind).await?;
        let _admitted = self.admit(org).await?;
        self.preview_and_record(conn.as_ref(), table, Vec::new(), actor).await
    }

    pub(crate) async fn load_table(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
        name: &TableName,
    ) -> Result<Option<Table>, Problem> {
        let (o, n) = (org.clone(), name.clone());
        self.db(move |s| s.get_table(&o, kind, &n)).await
    }

    /// The connection of a kind that has one (`None` for LOCAL); CONNECTION_NOT_FOUND when missing.
    pub(crate) async fn load_connection(
        &self,
        org: &OrganizationId,
        kind: ConnectionKind,
    ) -> Result<Option<Connection>, Problem> {
        if !kind.has_connection() {
            return Ok(None);
        }
        let o = org.clone();
        let conn = self.db(move |s| s.get_connection(&o, kind)).await?;
        conn.map(Some).ok_or_else(|| connection_not_found(kind))
    }

    /// Static checks, the connector's inspection, then defaults, mappings and warnings.
    async fn run_preview(
        &self,
        connector: &std::sync::Arc<dyn Connector>,
        conn: Option<&Connection>,
        table: Table,
    ) -> Result<Preview, PreviewFailure> {
        gateway_preview::check(&table, Some(connector.as_ref()))
            .map_err(|p| PreviewFailure::new(p, Some(TableStatus::WrongSpecification)))?;
        // Stored credentials are checked again: a row written before a rule existed must not
        // steer a call anywhere the rule now refuses.
        let credentials = checked_credentials(connector.as_ref(), conn)
            .map_err(|p| PreviewFailure::new(p, Some(TableStatus::WrongCredentials)))?;
        let scrub = |t: &str| crate::scrub(t, connector.as_ref(), credentials.as_ref());
        // Previews decode what tenants and providers send: a global cap on how many at once
        // bounds the memory they hold together.
        let _preview = self.inner.limits.preview(self.inner.settings.connector_timeout).await.ok_or_else(|| {
            PreviewFailure {
                problem: Problem::new(
                    ErrorName::TooManyRequests,
                    "the gateway is previewing as many tables as it may at once (GATEWAY_PREVIEWS_IN_FLIGHT): retry shortly",
                )
                .with("retry_after", 5),
                status: None,
                provider: Some((gateway_connector::ErrorKind::RateLimited, None)),
                columns: None,
            }
        })?;
        let inspect = connector.inspect_table(credentials.as_ref(), &table, SAMPLE_ROWS);
        let mut inspection = self
            .bounded(table.connection, crate::ProviderStep::InspectTable, inspect, |_| None)
            .await
            .map_err(|mut e| {
                tracing::info!(connection = %table.connection, table = %table.name, reason = %e.kind, "inspection failed");
                e.message = scrub(&e.message);
                PreviewFailure {
                    problem: crate::connector_problem(&e),
                    status: Some(gateway_preview::status_for(e.kind)),
                    provider: Some((e.kind, e.retry_after)),
                    columns: None,
                }
            })?;
        self.metrics().preview_bytes(table.connection, inspection.bytes_read);
        for w in &mut inspection.warnings {
            *w = scrub(w);
        }
        let columns =
            (!table.resource.is_destination() && !inspection.columns.is_empty()).then(|| inspection.columns.clone());
        gateway_preview::apply(table, inspection)
            .map_err(|p| PreviewFailure { columns, ..PreviewFailure::new(p, Some(TableStatus::WrongSpecification)) })
    }

    /// Previews a stored table and records the outcome as its status; answers the preview, or
    /// the failure (with the status it recorded in `error_data.status`). `notes` lead the
    /// warnings.
    pub(crate) async fn preview_and_record(
        &self,
        conn: Option<&Connection>,
        table: Table,
        notes: Vec<String>,
        actor: &Actor,
    ) -> Result<TablePreview, Problem> {
        self.preview_and_record_with(conn, table, notes, actor, true).await.map_err(|f| f.problem)
    }

    /// Keeps the schema a table shows now without judging it (a validation's look: its status
    /// is left as it is), seen by the inspection a test makes so that the two never disagree;
    /// told and audited as a test's change. A table that cannot be inspected keeps nothing
    /// (its validation answers why).
    pub(crate) async fn observe_schema(&self, conn: Option<&Connection>, table: Table, actor: &Actor) {
        if table.resource.is_destination() {
            return;
        }
        let Ok(connector) = self.connector(table.connection) else { return };
        let tested = table.clone();
        let result = self.run_preview(&connector, conn, table).await;
        let (columns, unit) = match &result {
            Ok(p) => (p.sample.columns.clone(), gateway_preview::timestamp_unit(p).map(str::to_owned)),
            Err(f) => (f.columns.clone().unwrap_or_default(), None),
        };
        if columns.is_empty() {
            return;
        }
        let observed = gateway_store::schemas::Observed { columns, unit };
        let actor = actor.clone();
        let (org, kind, name) = (tested.organization.clone(), tested.connection, tested.name.clone());
        if let Err(p) = self.db(move |s| s.observe_table_schema(&org, kind, &name, &tested, &observed, &actor)).await {
            tracing::warn!(error = %p.message, "cannot keep a validated table's schema");
        }
    }

    /// [`Gateway::preview_and_record`], keeping the failure whole; with `record_temporary`
    /// false, a temporary provider failure (timeout, rate limit, outage) records nothing.
    pub(crate) async fn preview_and_record_with(
        &self,
        conn: Option<&Connection>,
        table: Table,
        mut notes: Vec<String>,
        actor: &Actor,
        record_temporary: bool,
    ) -> Result<TablePreview, PreviewFailure> {
        let (org, kind, name) = (table.organization.clone(), table.connection, table.name.clone());
        let connector = self.connector(kind).map_err(|p| PreviewFailure::new(p, None))?;
        let awaiting = table.status == TableStatus::Uploading && connector.new_table_status() == TableStatus::Uploading;
        let tested = table.clone();
        let mut result = self.run_preview(&connector, conn, table).await;
        let stale = result.as_ref().ok().and_then(|p| p.stale);
        let unit = result.as_ref().ok().and_then(gateway_preview::timestamp_unit).map(str::to_owned);
        let columns = match &result {
            Ok(p) if !p.table.resource.is_destination() && !p.sample.columns.is_empty() => {
                Some(p.sample.columns.clone())
            }
            Ok(_) => None,
            Err(f) => f.columns.clone(),
        };
        // A mapped column retyped past what its platform field needs fails the table, as a
        // mapped column removed does, until it is fit again; other changes are warned.
        if let (Ok(preview), Some(new)) = (&mut result, &columns) {
            let (o, n) = (org.clone(), name.clone());
            let kept = self
                .db(move |s| s.recent_schemas(&o, kind, &n, SCHEMAS_JUDGED))
                .await
                .map_err(|p| PreviewFailure::new(p, None))?;
            let history: Vec<Vec<gateway_domain::Column>> = kept.iter().map(|e| e.columns.clone()).collect();
            if let Some(old) = kept.into_iter().next() {
                if let Some(problem) = gateway_preview::drift(&preview.table, &history, new) {
                    result = Err(PreviewFailure {
                        columns: columns.clone(),
                        ..PreviewFailure::new(problem, Some(TableStatus::WrongSpecification))
                    });
                } else {
                    let mut diff = gateway_domain::SchemaDiff::between(&old.columns, new);
                    if let (Some(from), Some(to)) = (&old.unit, &unit)
                        && from != to
                    {
                        diff.timestamp_unit = Some(gateway_domain::UnitChange { from: from.clone(), to: to.clone() });
                    }
                    preview.warnings.extend(schema_warning(&diff));
                }
            }
        }
        let schema = columns.map(|columns| gateway_store::schemas::Observed { columns, unit });
        let status = match &result {
            Ok(_) => Some(TableStatus::Available),
            // A table waiting for its file stays `uploading` until it arrives.
            Err(PreviewFailure { status: Some(TableStatus::ResourceNotFound), .. }) if awaiting => None,
            Err(PreviewFailure { provider: Some((kind, _)), .. }) if !record_temporary && kind.is_temporary() => None,
            Err(f) => f.status,
        };
        let recorded = match status {
            Some(status) => {
                let a = actor.clone();
                let verdict = gateway_store::Verdict { status, stale, schema };
                self.db(move |s| s.set_table_status(&org, kind, &name, Some(&tested), verdict, &a))
                    .await
                    .map_err(|p| PreviewFailure::new(p, None))?
            }
            None => None,
        };
        match result {
            Ok(mut preview) => {
                if let Some(stored) = recorded {
                    preview.table.status = stored.status;
                    preview.table.modified_timestamp = stored.modified_timestamp;
                }
                notes.append(&mut preview.warnings);
                preview.warnings = notes;
                Ok(preview_body(preview))
            }
            Err(mut f) => {
                if let Some(status) = status {
                    f.problem = f.problem.with("status", status.as_str());
                }
                Err(f)
            }
        }
    }
}

/// A stored connection's credentials, checked again by its connector before any call: a row
/// written before a rule existed must not steer a call anywhere the rule now refuses.
pub(crate) fn checked_credentials(
    connector: &dyn Connector,
    conn: Option<&Connection>,
) -> Result<Option<Credentials>, Problem> {
    conn.map(|c| connector.validate_credentials(c.credentials.expose()).map(Credentials::new)).transpose()
}

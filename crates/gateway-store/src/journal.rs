//! Changes, recorded in one place. A change (a table written, a status recorded, an
//! endpoint replaced) is a value; [`record`] writes what it implies in the transaction of the
//! change itself: its audit row, its webhook events in the outbox, and the re-tests it
//! schedules or unschedules. Nothing else writes the audit trail, the outbox or the
//! schedule's rows for a change, so what a change means is read here, top to bottom.

use gateway_domain::{
    Actor, AuditAction, ConnectionKind, ConnectionStatus, EventName, OrganizationId, Table, TableName, TableStatus,
    ValidationState, WebhookId,
};

use crate::checks::{self, CheckPolicy};
use crate::db::DbConnection;
use crate::{Quotas, StoreError, audit, schemas, validations, webhooks};

/// The operator's rules a change is recorded under: when its re-tests fall due, and what an
/// organization may keep. [`Store::rules`](crate::Store::rules) answers the store's own.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub policy: &'a CheckPolicy,
    pub quotas: &'a Quotas,
}

/// What happened.
#[derive(Debug)]
pub(crate) enum Change<'a> {
    /// A table created; `fields` are those it was given.
    TableCreated {
        table: &'a Table,
        fields: Vec<String>,
    },
    /// A table's fields changed (its status among them, when `old_status` differs).
    TableUpdated {
        table: &'a Table,
        old_status: TableStatus,
        fields: Vec<String>,
    },
    /// A test recorded a table's new status.
    TableStatus {
        table: &'a Table,
        old: TableStatus,
    },
    TableDeleted {
        kind: ConnectionKind,
        name: &'a TableName,
    },
    /// A connection created.
    ConnectionCreated {
        kind: ConnectionKind,
        fields: Vec<String>,
    },
    /// A connection replaced; `forgotten` is the status its old credentials had.
    ConnectionUpdated {
        kind: ConnectionKind,
        fields: Vec<String>,
        forgotten: Option<ConnectionStatus>,
    },
    /// A test recorded a connection's new status.
    ConnectionStatus {
        kind: ConnectionKind,
        old: Option<ConnectionStatus>,
        new: ConnectionStatus,
    },
    /// A connection deleted, with `tables` of its tables.
    ConnectionDeleted {
        kind: ConnectionKind,
        tables: usize,
    },
    /// A connection's credentials sealed again under the current key.
    ConnectionResealed {
        kind: ConnectionKind,
    },
    WebhookPut {
        id: &'a WebhookId,
        fields: Vec<String>,
    },
    WebhookSecretRotated {
        id: &'a WebhookId,
    },
    WebhookDeleted {
        id: &'a WebhookId,
    },
    /// A watched table went stale (`true`) or fresh again.
    TableFreshness {
        kind: ConnectionKind,
        name: &'a TableName,
        stale: bool,
    },
    /// A recorded test saw a table's columns change.
    TableSchema {
        kind: ConnectionKind,
        name: &'a TableName,
        diff: &'a gateway_domain::SchemaDiff,
    },
    /// A table's rows were read: how many served and skipped, source bytes, how it ended.
    TableRowsRead {
        kind: ConnectionKind,
        name: &'a TableName,
        read: &'a RowsRead,
    },
    /// A validation of a table finished; `counts` (rows, invalid rows) when it succeeded.
    TableValidated {
        kind: ConnectionKind,
        name: &'a TableName,
        validation: &'a str,
        state: ValidationState,
        counts: Option<(u64, u64)>,
    },
}

impl Change<'_> {
    fn action(&self) -> AuditAction {
        match self {
            Change::TableCreated { .. } => AuditAction::TableCreate,
            Change::TableUpdated { .. } => AuditAction::TableUpdate,
            Change::TableStatus { .. } => AuditAction::TableStatus,
            Change::TableDeleted { .. } => AuditAction::TableDelete,
            Change::ConnectionCreated { .. } | Change::ConnectionUpdated { .. } => AuditAction::ConnectionPut,
            Change::ConnectionStatus { .. } => AuditAction::ConnectionStatus,
            Change::ConnectionDeleted { .. } => AuditAction::ConnectionDelete,
            Change::ConnectionResealed { .. } => AuditAction::ConnectionReseal,
            Change::WebhookPut { .. } => AuditAction::WebhookPut,
            Change::WebhookSecretRotated { .. } => AuditAction::WebhookRotateSecret,
            Change::WebhookDeleted { .. } => AuditAction::WebhookDelete,
            Change::TableValidated { .. } => AuditAction::TableValidated,
            Change::TableRowsRead { .. } => AuditAction::TableRowsRead,
            Change::TableFreshness { .. } => AuditAction::TableFreshness,
            Change::TableSchema { .. } => AuditAction::TableSchema,
        }
    }

    /// What the audit trail says it was done to: `S3/orders.csv`, `S3`, `webhook/ops`.
    fn target(&self) -> String {
        match self {
            Change::TableCreated { table, .. }
            | Change::TableUpdated { table, .. }
            | Change::TableStatus { table, .. } => {
                format!("{}/{}", table.connection, table.name)
            }
            Change::TableDeleted { kind, name }
            | Change::TableValidated { kind, name, .. }
            | Change::TableRowsRead { kind, name, .. }
            | Change::TableFreshness { kind, name, .. }
            | Change::TableSchema { kind, name, .. } => {
                format!("{kind}/{name}")
            }
            Change::ConnectionCreated { kind, .. }
            | Change::ConnectionUpdated { kind, .. }
            | Change::ConnectionStatus { kind, .. }
            | Change::ConnectionDeleted { kind, .. }
            | Change::ConnectionResealed { kind } => kind.as_str().to_owned(),
            Change::WebhookPut { id, .. } | Change::WebhookSecretRotated { id } | Change::WebhookDeleted { id } => {
                format!("webhook/{id}")
            }
        }
    }

    /// The names of the fields it changed (never a value).
    fn fields(&self) -> Vec<String> {
        match self {
            Change::TableCreated { fields, .. }
            | Change::TableUpdated { fields, .. }
            | Change::WebhookPut { fields, .. } => fields.clone(),
            Change::ConnectionCreated { fields, .. } => fields.clone(),
            Change::ConnectionUpdated { fields, forgotten, .. } => {
                let mut f = fields.clone();
                if forgotten.is_some() {
                    f.push("status".to_owned());
                }
                f
            }
            Change::TableStatus { .. } | Change::ConnectionStatus { .. } => vec!["status".to_owned()],
            Change::ConnectionDeleted { tables, .. } if *tables > 0 => vec![format!("tables ({tables})")],
            Change::ConnectionResealed { .. } => vec!["credentials".to_owned()],
            Change::WebhookSecretRotated { .. } => vec!["secret".to_owned()],
            // Which validation, and how it ended (no value of the table's).
            Change::TableFreshness { stale, .. } => vec![if *stale { "stale" } else { "fresh" }.to_owned()],
            // Column names, as the columns are the table's own fields (never a value).
            Change::TableSchema { diff, .. } => diff
                .added
                .iter()
                .map(|c| format!("added {}", c.name))
                .chain(diff.removed.iter().map(|c| format!("removed {}", c.name)))
                .chain(diff.changed.iter().map(|c| format!("changed {}", c.name)))
                .collect(),
            // Counts and how the read ended (no value of the table's).
            Change::TableRowsRead { read, .. } => vec![
                format!("rows {}", read.rows),
                format!("skipped {}", read.skipped),
                format!("bytes {}", read.bytes),
                read.ended.to_owned(),
            ]
            .into_iter()
            .chain(read.error.iter().map(|e| format!("error {}", e.chars().take(300).collect::<String>())))
            .collect(),
            Change::TableValidated { validation, state, .. } => {
                vec![format!("validation {validation}"), format!("state {state}")]
            }
            Change::ConnectionDeleted { .. } | Change::TableDeleted { .. } | Change::WebhookDeleted { .. } => {
                Vec::new()
            }
        }
    }

    /// The event the webhooks hear of it, if any: status changes and finished validations.
    fn event(&self) -> Option<gateway_domain::Event> {
        if let Change::TableFreshness { kind, name, stale } = self {
            let event = if *stale { EventName::TableStale } else { EventName::TableFresh };
            return Some(webhooks::status_event(event, *kind, Some(name), None, None));
        }
        if let Change::TableSchema { kind, name, diff } = self {
            let mut event = webhooks::status_event(EventName::TableSchemaChanged, *kind, Some(name), None, None);
            event.schema = Some((*diff).clone());
            return Some(event);
        }
        if let Change::TableValidated { kind, name, validation, counts, .. } = self {
            let mut event = webhooks::status_event(EventName::TableValidated, *kind, Some(name), None, None);
            event.validation = Some((*validation).to_owned());
            event.rows = counts.map(|c| c.0);
            event.invalid_rows = counts.map(|c| c.1);
            return Some(event);
        }
        let (name, kind, table, old, new) = match self {
            Change::TableUpdated { table, old_status, .. } if *old_status != table.status => (
                EventName::TableStatusChanged,
                table.connection,
                Some(&table.name),
                Some(old_status.as_str()),
                Some(table.status.as_str()),
            ),
            Change::TableStatus { table, old } => (
                EventName::TableStatusChanged,
                table.connection,
                Some(&table.name),
                Some(old.as_str()),
                Some(table.status.as_str()),
            ),
            // New credentials: the old status described others; forgotten, and said so.
            Change::ConnectionUpdated { kind, forgotten: Some(old), .. } => {
                (EventName::ConnectionStatusChanged, *kind, None, Some(old.as_str()), None)
            }
            Change::ConnectionStatus { kind, old, new } if *old != Some(*new) => {
                (EventName::ConnectionStatusChanged, *kind, None, old.map(ConnectionStatus::as_str), Some(new.as_str()))
            }
            _ => return None,
        };
        Some(webhooks::status_event(name, kind, table, old, new))
    }
}

/// A read of a table's rows, as the audit trail records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowsRead {
    pub rows: u64,
    pub skipped: u64,
    /// Bytes read from the source.
    pub bytes: u64,
    /// `completed`, `stopped` (the reader went away) or `failed`.
    pub ended: &'static str,
    /// Why a failed read failed: its error name and message (already scrubbed of secrets).
    pub error: Option<String>,
}

/// What recording a change did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Recorded {
    /// Webhook deliveries queued.
    pub deliveries: usize,
}

/// Records `change`, by `actor`, inside the caller's transaction.
pub(crate) fn record(
    conn: &mut DbConnection,
    rules: Rules<'_>,
    org: &OrganizationId,
    actor: &Actor,
    change: &Change<'_>,
) -> Result<Recorded, StoreError> {
    audit::append(conn, org.as_str(), actor, change.action(), &change.target(), &change.fields())?;
    let deliveries = match change.event() {
        Some(event) => webhooks::enqueue(conn, rules.quotas, org, &event)?,
        None => 0,
    };
    match change {
        Change::TableCreated { table, .. } => {
            checks::schedule(conn, rules.policy, org, table.connection, Some(&table.name))?;
        }
        Change::ConnectionCreated { kind, .. } => checks::schedule(conn, rules.policy, org, *kind, None)?,
        Change::TableDeleted { kind, name } => {
            checks::unschedule(conn, org, *kind, Some(name))?;
            validations::delete_of(conn, org, *kind, Some(name))?;
            schemas::delete_of(conn, org, *kind, Some(name))?;
        }
        // The connection's job and its tables', and their validations.
        Change::ConnectionDeleted { kind, .. } => {
            checks::unschedule(conn, org, *kind, None)?;
            validations::delete_of(conn, org, *kind, None)?;
            schemas::delete_of(conn, org, *kind, None)?;
        }
        _ => {}
    }
    Ok(Recorded { deliveries })
}

//! What a connector answers: credential-check steps and table inspections.

use gateway_domain::{Column, JsonObject};
use serde::Serialize;
use serde_json::Value;

use crate::ErrorKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepOutcome {
    Passed,
    Failed,
    /// The credentials are right but lack a permission this use needs; the message names
    /// the grant to add (an IAM action, a role, a scope, a key permission).
    Forbidden,
    /// Not checked: the provider offers no read-only call for it, or an earlier step failed.
    Skipped,
}

/// One named check of a credential test, e.g. `list_bucket`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub name: String,
    pub outcome: StepOutcome,
    pub message: String,
    /// Why a failed step failed.
    #[serde(skip)]
    pub error: Option<ErrorKind>,
}

impl Step {
    pub fn passed(name: impl Into<String>, message: impl Into<String>) -> Self {
        Step { name: name.into(), outcome: StepOutcome::Passed, message: message.into(), error: None }
    }

    /// A step that failed; a missing permission (`ErrorKind::Forbidden`) is its own outcome.
    pub fn failed(name: impl Into<String>, kind: ErrorKind, message: impl Into<String>) -> Self {
        let outcome = if kind == ErrorKind::Forbidden { StepOutcome::Forbidden } else { StepOutcome::Failed };
        Step { name: name.into(), outcome, message: message.into(), error: Some(kind) }
    }

    /// The outcome of one call: passed with the message `ok` makes of its answer, or failed
    /// (forbidden) with the error's.
    pub fn of<T>(name: &str, result: Result<T, crate::ConnectorError>, ok: impl FnOnce(T) -> String) -> Self {
        match result {
            Ok(v) => Step::passed(name, ok(v)),
            Err(e) => Step::failed(name, e.kind, e.message),
        }
    }

    pub fn skipped(name: impl Into<String>, message: impl Into<String>) -> Self {
        Step { name: name.into(), outcome: StepOutcome::Skipped, message: message.into(), error: None }
    }
}

/// The outcome of `test_credentials`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CredentialCheck {
    pub steps: Vec<Step>,
    pub warnings: Vec<String>,
}

impl CredentialCheck {
    /// The first failed step, if any (then a forbidden one).
    pub fn failure(&self) -> Option<&Step> {
        self.steps
            .iter()
            .find(|s| s.outcome == StepOutcome::Failed)
            .or_else(|| self.steps.iter().find(|s| s.outcome == StepOutcome::Forbidden))
    }

    /// Adds a step for one call and answers whether it passed (so the next may build on it).
    pub fn run<T>(
        &mut self,
        name: &str,
        result: Result<T, crate::ConnectorError>,
        ok: impl FnOnce(T) -> String,
    ) -> bool {
        let step = Step::of(name, result, ok);
        let passed = step.outcome == StepOutcome::Passed;
        self.steps.push(step);
        passed
    }

    /// Whether every step passed: everything the connection will be used for was checked.
    pub fn verified(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.outcome == StepOutcome::Passed)
    }
}

/// What a connector found when it opened a table's remote resource.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Inspection {
    /// Parameters detected, under the keys of `connection_table_params` (e.g. `file_format`,
    /// `options.delimiter`). The caller's own values win over these.
    pub detected: JsonObject,
    /// The source's columns (empty for a destination).
    pub columns: Vec<Column>,
    /// Up to the requested number of rows, each an object keyed by column name.
    pub rows: Vec<JsonObject>,
    /// For a destination: whether a write was proven.
    pub writable: Option<bool>,
    /// Bytes read from the remote resource.
    pub bytes_read: u64,
    pub warnings: Vec<String>,
    /// For a file-set table: what its pattern matched.
    pub files: Option<gateway_domain::FileSet>,
    /// When the resource last changed, Unix seconds (a file's, a set's newest), where the
    /// provider says.
    pub modified: Option<i64>,
}

impl Inspection {
    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_str())
    }

    /// The sample values of one column.
    pub fn values<'a>(&'a self, column: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.rows.iter().filter_map(move |r| r.get(column))
    }
}

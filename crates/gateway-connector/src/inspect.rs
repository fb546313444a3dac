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

    pub fn failed(name: impl Into<String>, kind: ErrorKind, message: impl Into<String>) -> Self {
        Step { name: name.into(), outcome: StepOutcome::Failed, message: message.into(), error: Some(kind) }
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
    /// The first failed step, if any.
    pub fn failure(&self) -> Option<&Step> {
        self.steps.iter().find(|s| s.outcome == StepOutcome::Failed)
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

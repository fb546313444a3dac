//! BigQuery credentials and tables.

use gateway_connector::{CredentialSpec, FieldSpec, FieldType, ParamSpec, ParamType, Shape, TableSpec};
use gateway_domain::{ConnectionKind, Problem, Resource, Table};

pub const API: &str = "https://bigquery.googleapis.com";
/// The read scope of BigQuery v2's discovery document, which every call made here accepts
/// (datasets, tables, tabledata, jobs.query, testIamPermissions). `bigquery.readonly` is no
/// longer in it (<https://bigquery.googleapis.com/discovery/v1/apis/bigquery/v2/rest>,
/// "auth.oauth2.scopes"; <https://developers.google.com/identity/protocols/oauth2/scopes#bigquery>).
/// The key's roles, not the scope, decide what it may do; the scope only keeps the token from
/// writing.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform.read-only";
/// The most bytes a view's sample query may bill.
pub const MAX_BYTES_BILLED: u64 = 100_000_000;

/// Project ids: 6 to 30 lower-case letters, digits and hyphens (a domain-scoped one has a
/// `domain:` prefix).
pub fn project_ok(p: &str) -> bool {
    let name = p.rsplit(':').next().unwrap_or(p);
    (1..=100).contains(&p.len())
        && !name.is_empty()
        && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | ':'))
}

/// Dataset ids: letters, digits and underscores, at most 1024.
pub fn dataset_ok(d: &str) -> bool {
    (1..=1024).contains(&d.len()) && d.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Table ids: letters, digits, underscores, dashes and spaces (Unicode letters too), at most 1024.
pub fn table_ok(t: &str) -> bool {
    (1..=1024).contains(&t.len()) && t.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' ' | '$'))
}

pub const PROJECT: Shape = Shape {
    pattern: "^[a-z0-9:.-]{1,100}$",
    check: project_ok,
    hint: "a project id (lower-case letters, digits and hyphens)",
};
pub const DATASET: Shape = Shape {
    pattern: "^[A-Za-z0-9_]{1,1024}$",
    check: dataset_ok,
    hint: "a dataset id (letters, digits and underscores)",
};
pub const LOCATION: Shape = Shape {
    pattern: "^[A-Za-z0-9-]{2,32}$",
    check: |s| (2..=32).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
    hint: "a location such as US, EU or europe-west1",
};

pub fn credential_spec() -> CredentialSpec {
    let mut fields = gateway_connector::google::key_file_fields();
    // The key's project is the billing project unless it is the key's only project.
    fields.retain(|f| f.name != "project_id");
    fields.insert(
        1,
        FieldSpec::required(
            "project_id",
            FieldType::String,
            "the project queries are billed to (the key's, by default)",
        )
        .shape(PROJECT),
    );
    fields.push(
        FieldSpec::optional("location", FieldType::String, "the datasets' location (US, EU, europe-west1...)")
            .shape(LOCATION),
    );
    fields.push(
        FieldSpec::optional("dataset", FieldType::String, "the dataset tables are in unless they name one")
            .shape(DATASET),
    );
    CredentialSpec::new(ConnectionKind::Bigquery, fields)
}

pub fn table_spec() -> TableSpec {
    TableSpec::new(
        vec![
            ParamSpec::new(
                "project",
                ParamType::String,
                "the table's project; the connection's project_id when absent",
            ),
            ParamSpec::new(
                "dataset",
                ParamType::String,
                "the table's dataset; the connection's dataset, or the name's, when absent",
            ),
            ParamSpec::new(
                "table",
                ParamType::String,
                "the table or view; the table's name (dataset.table or project.dataset.table) when absent",
            ),
        ],
        Resource::ALL,
    )
}

/// A table's full reference: project, dataset, table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    pub project: String,
    pub dataset: String,
    pub table: String,
}

impl std::fmt::Display for TableRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.project, self.dataset, self.table)
    }
}

/// Where a table is: its params, else its name as `dataset.table` or
/// `project.dataset.table`, else the connection's project and dataset.
pub fn table_ref(
    table: &Table,
    billing_project: Option<&str>,
    default_dataset: Option<&str>,
) -> Result<TableRef, Problem> {
    let p = |k: &str| table.connection_table_params.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let parts: Vec<&str> = table.name.as_str().splitn(3, '.').collect();
    let (name_project, name_dataset, name_table) = match parts.as_slice() {
        [t] => (None, None, *t),
        [d, t] => (None, Some(*d), *t),
        [pr, d, t] => (Some(*pr), Some(*d), *t),
        _ => (None, None, table.name.as_str()),
    };
    let project = p("project").or(name_project.map(str::to_owned)).or(billing_project.map(str::to_owned));
    let dataset = p("dataset").or(name_dataset.map(str::to_owned)).or(default_dataset.map(str::to_owned));
    let tbl = p("table").unwrap_or_else(|| name_table.to_owned());
    let field = |k: &str| format!("connection_table_params.{k}");
    let project = project
        .ok_or_else(|| Problem::wrong_field(field("project"), "no project: give connection_table_params.project"))?;
    let dataset = dataset.ok_or_else(|| {
        Problem::wrong_field(field("dataset"), "no dataset: give connection_table_params.dataset, name the table dataset.table, or set the connection's dataset")
    })?;
    if !project_ok(&project) {
        return Err(Problem::wrong_field(field("project"), format!("'{project}' is not a project id")));
    }
    if !dataset_ok(&dataset) {
        return Err(Problem::wrong_field(
            field("dataset"),
            format!("'{dataset}' is not a dataset id (letters, digits and underscores)"),
        ));
    }
    if !table_ok(&tbl) {
        return Err(Problem::wrong_field(field("table"), format!("'{tbl}' is not a table id")));
    }
    Ok(TableRef { project, dataset, table: tbl })
}

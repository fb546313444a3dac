//! Shallow merge of a patch over the stored table.

use gateway_domain::{ConnectionKind, OrganizationId, Problem, Table, TableName, TablePatch, TableStatus};

/// The table a patch makes: each top-level field it gives replaces the stored one (shallow,
/// as the contract says); the rest is kept. A new table needs `resource`; its status is the
/// one sent, else `initial` (the connector's: `uploading` for a table waiting for its file).
/// Timestamps are the store's to set.
pub fn merge(
    org: &OrganizationId,
    kind: ConnectionKind,
    name: &TableName,
    stored: Option<&Table>,
    patch: &TablePatch,
    initial: TableStatus,
) -> Result<Table, Problem> {
    let base = match stored {
        Some(t) => t.clone(),
        None => {
            let resource = patch.resource.ok_or_else(|| {
                Problem::wrong_field("resource", "'resource' is required to create a table")
                    .with("allowed", gateway_domain::Resource::wire_names())
            })?;
            Table {
                organization: org.clone(),
                connection: kind,
                name: name.clone(),
                resource,
                resource_params: Default::default(),
                connection_table_params: Default::default(),
                connection_table_metadata: Default::default(),
                status: initial,
                created_timestamp: 0,
                modified_timestamp: 0,
            }
        }
    };
    Ok(Table {
        resource: patch.resource.unwrap_or(base.resource),
        resource_params: patch.resource_params.clone().unwrap_or(base.resource_params),
        connection_table_params: patch.connection_table_params.clone().unwrap_or(base.connection_table_params),
        connection_table_metadata: patch.connection_table_metadata.clone().unwrap_or(base.connection_table_metadata),
        status: patch.status.unwrap_or(base.status),
        ..base
    })
}

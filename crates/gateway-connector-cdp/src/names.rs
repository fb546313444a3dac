//! What both CDPs' destination tables share: a trait (user attribute) or event name written
//! by the platform, checked before anything is sent.

use gateway_connector::{ParamSpec, ParamType, TableSpec};
use gateway_domain::{Problem, Resource, Table};

pub fn table_spec(attribute: &'static str) -> TableSpec {
    TableSpec::new(
        vec![
            ParamSpec::new(
                attribute,
                ParamType::String,
                "user_to_items_reco: the user attribute written; the table's name when absent",
            ),
            ParamSpec::new(
                "event",
                ParamType::String,
                "item_to_items_reco and analytics_report: the event name sent; the table's name when absent",
            ),
        ],
        &[Resource::UserToItemsReco, Resource::ItemToItemsReco, Resource::AnalyticsReport],
    )
}

/// The attribute or event a table writes, as (param, name); names are 1 to 255 printable
/// characters.
pub fn target(table: &Table, attribute: &'static str) -> Result<(&'static str, String), Problem> {
    let key = if table.resource == Resource::UserToItemsReco { attribute } else { "event" };
    let name =
        table.connection_table_params.get(key).and_then(|v| v.as_str()).unwrap_or(table.name.as_str()).to_owned();
    if name.trim().is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(Problem::wrong_field(
            format!("connection_table_params.{key}"),
            format!("'{key}' must be 1 to 255 printable characters"),
        ));
    }
    Ok((key, name))
}

//! What both CDPs' destination tables share: a trait (user attribute) or event name written
//! by the platform, checked before anything is sent.

use gateway_domain::{Problem, Resource, Table};

/// The resources of a CDP's tables: what the platform sends it.
pub const RESOURCES: &[Resource] = &[Resource::UserToItemsReco, Resource::ItemToItemsReco, Resource::AnalyticsReport];

/// The attribute or event a table writes, as (param, name), from the table's `attribute` (the
/// parameter `attribute_key` names) or `event`; names are 1 to 255 printable characters.
pub fn target(
    table: &Table,
    attribute_key: &'static str,
    attribute: Option<&str>,
    event: Option<&str>,
) -> Result<(&'static str, String), Problem> {
    let (key, given) =
        if table.resource == Resource::UserToItemsReco { (attribute_key, attribute) } else { ("event", event) };
    let name = given.unwrap_or(table.name.as_str()).to_owned();
    if name.trim().is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(Problem::wrong_field(
            format!("connection_table_params.{key}"),
            format!("'{key}' must be 1 to 255 printable characters"),
        ));
    }
    Ok((key, name))
}

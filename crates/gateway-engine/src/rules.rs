//! What a resource asks of its platform fields: which are required, what type each is, and
//! which make a row's key.

use gateway_domain::{JsonObject, Resource};
use serde_json::Value;

/// What a platform field's values must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// An identifier or a label (`item_id`, `user_id`, `interaction_type`): any text that
    /// is not blank.
    Id,
    /// A finite number (`rating`).
    Number,
    /// An instant (`timestamp`): epoch seconds, milliseconds, microseconds or nanoseconds, or
    /// RFC 3339 / ISO 8601 text.
    Timestamp,
    /// Anything (other mapped fields): counted, never held to a type.
    Text,
}

impl FieldKind {
    /// The kind of a platform field, by its name.
    pub fn of(field: &str) -> FieldKind {
        match field {
            "rating" => FieldKind::Number,
            "timestamp" => FieldKind::Timestamp,
            "item_id" | "user_id" | "interaction_type" => FieldKind::Id,
            _ => FieldKind::Text,
        }
    }
}

/// One platform field and the source column it is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRule {
    /// The platform field (a `columns_mapping` key).
    pub field: String,
    /// The source column (its value).
    pub column: String,
    pub kind: FieldKind,
    /// Whether a row without it breaks `missing`.
    pub required: bool,
}

/// The rules a table's rows are held to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub fields: Vec<FieldRule>,
    /// Indexes into `fields` of the key: a row repeating an earlier row's key breaks
    /// `duplicate`. Empty: no duplicate rule.
    pub key: Vec<usize>,
}

/// The most fields a table is checked on (each has two flag bits in a row's mask).
pub const MAX_FIELDS: usize = 32;

/// The fields whose values identify a row of the resource.
pub fn key_fields(resource: Resource) -> &'static [&'static str] {
    match resource {
        Resource::Item => &["item_id"],
        Resource::User | Resource::UserId => &["user_id"],
        Resource::Rating => &["user_id", "item_id"],
        Resource::Interaction => &["user_id", "item_id", "interaction_type", "timestamp"],
        _ => &[],
    }
}

impl Rules {
    /// The rules of a resource whose table maps its fields by `columns_mapping`
    /// (`{platform field: source column}`); `required` are the fields it must have (a
    /// required field left out of the mapping is read from a column of its own name).
    pub fn new(resource: Resource, columns_mapping: &JsonObject, required: &[&str]) -> Rules {
        let mut fields: Vec<FieldRule> = Vec::new();
        for (field, column) in columns_mapping {
            let Some(column) = column.as_str().filter(|c| !c.is_empty()) else { continue };
            fields.push(FieldRule {
                field: field.clone(),
                column: column.to_owned(),
                kind: FieldKind::of(field),
                required: required.contains(&field.as_str()),
            });
        }
        for r in required {
            if !fields.iter().any(|f| f.field == *r) {
                fields.push(FieldRule {
                    field: (*r).to_owned(),
                    column: (*r).to_owned(),
                    kind: FieldKind::of(r),
                    required: true,
                });
            }
        }
        fields.truncate(MAX_FIELDS);
        let key =
            key_fields(resource).iter().filter_map(|k| fields.iter().position(|f| f.field == *k)).collect::<Vec<_>>();
        // A key with a field unmapped cannot be compared.
        let key = if key.len() == key_fields(resource).len() { key } else { Vec::new() };
        Rules { fields, key }
    }

    /// The source columns read, each once, in the fields' order.
    pub fn columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for f in &self.fields {
            if !out.contains(&f.column) {
                out.push(f.column.clone());
            }
        }
        out
    }

    /// The key's name in a report (`user_id+item_id`).
    /// The rules as data, for a source that runs them itself (a warehouse's SQL).
    pub fn plan(&self, max_errors: usize, max_rows: Option<u64>, max_bytes: u64) -> gateway_domain::ValidationPlan {
        use gateway_domain::{FieldCheck, PlannedField};
        gateway_domain::ValidationPlan {
            fields: self
                .fields
                .iter()
                .map(|f| PlannedField {
                    field: f.field.clone(),
                    column: f.column.clone(),
                    check: match f.kind {
                        FieldKind::Number => FieldCheck::Number,
                        FieldKind::Timestamp => FieldCheck::Timestamp,
                        FieldKind::Id | FieldKind::Text => FieldCheck::Text,
                    },
                    required: f.required,
                })
                .collect(),
            key: self.key.iter().filter_map(|i| self.fields.get(*i)).map(|f| f.field.clone()).collect(),
            max_errors,
            max_rows,
            max_bytes,
        }
    }

    pub fn key_name(&self) -> String {
        self.key.iter().filter_map(|i| self.fields.get(*i)).map(|f| f.field.as_str()).collect::<Vec<_>>().join("+")
    }
}

/// `resource_params.columns_mapping`, or an empty mapping.
pub fn mapping_of(resource_params: &JsonObject) -> JsonObject {
    match resource_params.get("columns_mapping") {
        Some(Value::Object(m)) => m.clone(),
        _ => JsonObject::new(),
    }
}

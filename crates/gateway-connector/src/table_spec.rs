//! Table specs: the `connection_table_params` a connector's tables take, declared as data
//! beside its [`crate::CredentialSpec`]. The gateway's static checks read it (unknown keys,
//! types, enums, which resources a table may be) and serve it as JSON Schema; a connector
//! parses the checked params into its own typed struct for the rules a type cannot say.

use gateway_domain::{JsonObject, Problem, Resource, Table, json_type_name};
use serde_json::{Value, json};

/// The longest string parameter (names, ids, paths) a table takes.
pub const MAX_STRING: usize = 1024;

/// What a table parameter holds.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamType {
    /// A non-empty string.
    String,
    /// A string of exactly one character (a CSV delimiter).
    Char,
    /// One character, or the empty string for none (a CSV quote: `""` reads without quoting).
    CharOrNone,
    Boolean,
    Integer,
    /// One of these strings, compared without case; answered as written here.
    Enum(&'static [&'static str]),
    /// An object with these fields (`options`).
    Object(Vec<ParamSpec>),
}

impl ParamType {
    fn schema(&self) -> Value {
        match self {
            ParamType::String => json!({"type": "string", "minLength": 1, "maxLength": MAX_STRING}),
            ParamType::Char => json!({"type": "string", "minLength": 1, "maxLength": 1}),
            ParamType::CharOrNone => json!({"type": "string", "maxLength": 1}),
            ParamType::Boolean => json!({"type": "boolean"}),
            ParamType::Integer => json!({"type": "integer"}),
            ParamType::Enum(values) => json!({"type": "string", "enum": values}),
            ParamType::Object(fields) => object_schema(fields),
        }
    }
}

/// One key of `connection_table_params` (or of an object inside it).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    pub name: &'static str,
    pub ty: ParamType,
    pub description: &'static str,
    /// What the gateway uses when the key is absent (documentation: detected values win).
    pub default: Option<Value>,
    /// Written by the gateway, never by a caller (LOCAL's upload `url`); echoed back unchanged
    /// is accepted.
    pub read_only: bool,
}

impl ParamSpec {
    pub fn new(name: &'static str, ty: ParamType, description: &'static str) -> ParamSpec {
        ParamSpec { name, ty, description, default: None, read_only: false }
    }

    pub fn default_value(mut self, v: Value) -> ParamSpec {
        self.default = Some(v);
        self
    }

    pub fn read_only(mut self) -> ParamSpec {
        self.read_only = true;
        self
    }
}

fn object_schema(fields: &[ParamSpec]) -> Value {
    let mut props = JsonObject::new();
    for f in fields {
        let mut p = f.ty.schema();
        if let Some(o) = p.as_object_mut() {
            o.insert("description".into(), f.description.into());
            if let Some(d) = &f.default {
                o.insert("default".into(), d.clone());
            }
            if f.read_only {
                o.insert("readOnly".into(), true.into());
            }
        }
        props.insert(f.name.to_owned(), p);
    }
    json!({"type": "object", "properties": props, "additionalProperties": false})
}

/// The tables a connector takes: their parameters and the resources they may be.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    pub params: Vec<ParamSpec>,
    /// The resources a table of this kind may feed (sources) or receive (destinations).
    pub resources: Vec<Resource>,
}

impl TableSpec {
    pub fn new(params: Vec<ParamSpec>, resources: &[Resource]) -> TableSpec {
        TableSpec { params, resources: resources.to_vec() }
    }

    /// A connector whose tables take no parameters (the table's name says it all).
    pub fn none(resources: &[Resource]) -> TableSpec {
        TableSpec::new(Vec::new(), resources)
    }

    /// Checks a table against the spec: the resource is one it may be, every key of
    /// `connection_table_params` is declared and of its type. Failures name the field as a
    /// dotted path.
    pub fn check(&self, table: &Table) -> Result<(), Problem> {
        if !self.resources.contains(&table.resource) {
            let allowed: Vec<&str> = self.resources.iter().map(|r| r.as_str()).collect();
            return Err(Problem::wrong_field(
                "resource",
                format!(
                    "a {} table cannot be a '{}' table; it may be: {}",
                    table.connection,
                    table.resource,
                    allowed.join(", ")
                ),
            )
            .with("allowed", allowed));
        }
        check_object(&table.connection_table_params, &self.params, "connection_table_params")
    }

    /// `connection_table_params` as JSON Schema (draft 2020-12), with the resources a table
    /// may be under `x-resources`.
    pub fn json_schema(&self) -> Value {
        let mut s = object_schema(&self.params);
        if let Some(o) = s.as_object_mut() {
            o.insert("x-resources".into(), json!(self.resources.iter().map(|r| r.as_str()).collect::<Vec<_>>()));
        }
        s
    }
}

fn check_object(obj: &JsonObject, fields: &[ParamSpec], prefix: &str) -> Result<(), Problem> {
    let mut keys: Vec<&String> = obj.keys().collect();
    keys.sort();
    for key in keys {
        let field = format!("{prefix}.{key}");
        let Some(spec) = fields.iter().find(|f| f.name == key) else {
            let allowed: Vec<&str> = fields.iter().map(|f| f.name).collect();
            let allowed_text = if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") };
            return Err(Problem::wrong_field(
                field,
                format!("unknown key '{key}' in {prefix}; allowed: {allowed_text}"),
            )
            .with("allowed", allowed));
        };
        check_value(&obj[key.as_str()], spec, &field)?;
    }
    Ok(())
}

fn check_value(v: &Value, spec: &ParamSpec, field: &str) -> Result<(), Problem> {
    let name = spec.name;
    let wrong = |what: &str| Problem::wrong_field(field, format!("'{name}' must be {what}, got {}", json_type_name(v)));
    match (&spec.ty, v) {
        // `null` is absent: a client clearing an optional key.
        (_, Value::Null) => Ok(()),
        (ParamType::String, Value::String(s)) if s.trim().is_empty() => {
            Err(Problem::wrong_field(field, format!("'{name}' must not be empty")))
        }
        (ParamType::String, Value::String(s)) if s.chars().count() > MAX_STRING => {
            Err(Problem::wrong_field(field, format!("'{name}' is longer than {MAX_STRING} characters")))
        }
        (ParamType::String, Value::String(s)) if s.contains('\0') => {
            Err(Problem::wrong_field(field, format!("'{name}' contains a NUL character")))
        }
        (ParamType::String, Value::String(_)) => Ok(()),
        (ParamType::Char, Value::String(s)) if s.chars().count() == 1 => Ok(()),
        (ParamType::Char, _) => Err(Problem::wrong_field(field, format!("'{name}' must be a single character"))),
        (ParamType::CharOrNone, Value::String(s)) if s.chars().count() <= 1 => Ok(()),
        (ParamType::CharOrNone, _) => {
            Err(Problem::wrong_field(field, format!("'{name}' must be a single character, or \"\" for none")))
        }
        (ParamType::Boolean, Value::Bool(_)) => Ok(()),
        (ParamType::Boolean, _) => Err(wrong("true or false")),
        (ParamType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(()),
        (ParamType::Integer, _) => Err(wrong("an integer")),
        (ParamType::Enum(values), Value::String(s)) if values.iter().any(|a| a.eq_ignore_ascii_case(s)) => Ok(()),
        (ParamType::Enum(values), _) => {
            Err(Problem::wrong_field(field, format!("'{name}' must be one of: {}; got {v}", values.join(", ")))
                .with("allowed", values.to_vec()))
        }
        (ParamType::Object(fields), Value::Object(o)) => check_object(o, fields, field),
        (ParamType::Object(_), _) => Err(wrong("an object")),
        (ParamType::String, _) => Err(wrong("a string")),
    }
}

/// A `validator` failure as a problem: the first failing field (in path order) as a dotted
/// path under `prefix`, with the rule's message.
pub fn validation_problem(prefix: &str, errors: &validator::ValidationErrors) -> Problem {
    let mut found = Vec::new();
    flatten(prefix, errors, &mut found);
    found.sort_by(|a, b| a.0.cmp(&b.0));
    match found.into_iter().next() {
        Some((field, message)) => Problem::wrong_field(field, message),
        None => Problem::wrong_field(prefix, format!("'{prefix}' is not valid")),
    }
}

fn flatten(prefix: &str, errors: &validator::ValidationErrors, out: &mut Vec<(String, String)>) {
    use validator::ValidationErrorsKind as K;
    for (name, kind) in errors.errors() {
        let path = format!("{prefix}.{name}");
        match kind {
            K::Field(list) => {
                if let Some(e) = list.first() {
                    let why =
                        e.message.as_deref().map_or_else(|| format!("fails the rule '{}'", e.code), str::to_owned);
                    out.push((path, format!("'{name}' {why}")));
                }
            }
            K::Struct(inner) => flatten(&path, inner, out),
            K::List(items) => {
                for (i, inner) in items {
                    flatten(&format!("{path}.{i}"), inner, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use gateway_domain::{ConnectionKind, OrganizationId, TableName, TableStatus};

    use super::*;

    fn spec() -> TableSpec {
        TableSpec::new(
            vec![
                ParamSpec::new("dataset", ParamType::String, "the dataset"),
                ParamSpec::new(
                    "options",
                    ParamType::Object(vec![
                        ParamSpec::new("delimiter", ParamType::Char, "the delimiter"),
                        ParamSpec::new("header", ParamType::Boolean, "a header row"),
                        ParamSpec::new("compression", ParamType::Enum(&["none", "gzip"]), "compression"),
                    ]),
                    "options",
                ),
            ],
            &[Resource::Item, Resource::User],
        )
    }

    fn table(resource: Resource, params: Value) -> Table {
        Table {
            organization: OrganizationId::parse("acme").unwrap(),
            connection: ConnectionKind::Bigquery,
            name: TableName::parse("t").unwrap(),
            resource,
            resource_params: JsonObject::new(),
            connection_table_params: params.as_object().cloned().unwrap(),
            connection_table_metadata: JsonObject::new(),
            status: TableStatus::Available,
            created_timestamp: 0,
            modified_timestamp: 0,
        }
    }

    #[test]
    fn checks_name_the_dotted_field() {
        let ok = json!({"dataset": "d", "options": {"delimiter": ";", "header": false, "compression": "GZIP"}});
        assert_eq!(spec().check(&table(Resource::Item, ok)), Ok(()));
        for (params, field) in [
            (json!({"nope": 1}), "connection_table_params.nope"),
            (json!({"dataset": ""}), "connection_table_params.dataset"),
            (json!({"dataset": 3}), "connection_table_params.dataset"),
            (json!({"options": []}), "connection_table_params.options"),
            (json!({"options": {"delimiter": ";;"}}), "connection_table_params.options.delimiter"),
            (json!({"options": {"header": "yes"}}), "connection_table_params.options.header"),
            (json!({"options": {"compression": "lzma"}}), "connection_table_params.options.compression"),
            (json!({"options": {"x": 1}}), "connection_table_params.options.x"),
        ] {
            let p = spec().check(&table(Resource::Item, params.clone())).unwrap_err();
            assert_eq!(p.field(), Some(field), "{params}: {p}");
        }
        let p = spec().check(&table(Resource::Rating, json!({}))).unwrap_err();
        assert_eq!(p.field(), Some("resource"));
        assert!(p.message.contains("item, user"), "{}", p.message);
    }

    #[test]
    fn schema_lists_fields_and_resources() {
        let s = spec().json_schema();
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(s["properties"]["options"]["properties"]["delimiter"]["maxLength"], 1);
        assert_eq!(s["x-resources"], json!(["item", "user"]));
    }
}

//! Request bodies, parsed by hand from JSON so that every failure names its field and says
//! what was expected (serde's messages name neither reliably).

use serde_json::Value;

use crate::{ConnectionKind, JsonObject, Problem, Resource, TableName, TableStatus};

/// Takes `value` as a JSON object, or refuses it: WRONG_DATA_TYPE naming `field` (a dotted
/// path; `""` means the whole body) and the JSON type actually sent.
pub fn expect_object(value: Value, field: &str) -> Result<JsonObject, Problem> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(Problem::wrong_field(
            field,
            format!("{} must be a JSON object, got {}", describe(field), json_type_name(&other)),
        )),
    }
}

fn describe(field: &str) -> String {
    if field.is_empty() { "the body".to_owned() } else { format!("'{field}'") }
}

/// How a JSON value is named in error messages ("a string", "an object", ...).
pub fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Takes fields out of a body, then refuses whatever is left.
struct Fields {
    map: JsonObject,
    allowed: &'static [&'static str],
}

impl Fields {
    fn new(value: Value, allowed: &'static [&'static str]) -> Result<Self, Problem> {
        Ok(Fields { map: expect_object(value, "")?, allowed })
    }

    /// An optional object; `null` counts as absent.
    fn object(&mut self, key: &str) -> Result<Option<JsonObject>, Problem> {
        match self.map.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => expect_object(v, key).map(Some),
        }
    }

    fn string(&mut self, key: &str) -> Result<Option<String>, Problem> {
        match self.map.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => {
                Err(Problem::wrong_field(key, format!("'{key}' must be a string, got {}", json_type_name(&other))))
            }
        }
    }

    fn parsed<T>(&mut self, key: &str) -> Result<Option<T>, Problem>
    where
        T: std::str::FromStr<Err = crate::ParseEnumError>,
    {
        match self.string(key)? {
            None => Ok(None),
            Some(s) => s.parse().map(Some).map_err(Problem::from),
        }
    }

    /// A read-only field a client may echo from a response; it must match when sent.
    fn echo(&mut self, key: &str, expected: &str) -> Result<(), Problem> {
        match self.string(key)? {
            Some(s) if s != expected => {
                Err(Problem::wrong_field(key, format!("'{key}' is '{s}' in the body but '{expected}' in the path")))
            }
            _ => Ok(()),
        }
    }

    /// Read-only fields a client may echo back, ignored.
    fn ignore(&mut self, keys: &[&str]) {
        for k in keys {
            self.map.remove(*k);
        }
    }

    fn finish(self) -> Result<(), Problem> {
        let mut unknown: Vec<&String> = self.map.keys().collect();
        if unknown.is_empty() {
            return Ok(());
        }
        unknown.sort();
        let first = unknown[0].clone();
        let list = unknown.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ");
        Err(Problem::wrong_field(first, format!("unknown field {list}; allowed: {}", self.allowed.join(", ")))
            .with("allowed", self.allowed.iter().map(|s| Value::from(*s)).collect::<Vec<_>>()))
    }
}

/// The body of `PUT /connections/{connection}/`, which creates or replaces the connection.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionPut {
    /// `credentials` (required): the provider's fields, as sent. A field sent as [`MASK`]
    /// (echoed from a masked answer) stands for the stored value; see [`crate::Credentials::unmask`].
    ///
    /// [`MASK`]: crate::MASK
    pub credentials: crate::Credentials,
    /// `metadata`: settings for real-time connections. `None` when absent or `null`; the
    /// connection is replaced, so it is then stored as `{}`.
    pub metadata: Option<JsonObject>,
}

impl ConnectionPut {
    const FIELDS: &'static [&'static str] = &["credentials", "metadata"];

    /// Parses the body for the connection `kind` of the path. The read-only fields of an
    /// answer may be echoed: `connection` must then equal `kind`; `warnings`, `status` and
    /// `checked_timestamp` are ignored. Any
    /// other unknown field, a wrong type or missing `credentials` is WRONG_DATA_TYPE naming
    /// the field.
    pub fn from_json(value: Value, kind: ConnectionKind) -> Result<Self, Problem> {
        let mut f = Fields::new(value, Self::FIELDS)?;
        let credentials = f
            .object("credentials")?
            .ok_or_else(|| Problem::wrong_field("credentials", "'credentials' is required: a JSON object"))?;
        let metadata = f.object("metadata")?;
        f.echo("connection", kind.as_str())?;
        f.ignore(&["warnings", "status", "checked_timestamp"]);
        f.finish()?;
        Ok(ConnectionPut { credentials: crate::Credentials::new(credentials), metadata })
    }
}

/// `POST /connections/{connection}/test/`. Without `credentials`, the stored ones are tested.
#[derive(Debug, Clone, PartialEq)]
pub struct CredentialsTest {
    /// `credentials` to test, as sent (they may hold [`MASK`](crate::MASK) for stored
    /// values); `None` when absent or `null`.
    pub credentials: Option<crate::Credentials>,
}

impl CredentialsTest {
    const FIELDS: &'static [&'static str] = &["credentials"];

    /// Parses the body (use `{}` for an empty one). Any field but `credentials` is refused.
    pub fn from_json(value: Value) -> Result<Self, Problem> {
        let mut f = Fields::new(value, Self::FIELDS)?;
        let credentials = f.object("credentials")?.map(crate::Credentials::new);
        f.finish()?;
        Ok(CredentialsTest { credentials })
    }
}

/// `PATCH` and `POST .../test/` of a table: the fields to merge over the stored table.
///
/// The merge is shallow: a field that is present replaces the stored one whole (an object is
/// not merged key by key); `None` (absent or `null`) keeps the stored value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TablePatch {
    /// `resource`: what the table represents. Required to create a table, optional after.
    pub resource: Option<Resource>,
    /// `resource_params`: how the resource reads the table, e.g. `columns_mapping`
    /// (resource field to source column, nested columns as dotted paths).
    pub resource_params: Option<JsonObject>,
    /// `connection_table_params`: where and how the connector finds the data (`bucket`,
    /// `file_format`, `options`, ...), checked against the connector's table spec. For
    /// `LOCAL` the gateway adds `url`, where the file is to be uploaded.
    pub connection_table_params: Option<JsonObject>,
    /// `connection_table_metadata`: free-form data kept with the table (e.g. `description`).
    pub connection_table_metadata: Option<JsonObject>,
    /// `status`: sets the table's status; the gateway also sets it when it tests the table.
    pub status: Option<TableStatus>,
}

impl TablePatch {
    /// The fields a body may set, as listed in the error for an unknown field.
    pub const FIELDS: &'static [&'static str] =
        &["resource", "resource_params", "connection_table_params", "connection_table_metadata", "status"];

    /// Parses the body for the table `name` on connection `kind` (both from the path). The
    /// read-only fields of an answer may be echoed: `connection` and `name` must then equal
    /// the path's; `created_timestamp`, `modified_timestamp`, `warnings` and `sample` are
    /// ignored. Any other unknown field, a wrong type or an unknown enum value is
    /// WRONG_DATA_TYPE naming the field, with `allowed` for an unknown field or enum value.
    pub fn from_json(value: Value, kind: ConnectionKind, name: &TableName) -> Result<Self, Problem> {
        let mut f = Fields::new(value, Self::FIELDS)?;
        let patch = TablePatch {
            resource: f.parsed("resource")?,
            resource_params: f.object("resource_params")?,
            connection_table_params: f.object("connection_table_params")?,
            connection_table_metadata: f.object("connection_table_metadata")?,
            status: f.parsed("status")?,
        };
        f.echo("connection", kind.as_str())?;
        f.echo("name", name.as_str())?;
        f.ignore(&["created_timestamp", "modified_timestamp", "warnings", "sample"]);
        f.finish()?;
        Ok(patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn name() -> TableName {
        TableName::parse("t").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn spec_examples_parse() {
        let put = json!({"credentials": {"domain": "fake-domain", "client_id": "fake-client_id", "client_secret": "fake-client_secret"}});
        assert!(ConnectionPut::from_json(put, ConnectionKind::Shopify).is_ok());
        let patch = json!({
            "resource": "user",
            "connection_table_params": {"file_format": "CSV", "options": {"compression": "zip"}},
            "resource_params": {"columns_mapping": {"user_id": "test_field_user_id"}},
            "connection_table_metadata": {"description": "list of users properties in a csv file"}
        });
        let p = TablePatch::from_json(patch, ConnectionKind::S3, &name()).unwrap_or_default();
        assert_eq!(p.resource, Some(Resource::User));
    }

    #[test]
    fn failures_name_the_field() {
        let cases = [
            (json!([]), ""),
            (json!({"resource": "items"}), "resource"),
            (json!({"resource": 3}), "resource"),
            (json!({"status": "ready"}), "status"),
            (json!({"resource_params": []}), "resource_params"),
            (json!({"connection_table_params": "x"}), "connection_table_params"),
            (json!({"extra": 1, "resource": "item"}), "extra"),
            (json!({"connection": "GCS"}), "connection"),
            (json!({"name": "other"}), "name"),
        ];
        for (body, field) in cases {
            let p = TablePatch::from_json(body.clone(), ConnectionKind::S3, &name()).unwrap_err();
            assert_eq!(p.field(), Some(field), "{body}: {p}");
        }
        let p = ConnectionPut::from_json(json!({}), ConnectionKind::S3).unwrap_err();
        assert_eq!(p.field(), Some("credentials"));
        let p = ConnectionPut::from_json(json!({"credentials": {}, "x": 1}), ConnectionKind::S3).unwrap_err();
        assert_eq!(p.field(), Some("x"));
        assert!(p.message.contains("allowed: credentials, metadata"), "{}", p.message);
    }

    #[test]
    fn echoed_read_only_fields_are_accepted() {
        let body = json!({"name": "t", "connection": "S3", "created_timestamp": 1, "warnings": []});
        assert!(TablePatch::from_json(body, ConnectionKind::S3, &name()).is_ok());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            ".{0,6}".prop_map(Value::from),
            prop::sample::select(vec!["item", "S3", "t", "available", "********"]).prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 20, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                prop::collection::btree_map(
                    prop::sample::select(vec![
                        "resource",
                        "resource_params",
                        "connection_table_params",
                        "connection_table_metadata",
                        "status",
                        "name",
                        "connection",
                        "credentials",
                        "metadata",
                        "warnings",
                        "x",
                    ])
                    .prop_map(str::to_owned),
                    inner,
                    0..5,
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parsing_bodies_never_panics(v in json_value()) {
            let name = TableName::parse("t").unwrap();
            let _ = TablePatch::from_json(v.clone(), ConnectionKind::S3, &name);
            let _ = ConnectionPut::from_json(v.clone(), ConnectionKind::S3);
            let _ = CredentialsTest::from_json(v);
        }
    }
}

//! Credential specs: the fields a connector takes, checked on every PUT and test, and served
//! as JSON Schema.

use gateway_domain::{ConnectionKind, JsonObject, Problem};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    Integer,
    Boolean,
    Object,
    /// A JSON object, or a string holding one (a GCS service-account key file as pasted).
    ObjectOrString,
}

impl FieldType {
    fn accepts(self, v: &Value) -> bool {
        match self {
            FieldType::String => v.is_string(),
            FieldType::Integer => v.is_i64() || v.is_u64(),
            FieldType::Boolean => v.is_boolean(),
            FieldType::Object => v.is_object(),
            FieldType::ObjectOrString => v.is_object() || v.is_string(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            FieldType::String => "a string",
            FieldType::Integer => "an integer",
            FieldType::Boolean => "a boolean",
            FieldType::Object => "a JSON object",
            FieldType::ObjectOrString => "a JSON object or a string holding one",
        }
    }

    fn schema(self) -> Value {
        match self {
            FieldType::String => json!({"type": "string"}),
            FieldType::Integer => json!({"type": "integer"}),
            FieldType::Boolean => json!({"type": "boolean"}),
            FieldType::Object => json!({"type": "object"}),
            FieldType::ObjectOrString => json!({"type": ["object", "string"]}),
        }
    }
}

/// Where a host-bearing field may point. The outbound client enforces the same rule on every
/// connection; here it documents the field and rejects what is plainly wrong early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostRule {
    /// An `https://` URL on a public host (an S3-compatible endpoint).
    PublicHttps,
    /// A host name ending in one of these suffixes (e.g. `.myshopify.com`).
    Suffixes(&'static [&'static str]),
}

/// The documented shape of a value that ends up in a URL or a host name (an AWS region, a
/// bucket name): checked on every PUT and test, so no credential field can steer a request
/// elsewhere (`region: "x@127.0.0.1:8443/"`).
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// The rule as a JSON Schema `pattern`, for clients.
    pub pattern: &'static str,
    /// The rule itself.
    pub check: fn(&str) -> bool,
    /// The rule in words, for the message: "a region such as us-east-1".
    pub hint: &'static str,
}

impl Eq for Shape {}

impl PartialEq for Shape {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    pub name: &'static str,
    pub ty: FieldType,
    pub required: bool,
    /// Masked in answers to roles other than backend, sealed at rest, never logged.
    pub secret: bool,
    pub default: Option<Value>,
    pub description: &'static str,
    pub host: Option<HostRule>,
    pub shape: Option<Shape>,
    /// It decides where the secrets are sent (a region, a shop, an instance; any `host`
    /// field): a stored secret is restored for a masked echo only while it is unchanged.
    pub routes: bool,
}

impl FieldSpec {
    pub fn required(name: &'static str, ty: FieldType, description: &'static str) -> Self {
        FieldSpec {
            name,
            ty,
            required: true,
            secret: false,
            default: None,
            description,
            host: None,
            shape: None,
            routes: false,
        }
    }

    pub fn optional(name: &'static str, ty: FieldType, description: &'static str) -> Self {
        FieldSpec { required: false, ..FieldSpec::required(name, ty, description) }
    }

    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    pub fn default_value(mut self, v: Value) -> Self {
        self.default = Some(v);
        self
    }

    pub fn host(mut self, rule: HostRule) -> Self {
        self.host = Some(rule);
        self.routes = true;
        self
    }

    /// Marks the field as deciding where the secrets are sent (see [`FieldSpec::routes`]).
    pub fn routes(mut self) -> Self {
        self.routes = true;
        self
    }

    pub fn shape(mut self, shape: Shape) -> Self {
        self.shape = Some(shape);
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CredentialSpec {
    pub kind: ConnectionKind,
    pub fields: Vec<FieldSpec>,
    /// Whether fields the spec does not name are kept (a provider key file with extra keys).
    pub additional_fields: bool,
}

impl CredentialSpec {
    pub fn new(kind: ConnectionKind, fields: Vec<FieldSpec>) -> Self {
        CredentialSpec { kind, fields, additional_fields: false }
    }

    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn is_secret(&self, name: &str) -> bool {
        self.field(name).is_some_and(|f| f.secret)
    }

    /// Checks credentials against the spec and fills defaults. Failures name the field as
    /// `credentials.<name>`.
    pub fn validate(&self, credentials: &JsonObject) -> Result<JsonObject, Problem> {
        let mut out = credentials.clone();
        if !self.additional_fields {
            let mut unknown: Vec<&String> = credentials.keys().filter(|k| self.field(k).is_none()).collect();
            unknown.sort();
            if let Some(first) = unknown.first() {
                let allowed: Vec<&str> = self.fields.iter().map(|f| f.name).collect();
                return Err(Problem::wrong_field(
                    format!("credentials.{first}"),
                    format!(
                        "unknown credential field {} for {}; allowed: {}",
                        unknown.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", "),
                        self.kind,
                        allowed.join(", ")
                    ),
                ));
            }
        }
        for f in &self.fields {
            let field = format!("credentials.{}", f.name);
            match credentials.get(f.name) {
                None | Some(Value::Null) => {
                    if let Some(d) = &f.default {
                        out.insert(f.name.to_owned(), d.clone());
                    } else if f.required {
                        return Err(Problem::wrong_field(
                            field,
                            format!("'{}' is required for {}: {}", f.name, self.kind, f.description),
                        ));
                    } else {
                        out.remove(f.name);
                    }
                }
                Some(v) if !f.ty.accepts(v) => {
                    return Err(Problem::wrong_field(field, format!("'{}' must be {}", f.name, f.ty.describe())));
                }
                Some(Value::String(s)) if f.required && s.trim().is_empty() => {
                    return Err(Problem::wrong_field(field, format!("'{}' must not be empty", f.name)));
                }
                Some(Value::String(s)) => {
                    // A secret's value never reaches a message (nor the access log that records
                    // messages): only a public field's offending value is quoted back.
                    if let Some(rule) = f.host {
                        crate::outbound::check_host_value(s, rule).map_err(|why| {
                            let why = if f.secret { "is not an allowed host".to_owned() } else { why };
                            Problem::wrong_field(field.clone(), format!("'{}' {why}", f.name))
                        })?;
                    }
                    if let Some(shape) = f.shape
                        && !(shape.check)(s.trim())
                    {
                        let got = if f.secret {
                            String::new()
                        } else {
                            format!("; got '{}'", s.chars().take(80).collect::<String>())
                        };
                        return Err(Problem::wrong_field(field, format!("'{}' must be {}{got}", f.name, shape.hint))
                            .with("pattern", shape.pattern));
                    }
                }
                Some(_) => {}
            }
        }
        Ok(out)
    }

    /// The spec as JSON Schema (draft 2020-12), with `secret` fields marked the way Airbyte
    /// marks them (`airbyte_secret`) and as `writeOnly`.
    pub fn json_schema(&self) -> Value {
        let mut props = JsonObject::new();
        for f in &self.fields {
            let mut p = f.ty.schema();
            if let Some(o) = p.as_object_mut() {
                o.insert("description".into(), f.description.into());
                if f.secret {
                    o.insert("writeOnly".into(), true.into());
                    o.insert("airbyte_secret".into(), true.into());
                }
                if let Some(d) = &f.default {
                    o.insert("default".into(), d.clone());
                }
                if let Some(HostRule::PublicHttps) = f.host {
                    o.insert("format".into(), "uri".into());
                    o.insert("pattern".into(), "^https://".into());
                }
                if let Some(shape) = f.shape {
                    o.insert("pattern".into(), shape.pattern.into());
                }
            }
            props.insert(f.name.to_owned(), p);
        }
        let required: Vec<&str> =
            self.fields.iter().filter(|f| f.required && f.default.is_none()).map(|f| f.name).collect();
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": format!("{} credentials", self.kind),
            "type": "object",
            "properties": props,
            "required": required,
            "additionalProperties": self.additional_fields,
        })
    }
}

/// For a kind with no registered connector, whose spec is unknown: whether a field's name
/// says it holds a secret. Errs on the side of masking.
pub fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["secret", "password", "passwd", "token", "private_key", "api_key", "apikey", "access_key"]
        .iter()
        .any(|w| n.contains(w))
        || n == "key"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CredentialSpec {
        CredentialSpec::new(
            ConnectionKind::S3,
            vec![
                FieldSpec::required("aws_access_key_id", FieldType::String, "access key id"),
                FieldSpec::required("aws_secret_access_key", FieldType::String, "secret").secret(),
                FieldSpec::optional("region", FieldType::String, "region").default_value("us-east-1".into()),
            ],
        )
    }

    fn obj(v: Value) -> JsonObject {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn validates_and_fills_defaults() {
        let ok = spec()
            .validate(&obj(json!({"aws_access_key_id": "my-user@test.com", "aws_secret_access_key": "PasSW0rD"})))
            .unwrap_or_default();
        assert_eq!(ok["region"], "us-east-1");
        for (body, field) in [
            (json!({"aws_secret_access_key": "x"}), "credentials.aws_access_key_id"),
            (json!({"aws_access_key_id": 1, "aws_secret_access_key": "x"}), "credentials.aws_access_key_id"),
            (json!({"aws_access_key_id": "a", "aws_secret_access_key": ""}), "credentials.aws_secret_access_key"),
            (json!({"aws_access_key_id": "a", "aws_secret_access_key": "b", "zone": 1}), "credentials.zone"),
        ] {
            let p = spec().validate(&obj(body.clone())).unwrap_err();
            assert_eq!(p.field(), Some(field), "{body}");
        }
    }

    #[test]
    fn schema_marks_secrets() {
        let s = spec().json_schema();
        assert_eq!(s["properties"]["aws_secret_access_key"]["writeOnly"], true);
        assert_eq!(s["required"], json!(["aws_access_key_id", "aws_secret_access_key"]));
        assert!(spec().is_secret("aws_secret_access_key"));
        assert!(!spec().is_secret("region"));
    }

    #[test]
    fn secret_looking_names() {
        for n in ["client_secret", "password", "api_key", "private_key", "access_token", "aws_secret_access_key"] {
            assert!(looks_secret(n), "{n}");
        }
        for n in ["domain", "client_id", "region", "bucket"] {
            assert!(!looks_secret(n), "{n}");
        }
    }
}

#[cfg(test)]
mod log_rule {
    #[test]
    fn credential_printing_targets_only_log_warnings() {
        use tracing::Level;
        assert!(!crate::may_log("reqsign_core::api", &Level::DEBUG));
        assert!(!crate::may_log("reqsign_aws_v4", &Level::INFO));
        assert!(crate::may_log("reqsign_core::api", &Level::WARN));
        assert!(crate::may_log("gateway_http", &Level::TRACE));
    }
}

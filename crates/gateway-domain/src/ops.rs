//! What keeps statuses true and changes traceable: who acts ([`Actor`]), the audit trail
//! ([`AuditEntry`]), webhook endpoints ([`Webhook`]) and the events they receive ([`Event`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ConnectionKind, EventName, JsonObject, Problem, Role, TableName};

/// Who makes a change, as the audit trail records it: a caller (its token's `sub` and role)
/// or the gateway itself (scheduled re-tests, uploads, key rotation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The token's `sub`, or the gateway's own name for the job (`scheduler`, `upload`, ...).
    pub sub: String,
    /// The caller's role; `None` for the gateway itself (recorded as `system`).
    pub role: Option<Role>,
}

impl Actor {
    /// A caller with a token.
    pub fn user(sub: impl Into<String>, role: Role) -> Actor {
        Actor { sub: sub.into(), role: Some(role) }
    }

    /// The gateway acting on its own (`name` says which job).
    pub fn system(name: &str) -> Actor {
        Actor { sub: name.to_owned(), role: None }
    }

    /// The role as the audit trail spells it: the role's name, or `system`.
    pub fn role_name(&self) -> &'static str {
        self.role.map_or("system", Role::as_str)
    }
}

/// One line of the audit trail. `fields` names what changed, never a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Increasing with time; pages are newest first.
    pub id: i64,
    /// When, in Unix seconds.
    pub at: i64,
    /// The token's `sub`, or the gateway's job (`scheduler`, `upload`, `rotate-key`).
    pub sub: String,
    /// `root`, `manager`, `backend`, or `system` for the gateway itself.
    pub role: String,
    /// What was done: `connection.put`, `connection.delete`, `connection.status`,
    /// `connection.reseal`, `table.create`, `table.update`, `table.delete`, `table.status`,
    /// `webhook.put`, `webhook.delete`, `webhook.rotate_secret`.
    pub action: String,
    /// What it was done to: `S3`, `S3/orders.csv`, `webhook/ops`.
    pub target: String,
    /// The names of the fields that changed (`credentials.aws_secret_access_key`, `status`,
    /// `connection_table_params.bucket`): names only, never values.
    pub fields: Vec<String>,
}

/// `GET /audit/`: one page of the organization's audit trail, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    /// Whether another page holds older entries.
    pub has_next: bool,
    /// The page after this one.
    pub next_page: u32,
    /// At most `amt` entries.
    pub entries: Vec<AuditEntry>,
}

/// The names of what differs between two JSON objects, prefixed (`credentials.api_key`):
/// a key added, removed or whose value changed. Values are compared, never returned.
pub fn changed_fields(prefix: &str, old: Option<&JsonObject>, new: &JsonObject) -> Vec<String> {
    let empty = JsonObject::new();
    let old = old.unwrap_or(&empty);
    let mut names: Vec<String> = new
        .iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .chain(old.keys().filter(|k| !new.contains_key(*k)))
        .map(|k| format!("{prefix}.{k}"))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A webhook's id: 1 to 64 of `A-Z a-z 0-9 _ -` (it is a path segment).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String")]
pub struct WebhookId(String);

impl WebhookId {
    /// Parses the `{id}` path segment; WRONG_DATA_TYPE with `field` = `id` otherwise.
    pub fn parse(s: &str) -> Result<WebhookId, Problem> {
        let ok = (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(Problem::wrong_field("id", "a webhook id is 1 to 64 letters, digits, '_' or '-'").with("id", s));
        }
        Ok(WebhookId(s.to_owned()))
    }

    /// The id as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for WebhookId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        WebhookId::parse(&s).map_err(|p| p.message)
    }
}

impl std::fmt::Display for WebhookId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored webhook endpoint. Its signing secret is not here: the store keeps it sealed and
/// hands it out only to deliver, and once to the caller that created or rotated it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// `id`: the caller's name for the endpoint.
    pub id: WebhookId,
    /// `url`: where events are POSTed (https; through the outbound guard).
    pub url: String,
    /// `events`: what it is told about; all status changes when empty.
    pub events: Vec<EventName>,
    /// `description`: free text.
    pub description: String,
    /// `created_timestamp`, Unix seconds.
    pub created_timestamp: i64,
    /// `modified_timestamp`, Unix seconds.
    pub modified_timestamp: i64,
}

impl Webhook {
    /// Whether the endpoint wants `event`.
    pub fn wants(&self, event: EventName) -> bool {
        event == EventName::Ping || self.events.is_empty() || self.events.contains(&event)
    }
}

/// A webhook as answered. `secret` is there once: in the answer to the PUT that created the
/// endpoint or rotated its secret. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookView {
    /// The endpoint.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The signing secret (`whsec_...`), shown once; store it now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// What the caller should know; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for WebhookView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookView")
            .field("webhook", &self.webhook)
            .field("secret", &self.secret.as_ref().map(|_| crate::MASK))
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// `GET /webhooks/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhooksList {
    /// Every endpoint of the organization, by id.
    pub webhooks: Vec<Webhook>,
}

/// The body of `PUT /webhooks/{id}/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookPut {
    /// Where to POST events.
    pub url: String,
    /// What to send; empty for every status change.
    pub events: Vec<EventName>,
    /// Free text.
    pub description: String,
    /// Replace the signing secret (the new one is answered once).
    pub rotate_secret: bool,
}

impl WebhookPut {
    /// Parses a PUT body: `url` (required, at most 2,048 characters), `events`,
    /// `description` (at most 1,000 characters), `rotate_secret`; the read-only fields of an
    /// answer (`id`, timestamps) may be echoed. Anything else is WRONG_DATA_TYPE naming it.
    pub fn from_json(body: Value, id: &WebhookId) -> Result<WebhookPut, Problem> {
        let obj = crate::expect_object(body, "body")?;
        let mut put =
            WebhookPut { url: String::new(), events: Vec::new(), description: String::new(), rotate_secret: false };
        for (k, v) in obj {
            match k.as_str() {
                "url" => match v {
                    Value::String(s) if !s.trim().is_empty() && s.len() <= 2048 => put.url = s.trim().to_owned(),
                    _ => return Err(Problem::wrong_field("url", "url must be a URL of at most 2,048 characters")),
                },
                "events" => {
                    let Value::Array(items) = v else {
                        return Err(Problem::wrong_field("events", "events must be a list of event names")
                            .with("allowed", EventName::wire_names()));
                    };
                    for (i, item) in items.into_iter().enumerate() {
                        let name = item.as_str().and_then(|s| s.parse::<EventName>().ok());
                        match name {
                            Some(n) if n != EventName::Ping => {
                                if !put.events.contains(&n) {
                                    put.events.push(n);
                                }
                            }
                            _ => {
                                return Err(Problem::wrong_field(
                                    format!("events.{i}"),
                                    "not an event a webhook can subscribe to",
                                )
                                .with(
                                    "allowed",
                                    vec![
                                        EventName::TableStatusChanged.as_str(),
                                        EventName::ConnectionStatusChanged.as_str(),
                                    ],
                                ));
                            }
                        }
                    }
                }
                "description" => match v {
                    Value::String(s) if s.chars().count() <= 1000 => put.description = s,
                    Value::Null => {}
                    _ => {
                        return Err(Problem::wrong_field(
                            "description",
                            "description must be text of at most 1,000 characters",
                        ));
                    }
                },
                "rotate_secret" => match v {
                    Value::Bool(b) => put.rotate_secret = b,
                    _ => return Err(Problem::wrong_field("rotate_secret", "rotate_secret must be true or false")),
                },
                "id" => {
                    if v.as_str() != Some(id.as_str()) {
                        return Err(Problem::wrong_field("id", "id must match the path"));
                    }
                }
                "created_timestamp" | "modified_timestamp" | "warnings" => {}
                other => {
                    return Err(Problem::wrong_field(other, format!("unknown field '{other}'"))
                        .with("allowed", vec!["url", "events", "description", "rotate_secret"]));
                }
            }
        }
        if put.url.is_empty() {
            return Err(Problem::wrong_field("url", "url is required: where to POST events"));
        }
        Ok(put)
    }
}

/// What a webhook receives (the JSON body of the POST), signed in `Gateway-Signature`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unique per event: receivers deduplicate on it (delivery is at least once).
    pub id: String,
    /// What happened.
    pub event: EventName,
    /// The connection concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionKind>,
    /// The table concerned (table events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<TableName>,
    /// The status before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_status: Option<String>,
    /// The status now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_status: Option<String>,
    /// The validation concerned (`table.validated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<String>,
    /// Rows a validation read (`table.validated`, when it succeeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// Rows breaking a rule (`table.validated`, when it succeeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_rows: Option<u64>,
    /// `table.schema_changed`: the columns `added`, `removed` and `changed` (names and types,
    /// never a value).
    #[serde(default, flatten)]
    pub schema: Option<crate::SchemaDiff>,
    /// When it happened, Unix seconds.
    pub at: i64,
}

/// A new random id: 32 hex digits.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    // The OS generator; should it fail, the time and a counter keep ids unique in a process.
    if getrandom::fill(&mut bytes).is_err() {
        static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes[..8].copy_from_slice(&(nanos as u64).to_le_bytes());
        bytes[8..].copy_from_slice(&(n ^ u64::from(std::process::id())).to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

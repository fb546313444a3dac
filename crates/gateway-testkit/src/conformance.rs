//! The behaviour every connector shares, checked over HTTP for each kind the binary
//! registers (`tests/conformance.rs` runs [`check`] over the registry):
//!
//! - its credential spec is well formed and served at `GET /connections/{kind}/spec/` as JSON
//!   Schema, with its table spec under `$defs.connection_table_params`;
//! - every field whose name says secret is marked secret, and secrets are masked in answers
//!   to every role but backend;
//! - credentials the provider refuses are a failed test with `reason: wrong_credentials`;
//! - a provider that does not answer is a failed test with `reason: timeout`;
//! - a host-bearing field naming loopback, a private or metadata address, an IP, a port or
//!   userinfo is refused by name on PUT, and so is a shaped field (a region) holding a host;
//! - no secret reaches a log line (every secret sent here is recorded for `check-trace-logs`).
//!
//! A new provider adds its [`Fixture`] (credentials that pass validation, and how to make its
//! peer refuse them) in [`fixture`]; the suite fails for a registered kind without one.

use std::any::Any;
use std::net::TcpListener;
use std::time::Duration;

use gateway_connector::{Connector, FieldType};
use gateway_domain::{ConnectionKind, MASK};
use serde_json::{Value, json};

use crate::{GcsPeer, MockProvider, Recorded, Reply, S3Peer, TestApp, TestAppBuilder, TestKey, TokenServer};

/// What the suite needs to know of one kind.
pub struct Fixture {
    /// Credentials that pass validation (no call is made with them).
    pub valid: Value,
    /// The peer names (`GATEWAY_PROVIDER_<NAME>_URL`) its credential test calls first: the
    /// suite points them at a listener that never answers.
    pub peers: &'static [&'static str],
}

impl std::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture").field("peers", &self.peers).finish_non_exhaustive()
    }
}

/// A gateway whose peer refuses the credentials given, and those credentials.
pub struct Refusal {
    pub builder: TestAppBuilder,
    pub credentials: Value,
    /// Peers kept alive for the test.
    pub guards: Vec<Box<dyn Any + Send>>,
}

impl std::fmt::Debug for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refusal").finish_non_exhaustive()
    }
}

const SA_EMAIL: &str = "conformance@gateway-tests.iam.gserviceaccount.com";

/// The fixture of a kind; `None` for a kind nobody wrote one for (the suite fails).
pub fn fixture(kind: ConnectionKind) -> Option<Fixture> {
    Some(match kind {
        ConnectionKind::S3 => Fixture {
            valid: json!({"aws_access_key_id": "AKIACONFORMANCE", "aws_secret_access_key": "conformance-secret-1",
                          "bucket": "conformance-bucket", "region": "eu-west-1"}),
            peers: &["S3"],
        },
        ConnectionKind::Gcs => {
            Fixture { valid: TestKey::generate().key_file(SA_EMAIL), peers: &["GOOGLE_OAUTH", "GCS"] }
        }
        ConnectionKind::Braze => {
            Fixture { valid: json!({"api_key": "braze-conformance-key-1", "instance": "US-01"}), peers: &["BRAZE"] }
        }
        ConnectionKind::Iterable => {
            Fixture { valid: json!({"api_key": "iterable-conformance-1"}), peers: &["ITERABLE"] }
        }
        ConnectionKind::IterableFeed => {
            Fixture { valid: json!({"api_key": "iterable-conformance-1", "region": "eu"}), peers: &["ITERABLE_FEED"] }
        }
        ConnectionKind::Klaviyo => {
            Fixture { valid: json!({"private_api_key": "pk_conformance0123456789abcdef"}), peers: &["KLAVIYO"] }
        }
        ConnectionKind::Sailthru => Fixture {
            valid: json!({"api_key": "sailthru-key-1", "api_secret": "sailthru-secret-1"}),
            peers: &["SAILTHRU"],
        },
        ConnectionKind::Sendlane => {
            Fixture { valid: json!({"api_token": "sendlane-conformance-1"}), peers: &["SENDLANE"] }
        }
        // No call is ever made: nothing to time out, nothing to refuse.
        ConnectionKind::MovableInk => Fixture {
            valid: json!({"access_key_id": "AKMI1234", "access_secret": "movable-secret-1", "endpoint_key": "abc123key"}),
            peers: &[],
        },
        ConnectionKind::Segment => Fixture {
            valid: json!({"write_key": "SegConformance1234", "public_api_token": "sgp_conformance_token_1"}),
            peers: &["SEGMENT_PUBLIC_API"],
        },
        ConnectionKind::MParticle => Fixture {
            valid: json!({"api_key": "us1-conformance", "api_secret": "mp-secret-1", "client_id": "mp-client",
                          "client_secret": "mp-client-secret-1", "workspace_id": "1234"}),
            peers: &["M_PARTICLE_SSO"],
        },
        // The contract's own PUT example, as written.
        ConnectionKind::Salesforce => Fixture {
            valid: json!({"domain": "fake-domain", "client_id": "fake-client_id", "client_secret": "fake-client_secret"}),
            peers: &["SALESFORCE"],
        },
        ConnectionKind::Shopify => Fixture {
            valid: json!({"shop": "conformance-shop", "access_token": "shpat_conformance_1"}),
            peers: &["SHOPIFY"],
        },
        ConnectionKind::Bigquery => {
            let mut key = TestKey::generate().key_file(SA_EMAIL);
            key["dataset"] = json!("conformance_ds");
            Fixture { valid: key, peers: &["GOOGLE_OAUTH", "BIGQUERY"] }
        }
        // The platform's own storage: no credentials, no provider.
        ConnectionKind::Local => Fixture { valid: json!({}), peers: &[] },
    })
}

/// A gateway whose peer refuses the credentials, for the kinds that have a peer; `None`
/// (after SKIPPED) when the peer is missing; `Some(None)` for a kind without credentials.
pub fn refusal(kind: ConnectionKind) -> Option<Option<Refusal>> {
    match kind {
        ConnectionKind::S3 => {
            let peer = S3Peer::get()?;
            Some(Some(Refusal {
                builder: TestApp::builder().allow_private().provider_url("S3", &peer.endpoint),
                credentials: json!({"aws_access_key_id": peer.key_id, "aws_secret_access_key": "not-the-secret-0",
                                    "bucket": peer.bucket}),
                guards: Vec::new(),
            }))
        }
        ConnectionKind::Bigquery => {
            let registered = TestKey::generate();
            let token = TokenServer::start(&registered, SA_EMAIL);
            Some(Some(Refusal {
                builder: TestApp::builder().allow_private().provider_url("GOOGLE_OAUTH", &token.url),
                credentials: TestKey::generate().key_file(SA_EMAIL),
                guards: vec![Box::new(token)],
            }))
        }
        ConnectionKind::Gcs => {
            let peer = GcsPeer::get()?;
            let registered = TestKey::generate();
            let token = TokenServer::start(&registered, SA_EMAIL);
            // Signed by another key than the one registered for the account.
            let credentials = TestKey::generate().key_file(SA_EMAIL);
            Some(Some(Refusal {
                builder: TestApp::builder()
                    .allow_private()
                    .provider_url("GOOGLE_OAUTH", &token.url)
                    .provider_url("GCS", &peer.endpoint),
                credentials,
                guards: vec![Box::new(token)],
            }))
        }
        ConnectionKind::Braze => Some(Some(refusing_mock(
            "BRAZE",
            Reply::json(401, json!({"message": "Invalid API key"})),
            json!({"api_key": "braze-wrong-key-1", "instance": "US-01"}),
            |r| r.header("authorization") == Some("Bearer braze-wrong-key-1"),
        ))),
        ConnectionKind::Iterable | ConnectionKind::IterableFeed => Some(Some(refusing_mock(
            kind.as_str(),
            Reply::json(401, json!({"msg": "Invalid API key", "code": "BadApiKey", "params": null})),
            json!({"api_key": "iterable-wrong-1"}),
            |r| r.header("api-key") == Some("iterable-wrong-1"),
        ))),
        ConnectionKind::Klaviyo => Some(Some(refusing_mock(
            "KLAVIYO",
            Reply::json(
                401,
                json!({"errors": [{"id": "e", "status": 401, "code": "not_authenticated",
                "title": "Authentication credentials were not provided.", "detail": "Missing or invalid private key."}]}),
            ),
            json!({"private_api_key": "pk_wrongwrongwrong000"}),
            |r| {
                r.header("authorization") == Some("Klaviyo-API-Key pk_wrongwrongwrong000")
                    && r.header("revision").is_some()
            },
        ))),
        ConnectionKind::Sailthru => Some(Some(refusing_mock(
            "SAILTHRU",
            Reply::json(401, json!({"error": 3, "errormsg": "Invalid API key"})),
            json!({"api_key": "sailthru-wrong", "api_secret": "sailthru-secret-1"}),
            |r| r.param("api_key").as_deref() == Some("sailthru-wrong") && r.param("sig").is_some(),
        ))),
        ConnectionKind::Sendlane => Some(Some(refusing_mock(
            "SENDLANE",
            Reply::text(401, "Unauthorized."),
            json!({"api_token": "sendlane-wrong-1"}),
            |r| r.header("authorization") == Some("Bearer sendlane-wrong-1"),
        ))),
        // The settings CDN's 404 proves nothing of a server source's key: refused through the
        // Public API token, which is checked first.
        ConnectionKind::Segment => Some(Some(refusing_mock(
            "SEGMENT_PUBLIC_API",
            Reply::json(401, json!({"errors": [{"type": "unauthorized", "message": "Unauthorized"}]})),
            json!({"write_key": "SegWrongKey12345", "public_api_token": "sgp_wrong_1"}),
            |r| r.path == "/" && r.header("authorization") == Some("Bearer sgp_wrong_1"),
        ))),
        ConnectionKind::MParticle => Some(Some(refusing_mock(
            "M_PARTICLE_SSO",
            Reply::json(401, json!({"error": "access_denied", "error_description": "Unauthorized"})),
            json!({"api_key": "us1-conformance", "api_secret": "mp-secret-1", "client_id": "mp-wrong",
                   "client_secret": "mp-wrong-secret", "workspace_id": "1234"}),
            |r| {
                r.method == "POST"
                    && r.path == "/oauth/token"
                    && String::from_utf8_lossy(&r.body).contains("\"client_id\":\"mp-wrong\"")
            },
        ))),
        ConnectionKind::Salesforce => Some(Some(refusing_mock(
            "SALESFORCE",
            Reply::json(400, json!({"error": "invalid_client", "error_description": "invalid client credentials"})),
            json!({"domain": "acme", "client_id": "sf-wrong", "client_secret": "sf-wrong-secret"}),
            |r| {
                r.method == "POST"
                    && r.path == "/services/oauth2/token"
                    && String::from_utf8_lossy(&r.body).contains("client_id=sf-wrong")
            },
        ))),
        ConnectionKind::Shopify => Some(Some(refusing_mock(
            "SHOPIFY",
            Reply::json(
                401,
                json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}),
            ),
            json!({"shop": "acme", "access_token": "shpat_wrong_1"}),
            |r| r.header("x-shopify-access-token") == Some("shpat_wrong_1"),
        ))),
        _ => Some(None),
    }
}

/// A gateway whose `peer` refuses the key with `reply` when the request carries it as the
/// provider documents (`sent_as`), and answers anything else 418: a connector that sends no
/// key, or sends it elsewhere, fails the suite.
fn refusing_mock(peer: &str, reply: Reply, credentials: Value, sent_as: fn(&Recorded) -> bool) -> Refusal {
    let mock = MockProvider::start(move |r| {
        if sent_as(r) { reply.clone() } else { Reply::unexpected("the key is not where the provider reads it", r) }
    });
    Refusal {
        builder: TestApp::builder().allow_private().provider_url(peer, &mock.url),
        credentials,
        guards: vec![Box::new(mock)],
    }
}

/// Names that always hold a secret (stricter than the masking fallback, which errs towards
/// masking: `private_key_id` or `token_uri` are not secrets).
fn must_be_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("secret")
        || n.contains("password")
        || n.contains("passwd")
        || n == "private_key"
        || n.ends_with("_private_key")
        || n.ends_with("token")
        || n.ends_with("api_key")
        || n.ends_with("apikey")
        || n == "key"
}

fn schema_problems(kind: ConnectionKind, connector: &dyn Connector) -> Vec<String> {
    let mut problems = Vec::new();
    let spec = connector.credential_spec();
    let schema = spec.json_schema();
    if schema["type"] != "object" || !schema["properties"].is_object() {
        problems.push(format!("{kind}: the credential schema is not an object schema"));
    }
    for f in &spec.fields {
        let p = &schema["properties"][f.name];
        if !p.is_object() || p["description"].as_str().is_none_or(str::is_empty) {
            problems.push(format!("{kind}: credentials.{} has no described schema", f.name));
        }
        if must_be_secret(f.name) && !f.secret {
            problems.push(format!("{kind}: credentials.{} looks secret but is not marked secret", f.name));
        }
        if f.secret && p["writeOnly"] != true {
            problems.push(format!("{kind}: credentials.{} is secret but not writeOnly", f.name));
        }
    }
    for r in schema["required"].as_array().into_iter().flatten() {
        if schema["properties"].get(r.as_str().unwrap_or_default()).is_none() {
            problems.push(format!("{kind}: required '{r}' is not a property"));
        }
    }
    let tables = connector.table_spec().json_schema();
    if tables["type"] != "object" || tables["additionalProperties"] != false {
        problems.push(format!("{kind}: the table spec is not a closed object schema"));
    }
    if connector.table_spec().resources.is_empty() {
        problems.push(format!("{kind}: its tables may be no resource"));
    }
    problems
}

/// A listener that accepts connections and never answers.
fn black_hole() -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://127.0.0.1:{}", listener.local_addr().expect("addr").port());
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).ok();
        let until = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < until {
            match listener.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    (url, handle)
}

/// Host values that could reach inside, each with why.
const INSIDE: &[&str] = &[
    "https://127.0.0.1",
    "https://localhost",
    "https://10.1.2.3",
    "https://169.254.169.254",
    "https://[::1]",
    "https://[::ffff:127.0.0.1]",
    "https://52.95.110.1",
    "https://storage.example.com:8443",
    "https://evil.example@storage.example.com",
    "https://user:pw@storage.example.com",
    "http://storage.example.com",
    "https://storage.example.com/path",
];

/// Runs the suite for one kind against `app` (the binary's registry, private targets refused).
/// Answers the failures, each naming the kind and the rule.
pub async fn check(app: &TestApp, kind: ConnectionKind) -> Vec<String> {
    let Some(connector) = app.gateway.registry().get(kind).cloned() else {
        return vec![format!("{kind}: not registered")];
    };
    let mut problems = schema_problems(kind, connector.as_ref());
    let Some(fixture) = fixture(kind) else {
        problems.push(format!("{kind}: no conformance fixture: add one in gateway-testkit's conformance.rs"));
        return problems;
    };
    if !kind.has_connection() {
        return problems;
    }
    let org = format!("conformance-{}", kind.as_str().to_ascii_lowercase());
    let (manager, backend) = (app.api(&org, "manager"), app.api(&org, "backend"));
    let base = format!("/connections/{kind}/");

    // Served as JSON Schema.
    let r = manager.get(&format!("{base}spec/")).await;
    if r.status != 200
        || r.body["$schema"].as_str().is_none()
        || !r.body["$defs"]["connection_table_params"].is_object()
    {
        problems.push(format!("{kind}: GET spec/ answered {} {}", r.status, r.body));
    }

    // Stored, then masked for every role but backend.
    let r = manager.put(&base, json!({"credentials": fixture.valid})).await;
    if r.status != 200 {
        problems.push(format!("{kind}: the fixture's valid credentials were refused: {}", r.body));
    } else {
        let spec = connector.credential_spec();
        let (seen, raw) = (manager.get(&base).await.body, backend.get(&base).await.body);
        for f in spec.fields.iter().filter(|f| f.secret) {
            if let Some(v) = fixture.valid.get(f.name) {
                if seen["credentials"][f.name] != MASK {
                    problems.push(format!("{kind}: secret credentials.{} is not masked for a manager", f.name));
                }
                if raw["credentials"][f.name] != *v {
                    problems.push(format!("{kind}: backend does not see credentials.{}", f.name));
                }
            }
        }
    }

    // Host-bearing fields refuse what could reach inside, by name; shaped fields refuse a host.
    for f in &connector.credential_spec().fields {
        let values: Vec<String> = if f.host.is_some() {
            INSIDE.iter().map(|v| (*v).to_owned()).collect()
        } else if f.shape.is_some() {
            // Each field's probes are its own: a probe sent in a secret-named field is taken
            // for a secret by the log check, so it must not also be a value that a public
            // field's message may rightly quote.
            let n = f.name;
            vec![format!("x{n}@127.0.0.1:8443/"), format!("evil-{n}.example.com/"), format!("{n}@169.254.169.254")]
        } else {
            continue;
        };
        if f.ty != FieldType::String {
            continue;
        }
        for value in &values {
            let mut creds = fixture.valid.clone();
            creds[f.name] = json!(value);
            let r = manager.put(&base, json!({"credentials": creds})).await;
            let field = format!("credentials.{}", f.name);
            if r.status != 400 || r.field() != field {
                problems.push(format!("{kind}: {field} = {value} was not refused by name: {} {}", r.status, r.body));
            }
            if f.secret && r.body.to_string().contains(value.as_str()) {
                problems.push(format!("{kind}: the refusal of secret {field} quotes its value"));
            }
        }
    }
    problems
}

/// Wrong credentials are a failed test with `reason: wrong_credentials`.
pub async fn check_refusal(kind: ConnectionKind) -> Vec<String> {
    let Some(refusal) = refusal(kind) else { return Vec::new() };
    let Some(refusal) = refusal else { return Vec::new() };
    let Some(app) = refusal.builder.spawn().await else { return Vec::new() };
    let r = app
        .api("conformance", "manager")
        .post(&format!("/connections/{kind}/test/"), json!({"credentials": refusal.credentials}))
        .await;
    drop(refusal.guards);
    if r.status == 400 && r.body["error_data"]["reason"] == "wrong_credentials" {
        Vec::new()
    } else {
        vec![format!("{kind}: refused credentials answered {} {}", r.status, r.body)]
    }
}

/// A provider that never answers is a failed test with `reason: timeout`.
pub async fn check_timeout(kind: ConnectionKind) -> Vec<String> {
    let Some(fixture) = fixture(kind) else { return Vec::new() };
    if fixture.peers.is_empty() {
        return Vec::new();
    }
    let (url, _hole) = black_hole();
    let mut builder = TestApp::builder().allow_private().connector_timeout(Duration::from_secs(1));
    for peer in fixture.peers {
        builder = builder.provider_url(peer, &url);
    }
    let Some(app) = builder.spawn().await else { return Vec::new() };
    let r = app
        .api("conformance", "manager")
        .post(&format!("/connections/{kind}/test/"), json!({"credentials": fixture.valid}))
        .await;
    if r.status == 400 && r.body["error_data"]["reason"] == "timeout" {
        Vec::new()
    } else {
        vec![format!("{kind}: a provider that never answers gave {} {}", r.status, r.body)]
    }
}

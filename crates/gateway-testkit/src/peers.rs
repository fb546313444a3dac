//! The object-store peers `make test` starts (scripts/peers.sh writes their coordinates to
//! target/peers/env), and a local OAuth2 token endpoint for service-account keys.

use std::collections::HashMap;
use std::net::TcpListener;

use actix_web::{App, HttpResponse, HttpServer, web};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::skip;

/// Variables from target/peers/env, overridden by the process environment.
fn peer_vars() -> HashMap<String, String> {
    let mut vars = HashMap::new();
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/peers/env");
    if let Ok(text) = std::fs::read_to_string(file) {
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=') {
                vars.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
    }
    for (k, v) in std::env::vars() {
        if k.starts_with("TEST_S3_") || k.starts_with("TEST_GCS_") || k.starts_with("TEST_BQ_") {
            vars.insert(k, v);
        }
    }
    vars
}

/// The S3 peer (moto, enforcing IAM) and its keys.
#[derive(Debug, Clone)]
pub struct S3Peer {
    pub endpoint: String,
    pub bucket: String,
    pub key_id: String,
    pub secret: String,
    /// A user with no S3 permission.
    pub no_s3_key_id: String,
    pub no_s3_secret: String,
    /// A user allowed to read and write `exports/*` only (no s3:ListBucket): key id, secret.
    pub prefix_only: Option<(String, String)>,
    /// Temporary credentials of an assumed role: key id, secret, session token (when the
    /// set-up could make them).
    pub session: Option<(String, String, String)>,
}

impl S3Peer {
    /// `None` (after SKIPPED) when `make test` did not start it.
    pub fn get() -> Option<S3Peer> {
        let v = peer_vars();
        let get = |k: &str| v.get(k).cloned();
        let peer = (|| {
            Some(S3Peer {
                endpoint: get("TEST_S3_ENDPOINT")?,
                bucket: get("TEST_S3_BUCKET")?,
                key_id: get("TEST_S3_KEY_ID")?,
                secret: get("TEST_S3_SECRET")?,
                no_s3_key_id: get("TEST_S3_NO_S3_KEY_ID")?,
                no_s3_secret: get("TEST_S3_NO_S3_SECRET")?,
                prefix_only: (|| Some((get("TEST_S3_PREFIX_KEY_ID")?, get("TEST_S3_PREFIX_SECRET")?)))(),
                session: (|| {
                    Some((
                        get("TEST_S3_SESSION_KEY_ID")?,
                        get("TEST_S3_SESSION_SECRET")?,
                        get("TEST_S3_SESSION_TOKEN")?,
                    ))
                })(),
            })
        })();
        if peer.is_none() {
            skip("the S3 peer (moto) is not running: `make test` starts it (scripts/peers.sh)");
        }
        peer
    }
}

impl S3Peer {
    /// An operator on the peer's bucket with the admin key, for fixtures.
    pub fn operator(&self) -> opendal::Operator {
        let b = opendal::services::S3::default()
            .bucket(&self.bucket)
            .region("us-east-1")
            .endpoint(&self.endpoint)
            .access_key_id(&self.key_id)
            .secret_access_key(&self.secret)
            .disable_config_load()
            .disable_ec2_metadata();
        let client = opendal_http_transport_reqwest::ReqwestTransport::new(reqwest::Client::new());
        let context = opendal::OperationContext::new().with_http_transport(opendal::HttpTransporter::new(client));
        opendal::Operator::new(b).expect("an S3 operator").with_context(context)
    }
}

/// The GCS peer (fake-gcs-server: it checks no token).
#[derive(Debug, Clone)]
pub struct GcsPeer {
    pub endpoint: String,
    pub bucket: String,
}

impl GcsPeer {
    pub fn get() -> Option<GcsPeer> {
        let v = peer_vars();
        let peer = (|| {
            Some(GcsPeer { endpoint: v.get("TEST_GCS_ENDPOINT")?.clone(), bucket: v.get("TEST_GCS_BUCKET")?.clone() })
        })();
        if peer.is_none() {
            skip("the GCS peer (fake-gcs-server) is not running: `make test` starts it (scripts/peers.sh)");
        }
        peer
    }

    /// Writes an object in one shot (the peer has no XML multipart upload).
    pub async fn put(&self, name: &str, bytes: Vec<u8>) {
        let mut url =
            reqwest::Url::parse(&format!("{}/upload/storage/v1/b/{}/o", self.endpoint, self.bucket)).expect("url");
        url.query_pairs_mut().append_pair("uploadType", "media").append_pair("name", name);
        let r = reqwest::Client::new().post(url).body(bytes).send().await.expect("the GCS peer answers");
        assert!(r.status().is_success(), "upload {name}: {}", r.status());
    }

    /// Whether an object exists.
    pub async fn exists(&self, name: &str) -> bool {
        let mut url = reqwest::Url::parse(&format!("{}/storage/v1/b/{}/o/", self.endpoint, self.bucket)).expect("url");
        url.path_segments_mut().expect("segments").pop_if_empty().push(name);
        reqwest::get(url).await.map(|r| r.status().is_success()).unwrap_or(false)
    }

    /// Object names under a prefix.
    pub async fn list(&self, prefix: &str) -> Vec<String> {
        let mut url = reqwest::Url::parse(&format!("{}/storage/v1/b/{}/o", self.endpoint, self.bucket)).expect("url");
        url.query_pairs_mut().append_pair("prefix", prefix);
        let r: Value = reqwest::Client::new().get(url).send().await.expect("list").json().await.expect("json");
        r["items"].as_array().into_iter().flatten().filter_map(|i| i["name"].as_str().map(str::to_owned)).collect()
    }
}

/// The BigQuery peer (bqemulator: it checks no token, and refuses nothing).
#[derive(Debug, Clone)]
pub struct BqPeer {
    pub endpoint: String,
    pub project: String,
}

impl BqPeer {
    pub fn get() -> Option<BqPeer> {
        let v = peer_vars();
        let peer = (|| {
            Some(BqPeer { endpoint: v.get("TEST_BQ_ENDPOINT")?.clone(), project: v.get("TEST_BQ_PROJECT")?.clone() })
        })();
        if peer.is_none() {
            skip("the BigQuery peer (bqemulator) is not running: `make test` starts it (scripts/peers.sh)");
        }
        peer
    }

    /// A REST call to the emulator (fixtures), with any bearer token.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/bigquery/v2/projects/{}{path}", self.endpoint, self.project);
        let r = reqwest::Client::new()
            .request(method, url)
            .bearer_auth("fixture")
            .json(&body)
            .send()
            .await
            .expect("the BigQuery peer answers");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    /// A table made in a new dataset (`datasets.insert`, `tables.insert`) holding `rows`
    /// (`insertAll`, each `{"json": {...}}`).
    pub async fn table_with(&self, dataset: &str, table: &str, fields: Value, rows: Vec<Value>) {
        let reference = json!({"projectId": self.project, "datasetId": dataset});
        self.call(reqwest::Method::POST, "/datasets", json!({"datasetReference": reference})).await;
        let tables = format!("/datasets/{dataset}/tables");
        let made = json!({"tableReference": {"projectId": self.project, "datasetId": dataset, "tableId": table},
                          "schema": {"fields": fields}});
        self.call(reqwest::Method::POST, &tables, made).await;
        self.call(reqwest::Method::POST, &format!("{tables}/{table}/insertAll"), json!({"rows": rows})).await;
    }
}

/// A service-account key made for the tests: an RSA key pair, and the key file Google would
/// issue for it.
pub struct TestKey {
    pair: KeyPair,
    pub pem: String,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestKey(..)")
    }
}

impl TestKey {
    pub fn generate() -> TestKey {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("an RSA key");
        let der = pair.as_der().expect("PKCS#8");
        let b64 = STANDARD.encode(der.as_ref());
        let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"));
        TestKey { pair, pem }
    }

    /// The key file, as Google issues it.
    pub fn key_file(&self, client_email: &str) -> Value {
        json!({
            "type": "service_account",
            "project_id": "gateway-tests",
            "private_key_id": "0123456789abcdef",
            "private_key": self.pem,
            "client_email": client_email,
            "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/x",
            "universe_domain": "googleapis.com"
        })
    }

    fn public_key(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }
}

/// A local OAuth2 token endpoint that checks each JWT-bearer assertion as Google does: RS256
/// signature by the registered key, `iss` a registered e-mail, `aud` this endpoint, not
/// expired (`invalid_grant` otherwise), and scopes Google documents for the APIs the gateway
/// calls (`invalid_scope` otherwise): those of BigQuery v2's and Cloud Storage JSON v1's
/// discovery documents (<https://developers.google.com/identity/protocols/oauth2/scopes>).
#[derive(Debug)]
pub struct TokenServer {
    pub url: String,
    handle: actix_web::dev::ServerHandle,
    granted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    scopes: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// The scopes Google documents for BigQuery v2 and Cloud Storage JSON v1 today
/// (`bigquery.readonly` is no longer among them).
pub const GOOGLE_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/bigquery",
    "https://www.googleapis.com/auth/bigquery.insertdata",
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/cloud-platform.read-only",
    "https://www.googleapis.com/auth/devstorage.full_control",
    "https://www.googleapis.com/auth/devstorage.read_only",
    "https://www.googleapis.com/auth/devstorage.read_write",
];

impl TokenServer {
    /// Accepts assertions signed by `key` for `client_email`; its tokens last an hour.
    pub fn start(key: &TestKey, client_email: &str) -> TokenServer {
        TokenServer::lasting(key, client_email, 3599)
    }

    /// [`TokenServer::start`], its tokens lasting `expires_in` seconds.
    pub fn lasting(key: &TestKey, client_email: &str, expires_in: u64) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://127.0.0.1:{}/token", listener.local_addr().expect("addr").port());
        let public = key.public_key();
        let email = client_email.to_owned();
        let aud = url.clone();
        let granted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let scopes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let count = granted.clone();
        let asked = scopes.clone();
        let server = HttpServer::new(move || {
            let (public, email, aud, count, asked) =
                (public.clone(), email.clone(), aud.clone(), count.clone(), asked.clone());
            App::new().route(
                "/token",
                web::post().to(move |form: web::Form<HashMap<String, String>>| {
                    let verdict = check(&form, &public, &email, &aud);
                    if let Ok(scope) = &verdict {
                        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        asked.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(scope.clone());
                    }
                    async move {
                        match verdict {
                            Ok(_) => HttpResponse::Ok().json(
                                json!({"access_token": "ya29.test-token", "expires_in": expires_in, "token_type": "Bearer"}),
                            ),
                            Err(why) if why.starts_with("Invalid OAuth scope") => HttpResponse::BadRequest()
                                .json(json!({"error": "invalid_scope", "error_description": why})),
                            Err(why) => HttpResponse::BadRequest()
                                .json(json!({"error": "invalid_grant", "error_description": why})),
                        }
                    }
                }),
            )
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        TokenServer { url, handle, granted, scopes }
    }

    /// Tokens granted so far.
    pub fn granted(&self) -> usize {
        self.granted.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The scope of each token granted, in order.
    pub fn scopes(&self) -> Vec<String> {
        self.scopes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        // The stop command is sent on the call; the future only waits for the exit.
        drop(self.handle.stop(false));
    }
}

/// The assertion's scope when it is granted.
fn check(form: &HashMap<String, String>, public: &[u8], email: &str, aud: &str) -> Result<String, String> {
    if form.get("grant_type").map(String::as_str) != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return Err("unsupported grant_type".into());
    }
    let jwt = form.get("assertion").ok_or("no assertion")?;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, c, sig] = parts[..] else { return Err("not a JWT".into()) };
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).map_err(|_| "bad header")?).map_err(|_| "bad header")?;
    if header["alg"] != "RS256" {
        return Err("the assertion must be RS256".into());
    }
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| "bad signature encoding")?;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public)
        .verify(format!("{h}.{c}").as_bytes(), &sig)
        .map_err(|_| "Invalid JWT Signature.".to_owned())?;
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).map_err(|_| "bad claims")?).map_err(|_| "bad claims")?;
    if claims["iss"] != email {
        return Err("Invalid grant: account not found".into());
    }
    if claims["aud"] != aud {
        return Err(format!("Invalid JWT audience: {}", claims["aud"]));
    }
    let scope = claims["scope"].as_str().unwrap_or_default();
    if scope.is_empty() || !scope.split(' ').all(|s| GOOGLE_SCOPES.contains(&s)) {
        return Err("Invalid OAuth scope or ID token audience provided.".into());
    }
    let now = gateway_domain::now_seconds();
    if claims["exp"].as_i64().is_none_or(|e| e < now) || claims["iat"].as_i64().is_none_or(|i| i > now + 60) {
        return Err("Invalid JWT: Token must be a short-lived token".into());
    }
    Ok(scope.to_owned())
}

/// A headless Chromium (`TEST_BROWSER`, which `scripts/peers.sh` finds or installs), or `None`
/// after reporting the skip.
pub fn browser() -> Option<String> {
    let found = peer_vars().get("TEST_BROWSER").cloned();
    if found.is_none() {
        skip("no headless Chromium: `make test` installs Debian's chromium-headless-shell (scripts/peers.sh)");
    }
    found
}

/// A Python with pyarrow (`TEST_PYARROW`: the venv `scripts/peers.sh` makes), to read a
/// source as a reference reader does (`scripts/reference_rows.py`), or `None` after
/// reporting the skip.
pub fn pyarrow() -> Option<String> {
    let found = peer_vars().get("TEST_PYARROW").cloned();
    if found.is_none() {
        skip(
            "no Python with pyarrow: `make test` installs it into .venv with the BigQuery emulator (scripts/peers.sh)",
        );
    }
    found
}

/// The page at `url` as a headless Chromium renders it once its scripts have run (the DOM,
/// serialised).
pub fn render_page(browser: &str, url: &str) -> std::io::Result<String> {
    let out = std::process::Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=15000", "--dump-dom", url])
        .stderr(std::process::Stdio::null())
        .output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

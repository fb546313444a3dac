//! The built `gateway` binary as an operator runs it: `migrate`, `token`, and `serve` on
//! SQLite with nothing else installed, answering /healthz and a token it printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, free_port, peak_rss_kib, wait_healthy};

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gateway");

fn gateway(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GATEWAY_DATA_DIR", data_dir)
        .env("GATEWAY_LOG", "warn");
    cmd
}

#[tokio::test]
async fn serve_migrate_and_token_on_a_fresh_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let out = gateway(&data).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("applied"));
    assert!(data.join("gateway.sqlite").exists(), "the default database is a SQLite file in the data dir");

    let out = gateway(&data).args(["token", "--org", "acme", "--role", "manager"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(token.matches('.').count(), 2, "a JWT: {token}");
    let secret = data.join("jwt-secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("development secret"), "warned about the generated secret");

    let port = free_port();
    let _server = Server(
        gateway(&data)
            .env("GATEWAY_BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let health = loop {
        match client.get(format!("{base}/healthz")).send().await {
            Ok(r) => break r,
            Err(_) if started.elapsed() < Duration::from_secs(20) => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("the server did not come up: {e}"),
        }
    };
    assert_eq!(health.status(), 200);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = std::fs::metadata(data.join("encryption-key")).expect("a sealing key generated into the data dir");
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
    }
    // The token printed by `gateway token` is accepted by `gateway serve` (same secret).
    let r = client.get(format!("{base}/tables/")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = client.get(format!("{base}/tables/")).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[test]
fn a_bad_database_url_fails_start_up_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = gateway(dir.path()).env("GATEWAY_DATABASE_URL", "mysql://x").arg("migrate").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("GATEWAY_DATABASE_URL") && err.contains("unsupported scheme"), "{err}");
}

/// A setting the gateway cannot run with stops start-up, the message naming it (from the
/// environment or the TOML file), rather than being replaced by something else quietly.
#[test]
fn bad_settings_stop_start_up_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str); 7] = [
        ("GATEWAY_DB_POOL_SIZE", "0", "at least 1"),
        ("GATEWAY_DB_POOL_SIZE", "many", "not a valid value"),
        ("GATEWAY_CONNECTOR_TIMEOUT_SECS", "0", "at least 1"),
        ("GATEWAY_BIND", "8080", "host:port"),
        ("GATEWAY_PUBLIC_URL", "gateway.example.com", "http://"),
        ("GATEWAY_LOG", "gateway=loud", "log filter"),
        ("GATEWAY_ORG_CONNECTOR_CONCURRENCY", "100", "above GATEWAY_CONNECTOR_CONCURRENCY"),
    ];
    for (name, value, says) in cases {
        let out = gateway(dir.path()).env(name, value).arg("migrate").output().unwrap();
        assert!(!out.status.success(), "{name}={value} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(name) && err.contains(says), "{name}={value}: {err}");
    }
    // A misspelt key is refused by name, its line not quoted (it may hold a secret).
    let file = dir.path().join("gateway.toml");
    std::fs::write(&file, "db_pool_size = 4\njwt_secert = \"do-not-print-this-secret-value-0123456789\"\n").unwrap();
    let out = gateway(dir.path()).arg("--config").arg(&file).arg("migrate").output().unwrap();
    assert!(!out.status.success(), "a misspelt key was accepted");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("jwt_secert") && err.contains("line 2"), "{err}");
    assert!(!err.contains("do-not-print-this-secret-value"), "the secret was printed: {err}");

    // Lowering the global cap alone is fine: the per-organization default follows it.
    let out = gateway(dir.path()).env("GATEWAY_CONNECTOR_CONCURRENCY", "4").arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Secrets and keys that cannot be trusted stop start-up, saying what to do.
#[test]
fn weak_secrets_and_bad_issuer_keys_stop_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = gateway(dir.path())
        .env("GATEWAY_JWT_SECRET", "short")
        .args(["token", "--org", "a", "--role", "root"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32"), "{}", String::from_utf8_lossy(&out.stderr));
    let keys = dir.path().join("issuers.pem");
    std::fs::write(&keys, "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n").unwrap();
    let out = gateway(dir.path())
        .env("GATEWAY_JWT_SECRET", "x".repeat(40))
        .env("GATEWAY_JWT_PUBLIC_KEYS_FILE", &keys)
        .args(["token", "--org", "a", "--role", "root"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("GATEWAY_JWT_PUBLIC_KEYS_FILE") && err.contains("neither an RSA nor an EC"), "{err}");
    std::fs::write(dir.path().join("jwt-secret"), "").unwrap();
    let out = gateway(dir.path()).args(["token", "--org", "a", "--role", "root"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a whole secret"));
}

#[tokio::test]
async fn settings_file_and_graceful_stop_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!("bind = \"127.0.0.1:{port}\"\njwt_secret = \"from-the-file-0123456789-0123456789\"\nlog = \"info\"\n"),
    )
    .unwrap();
    let mut child = gateway(&dir.path().join("data"))
        .env_remove("GATEWAY_LOG") // the file's `log` applies
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_healthy(&format!("http://127.0.0.1:{port}")).await;
    assert!(!dir.path().join("data/jwt-secret").exists(), "the file's secret is used, none generated");

    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "still running after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exits cleanly on SIGTERM: {status:?}");
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("stopped"), "{err}");
    assert!(!err.contains("from-the-file"), "the secret is never logged");

    std::fs::write(&config, "bnd = \"x\"\n").unwrap();
    let out = gateway(dir.path()).arg("--config").arg(&config).arg("migrate").output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown field `bnd`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_wrong_key_stops_start_up_and_rotate_key_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_, k1) = gateway_store::EncryptionKey::generate().unwrap();
    let (_, k2) = gateway_store::EncryptionKey::generate().unwrap();
    let secret = "rotate-me-PasSW0rD-991";

    // Store a connection under K1.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server = Server(
        gateway(&data)
            .env("GATEWAY_ENCRYPTION_KEY", &k1)
            .env("GATEWAY_BIND", format!("127.0.0.1:{port}"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_healthy(&base).await;
    let token = {
        let out = gateway(&data).args(["token", "--org", "acme", "--role", "backend"]).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let client = reqwest::Client::new();
    let body = serde_json::json!({"credentials": {"aws_access_key_id": "a", "aws_secret_access_key": secret}});
    let r = client.put(format!("{base}/connections/S3/")).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    drop(server);

    // K2 alone: start-up fails and says what to do.
    let out = gateway(&data)
        .env("GATEWAY_ENCRYPTION_KEY", &k2)
        .env("GATEWAY_BIND", "127.0.0.1:0")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("GATEWAY_ENCRYPTION_OLD_KEYS"), "{err}");
    assert!(!err.contains(secret));

    // Rotate to K2 with K1 as an old key, then K2 alone serves the same credentials.
    let out = gateway(&data)
        .env("GATEWAY_ENCRYPTION_KEY", &k2)
        .env("GATEWAY_ENCRYPTION_OLD_KEYS", &k1)
        .args(["rotate-key", "--batch", "10"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("re-sealed 1 connection"));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = Server(
        gateway(&data)
            .env("GATEWAY_ENCRYPTION_KEY", &k2)
            .env("GATEWAY_BIND", format!("127.0.0.1:{port}"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_healthy(&base).await;
    let r = client.get(format!("{base}/connections/S3/")).bearer_auth(&token).send().await.unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["credentials"]["aws_secret_access_key"], secret);
}

/// A 200 MiB LOCAL upload goes from uploading to available while the server's own peak
/// memory grows by far less than the file: it is streamed, never held.
#[tokio::test]
async fn a_200_mib_local_upload_keeps_the_servers_memory_bounded() {
    const SIZE: usize = 200 << 20;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server =
        Server(gateway(&data).env("GATEWAY_BIND", format!("127.0.0.1:{port}")).stderr(Stdio::null()).spawn().unwrap());
    wait_healthy(&base).await;
    let out = gateway(&data).args(["token", "--org", "acme", "--role", "backend"]).output().unwrap();
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let client = reqwest::Client::new();
    let r = client
        .patch(format!("{base}/connections/LOCAL/tables/events.csv/"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"resource": "interaction"}))
        .send()
        .await
        .unwrap();
    let table: serde_json::Value = r.json().await.unwrap();
    assert_eq!(table["status"], "uploading");
    let url = table["connection_table_params"]["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&base), "{url}");

    let before = peak_rss_kib(server.0.id());
    let chunks = futures_util::stream::unfold(0usize, |sent| async move {
        if sent >= SIZE {
            return None;
        }
        let mut s = if sent == 0 { String::from("user_id,item_id,interaction_type\n") } else { String::new() };
        let mut i = sent;
        while s.len() < 256 * 1024 {
            s.push_str(&format!("u{},i{},view\n", i % 100_003, i % 9_973));
            i += 1;
        }
        let n = s.len();
        Some((Ok::<_, std::io::Error>(s.into_bytes()), sent + n))
    });
    let r = client.put(url).body(reqwest::Body::wrap_stream(chunks)).send().await.unwrap();
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(body["status"], "available");
    assert_eq!(body["sample"]["rows"].as_array().map(Vec::len), Some(10));
    let stored = std::fs::metadata(data.join("uploads/acme/events.csv")).unwrap().len();
    assert!(stored >= SIZE as u64, "{stored}");
    let grown_mib = peak_rss_kib(server.0.id()).saturating_sub(before) / 1024;
    println!("the server's peak memory grew by {grown_mib} MiB for a {} MiB upload", SIZE >> 20);
    assert!(grown_mib < 48, "the server's peak memory grew by {grown_mib} MiB: the upload is held in memory");
}

//! The whole suite at TRACE: with `GATEWAY_TRACE_DIR` set (as `make test` does), every test
//! process logs everything at TRACE into that folder, and every secret value a test sends
//! (credential fields whose names say secret) is written to `secrets.txt` beside the logs.
//! `check-trace-logs` then greps the logs for each of them.

use std::io::Write;
use std::sync::{Mutex, Once};

use gateway_connector::looks_secret;
use gateway_domain::MASK;
use serde_json::Value;

pub const TRACE_DIR_ENV: &str = "GATEWAY_TRACE_DIR";
pub const SECRETS_FILE: &str = "secrets.txt";

static INIT: Once = Once::new();
static SECRETS: Mutex<()> = Mutex::new(());

fn dir() -> Option<std::path::PathBuf> {
    std::env::var_os(TRACE_DIR_ENV).filter(|d| !d.is_empty()).map(std::path::PathBuf::from)
}

/// Installs the TRACE subscriber for this test process, once.
pub fn capture() {
    let Some(dir) = dir() else { return };
    INIT.call_once(|| {
        let _ = std::fs::create_dir_all(&dir);
        let exe = std::env::current_exe().ok().and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
        let path = dir.join(format!("{}-{}.log", exe.unwrap_or_else(|| "test".into()), std::process::id()));
        let Ok(file) = std::fs::File::create(&path) else { return };
        use tracing_subscriber::prelude::*;
        // The same rule as the binary's subscriber: what production would log at TRACE.
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(Mutex::new(file))
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
            .with_filter(tracing_subscriber::EnvFilter::new("trace"))
            .with_filter(tracing_subscriber::filter::filter_fn(|m| gateway_connector::may_log(m.target(), m.level())));
        let _ = tracing_subscriber::registry().with(layer).try_init();
    });
}

/// Records the token of an upload URL an answer holds (a credential: it may write a file).
pub fn remember_upload_token(body: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else { return };
    if let Some(token) = v["connection_table_params"]["url"].as_str().and_then(|u| u.rsplit("/uploads/").next())
        && token.len() >= 16
    {
        remember(&[token]);
    }
}

fn remember(secrets: &[&str]) {
    let Some(dir) = dir() else { return };
    let _guard = SECRETS.lock();
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(SECRETS_FILE)) {
        for s in secrets {
            let _ = writeln!(f, "{s}");
        }
    }
}

/// Records the secret values of a request body's `credentials`.
pub fn remember_secrets(body: &[u8]) {
    if dir().is_none() {
        return;
    }
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else { return };
    let Some(Value::Object(credentials)) = map.get("credentials") else { return };
    let secrets: Vec<&str> = credentials
        .iter()
        .filter(|(k, _)| looks_secret(k))
        .filter_map(|(_, v)| v.as_str())
        .filter(|v| v.len() >= 6 && *v != MASK)
        .collect();
    remember(&secrets);
}

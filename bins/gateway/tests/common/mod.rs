//! What the tests of the built binary share: the process, killed when dropped; a free port;
//! waiting for `/healthz`; the peak memory of a process.

#![allow(dead_code, clippy::unwrap_used)]

use std::process::Child;
use std::time::{Duration, Instant};

/// A running `gateway` process, killed and reaped when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until `base` answers `/healthz` with 200 (at most 30 s).
pub async fn wait_healthy(base: &str) {
    let started = Instant::now();
    while !reqwest::get(format!("{base}/healthz")).await.is_ok_and(|r| r.status().is_success()) {
        assert!(started.elapsed() < Duration::from_secs(30), "the gateway did not come up at {base}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A process's peak resident memory (`VmHWM`), in KiB; 0 where /proc does not say.
pub fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A bearer token minted by the binary's own `gateway token` with `secret`.
pub fn token(bin: &str, secret: &str, org: &str, role: &str) -> String {
    let out = std::process::Command::new(bin)
        .env_clear()
        .env("GATEWAY_JWT_SECRET", secret)
        .args(["token", "--org", org, "--role", role])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

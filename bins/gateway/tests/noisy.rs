//! A noisy neighbour, on the built server: one organization does everything a hostile tenant
//! can at once (webhooks to a tarpit, an S3 endpoint whose answers made the connector panic
//! and whose reads hang, decompression bombs and floods of uploads, status flips piling up
//! events) while a second organization's scheduled re-test still finds its file gone and its
//! webhook still hears of it, and the server's peak memory stays under 256 MiB.
//!
//! With `NOISY_BENCH=1` (`make bench`) it measures the quiet organization's lag (from its file
//! going to its webhook hearing of it) without, then with, the noisy one, and prints both.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, free_port, peak_rss_kib, wait_healthy};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_gateway");
const SECRET: &str = "noisy-test-secret-0123456789abcdef-0123456";

/// Reads one HTTP/1.1 request (head and a Content-Length body); `None` when the peer went.
async fn read_request(s: &mut tokio::net::TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0usize);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((head, buf[head_end..].to_vec()))
}

/// Serves HTTP with `answer(head) -> Some(response)`, or holds the connection for ever
/// (`None`: a tarpit).
async fn serve(answer: impl Fn(&str, &[u8]) -> Option<String> + Send + Sync + 'static) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else { return };
            let answer = answer.clone();
            tokio::spawn(async move {
                while let Some((head, body)) = read_request(&mut s).await {
                    match answer(&head, &body) {
                        Some(res) => {
                            if s.write_all(res.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                        None => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            return;
                        }
                    }
                }
            });
        }
    });
    port
}

/// A webhook receiver: the time each event arrived, and the event.
async fn receiver() -> (u16, Arc<Mutex<Vec<(Instant, Value)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let port = serve(move |_, body| {
        let event = serde_json::from_slice(body).unwrap_or(Value::Null);
        log.lock().unwrap().push((Instant::now(), event));
        Some("HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n".to_owned())
    })
    .await;
    (port, seen)
}

/// An S3-compatible endpoint as hostile as it gets: a write answers 403 with the text that
/// made the connector panic (`x-amz-bucket-region`), a read of an object never answers.
async fn hostile_s3() -> u16 {
    serve(|head, _| {
        if head.starts_with("PUT") {
            Some(
                "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 19\r\n\r\nx-amz-bucket-region"
                    .into(),
            )
        } else if head.starts_with("HEAD") || head.contains("/slow") {
            None
        } else if head.starts_with("DELETE") {
            Some("HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n".into())
        } else {
            let body = "<ListBucketResult></ListBucketResult>";
            Some(format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/xml\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            ))
        }
    })
    .await
}

fn gzip_bomb() -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(b"item_id,title\n").unwrap();
    let zeros = vec![b'0'; 1 << 20];
    for _ in 0..64 {
        e.write_all(&zeros).unwrap();
    }
    e.finish().unwrap()
}

struct Gateway {
    server: Server,
    base: String,
    data: std::path::PathBuf,
    client: reqwest::Client,
    tokens: [(String, String); 2],
    _dir: tempfile::TempDir,
}

impl Gateway {
    async fn start(s3: u16) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let server = Server(
            Command::new(BIN)
                .env_clear()
                .env("GATEWAY_DATA_DIR", &data)
                .env("GATEWAY_JWT_SECRET", SECRET)
                .env("GATEWAY_LOG", "error")
                .env("GATEWAY_BIND", format!("127.0.0.1:{port}"))
                .env("GATEWAY_OUTBOUND_ALLOW_PRIVATE", "true")
                .env("GATEWAY_PROVIDER_S3_URL", format!("http://127.0.0.1:{s3}"))
                .env("GATEWAY_CHECK_INTERVAL_SECS", "3")
                .env("GATEWAY_SCHEDULER_TICK_MS", "100")
                .env("GATEWAY_CONNECTOR_TIMEOUT_SECS", "3")
                .env("GATEWAY_OUTBOUND_TIMEOUT_SECS", "3")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_healthy(&base).await;
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let tokens = ["quiet", "noisy"].map(|o| (o.to_owned(), common::token(BIN, SECRET, o, "manager")));
        Gateway { server, base, data, client, tokens, _dir: dir }
    }

    fn token(&self, org: &str) -> &str {
        self.tokens.iter().find(|(o, _)| o == org).map(|(_, t)| t.as_str()).unwrap()
    }

    async fn call(&self, org: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(self.token(org));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A LOCAL table of `org` with `bytes` uploaded; answers the upload's status.
    async fn upload(&self, org: &str, name: &str, resource: &str, bytes: Vec<u8>) -> u16 {
        let path = format!("/connections/LOCAL/tables/{name}/");
        let (_, table) = self.call(org, reqwest::Method::PATCH, &path, Some(json!({"resource": resource}))).await;
        let Some(url) = table["connection_table_params"]["url"].as_str() else { return 0 };
        match self.client.put(url).body(bytes).send().await {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        }
    }
}

/// The quiet organization: a webhook to `hooks`, a LOCAL table uploaded. Answers when its
/// webhook heard of the table's first status change.
async fn quiet_setup(gw: &Gateway, hooks: u16) {
    let (s, b) = gw
        .call(
            "quiet",
            reqwest::Method::PUT,
            "/webhooks/ops/",
            Some(json!({"url": format!("http://127.0.0.1:{hooks}/h")})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let ratings = b"user_id,item_id,rating\nu1,i1,4\nu2,i2,5\n".to_vec();
    assert_eq!(gw.upload("quiet", "q.csv", "rating", ratings).await, 200);
}

/// How long after its file disappears the quiet organization's webhook hears the table is
/// `resource_not_found`: the scheduled re-test, then the delivery.
async fn quiet_lag(gw: &Gateway, seen: &Arc<Mutex<Vec<(Instant, Value)>>>, bound: Duration) -> Duration {
    std::fs::remove_file(gw.data.join("uploads/quiet/q.csv")).unwrap();
    let gone = Instant::now();
    loop {
        let heard = seen
            .lock()
            .unwrap()
            .iter()
            .find_map(|(at, e)| (e["table"] == "q.csv" && e["new_status"] == "resource_not_found").then_some(*at));
        if let Some(at) = heard {
            return at.duration_since(gone);
        }
        assert!(gone.elapsed() < bound, "the quiet organization's webhook never heard of its table");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts everything the noisy organization does, until `stop`.
async fn noisy_attack(
    gw: Arc<Gateway>,
    tarpit: u16,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    use std::sync::atomic::Ordering;
    let creds = json!({"credentials": {"aws_access_key_id": "AKIAEXAMPLEEXAMPLE", "aws_secret_access_key": "secret-secret-secret", "bucket": "bkt"}});
    assert_eq!(gw.call("noisy", reqwest::Method::PUT, "/connections/S3/", Some(creds)).await.0, 200);
    for i in 0..20 {
        let hook = json!({"url": format!("http://127.0.0.1:{tarpit}/h{i}")});
        assert_eq!(gw.call("noisy", reqwest::Method::PUT, &format!("/webhooks/h{i}/"), Some(hook)).await.0, 200);
    }
    // One more than the quota: refused, naming it.
    let (s, b) = gw
        .call(
            "noisy",
            reqwest::Method::PUT,
            "/webhooks/h20/",
            Some(json!({"url": format!("http://127.0.0.1:{tarpit}/x")})),
        )
        .await;
    assert_eq!((s, b["error_name"].as_str()), (409, Some("QUOTA_EXCEEDED")), "{b}");
    for i in 0..6 {
        // Destinations: the write probe meets the panicking 403.
        let probe = json!({"resource": "user_to_items_reco", "connection_table_params": {"bucket": "bkt", "file_format": "CSV"}});
        gw.call("noisy", reqwest::Method::PATCH, &format!("/connections/S3/tables/probe{i}/"), Some(probe)).await;
        // Sources whose reads never answer.
        let slow = json!({"resource": "item", "connection_table_params": {"bucket": "bkt", "file_format": "CSV"}});
        gw.call("noisy", reqwest::Method::PATCH, &format!("/connections/S3/tables/slow{i}.csv/"), Some(slow)).await;
    }
    // The answer that made the connector panic now gets an answer (the connection is not cut).
    let (s, b) = gw.call("noisy", reqwest::Method::GET, "/connections/S3/tables/probe0/test/", None).await;
    assert_eq!((s, b["error_data"]["status"].as_str()), (400, Some("wrong_credentials")), "{b}");
    let bomb = gateway_testkit::files::parquet_hidden_page_bomb();
    assert_eq!(gw.upload("noisy", "first-bomb.parquet", "item", bomb).await, 400, "the bomb is refused");
    let mut tasks = Vec::new();
    // Tests of the panicking tables, over and over.
    let (g, halt) = (gw.clone(), stop.clone());
    tasks.push(tokio::spawn(async move {
        while !halt.load(Ordering::Relaxed) {
            g.call("noisy", reqwest::Method::GET, "/connections/S3/tables/probe0/test/", None).await;
        }
    }));
    // Status flips: an event for each of the 20 tarpit webhooks every time.
    let (g, halt) = (gw.clone(), stop.clone());
    tasks.push(tokio::spawn(async move {
        let mut flip = false;
        while !halt.load(Ordering::Relaxed) {
            flip = !flip;
            let status = if flip { "unknown_error" } else { "available" };
            g.call(
                "noisy",
                reqwest::Method::PATCH,
                "/connections/S3/tables/slow0.csv/",
                Some(json!({"status": status})),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }));
    // Floods of bomb uploads.
    let bombs = Arc::new(vec![gateway_testkit::files::parquet_hidden_page_bomb(), gzip_bomb()]);
    for worker in 0..6 {
        let (g, halt, bombs) = (gw.clone(), stop.clone(), bombs.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while !halt.load(Ordering::Relaxed) {
                let (name, bytes) = if n % 2 == 0 {
                    (format!("bomb{worker}.parquet"), bombs[0].clone())
                } else {
                    (format!("bomb{worker}.csv.gz"), bombs[1].clone())
                };
                g.upload("noisy", &name, "item", bytes).await;
                n += 1;
            }
        }));
    }
    tasks
}

async fn run(noisy: bool) -> (Duration, Duration, u64) {
    let s3 = hostile_s3().await;
    let tarpit = serve(|_, _| None).await;
    let (hooks, seen) = receiver().await;
    let gw = Arc::new(Gateway::start(s3).await);
    let uploaded = Instant::now();
    quiet_setup(&gw, hooks).await;
    // The upload's change (uploading -> available), delivered.
    let first = loop {
        if let Some(at) =
            seen.lock().unwrap().iter().find_map(|(at, e)| (e["new_status"] == "available").then_some(*at))
        {
            break at.duration_since(uploaded);
        }
        assert!(uploaded.elapsed() < Duration::from_secs(30), "the first delivery never came");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tasks = if noisy { noisy_attack(gw.clone(), tarpit, stop.clone()).await } else { Vec::new() };
    if noisy {
        // Let the noise build up: panicking checks, hanging reads, a piled-up outbox.
        tokio::time::sleep(Duration::from_secs(6)).await;
    }
    let lag = quiet_lag(&gw, &seen, Duration::from_secs(60)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.abort();
    }
    let peak = peak_rss_kib(gw.server.0.id()) / 1024;
    // The schedule never stopped: the heartbeats are recent and nothing restarted.
    let metrics = reqwest::get(format!("{}/metrics", gw.base)).await.unwrap().text().await.unwrap();
    assert!(!metrics.contains("gateway_scheduler_restarts_total{"), "a schedule loop restarted");
    (first, lag, peak)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_noisy_neighbour_cannot_stop_or_starve_a_quiet_one() {
    if std::env::var_os("NOISY_BENCH").is_some() {
        let (q_first, quiet, q_peak) = run(false).await;
        let (n_first, noisy, n_peak) = run(true).await;
        println!(
            "noisy-neighbour: quiet org's re-test + delivery lag {:.2} s alone, {:.2} s beside a noisy org ({:.2}x); first delivery {:.2} s / {:.2} s; peak RSS {q_peak} / {n_peak} MiB",
            quiet.as_secs_f64(),
            noisy.as_secs_f64(),
            noisy.as_secs_f64() / quiet.as_secs_f64().max(0.001),
            q_first.as_secs_f64(),
            n_first.as_secs_f64(),
        );
        return;
    }
    let (_, lag, peak) = run(true).await;
    println!(
        "the quiet organization heard of its table {:.2} s after its file went; peak RSS {peak} MiB",
        lag.as_secs_f64()
    );
    assert!(peak < 256, "the server's peak memory reached {peak} MiB");
}

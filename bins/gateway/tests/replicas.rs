//! Two gateway processes on one database (SQLite file, or PostgreSQL under
//! `TEST_DATABASE_URL`) take concurrent PATCHes of different fields of the same tables and
//! PUTs of the same connection: no 5xx, no duplicate, and no field lost (each PATCH merges over
//! what the other process wrote, not over what it read before).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use common::{Server, free_port, wait_healthy};

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_gateway");
const SECRET: &str = "replica-test-secret-0123456789abcdef-01234";
/// Replicas share their sealing key (base64 of 32 bytes), as operators configure them.
const SEALING_KEY: &str = "cmVwbGljYS10ZXN0LWtleS0wMTIzNDU2Nzg5YWJjZGU=";

fn start(data: &std::path::Path, database: &str) -> (Server, String) {
    start_with(data, database, &[])
}

fn start_with(data: &std::path::Path, database: &str, env: &[(&str, String)]) -> (Server, String) {
    let port = free_port();
    let child = Command::new(BIN)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GATEWAY_DATA_DIR", data)
        .env("GATEWAY_JWT_SECRET", SECRET)
        .env("GATEWAY_ENCRYPTION_KEY", SEALING_KEY)
        .env("GATEWAY_DATABASE_URL", database)
        .env("GATEWAY_LOG", "warn")
        .env("GATEWAY_BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Server(child), format!("http://127.0.0.1:{port}"))
}

async fn two_processes_lose_nothing(database: String) {
    let dir = tempfile::tempdir().unwrap();
    // Migrations run at each start: the first process makes the schema before the second.
    let (_a, a) = start(&dir.path().join("a"), &database);
    wait_healthy(&a).await;
    let (_b, b) = start(&dir.path().join("b"), &database);
    wait_healthy(&b).await;
    let out = Command::new(BIN)
        .env_clear()
        .env("GATEWAY_JWT_SECRET", SECRET)
        .args(["token", "--org", "acme", "--role", "backend"])
        .output()
        .unwrap();
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let creds =
        json!({"credentials": {"aws_access_key_id": "AKIAREPLICA", "aws_secret_access_key": "replica-secret-0"}});
    assert_eq!(
        client.put(format!("{a}/connections/S3/")).bearer_auth(&token).json(&creds).send().await.unwrap().status(),
        200
    );

    // Process a writes each table's metadata, process b its resource_params, 5 rounds each.
    let mut tasks = Vec::new();
    for (base, field) in [(a.clone(), "connection_table_metadata"), (b.clone(), "resource_params")] {
        for t in 0..10 {
            let (client, token, base) = (client.clone(), token.clone(), base.clone());
            tasks.push(tokio::spawn(async move {
                let mut statuses = Vec::new();
                for round in 0..5 {
                    let value = if field == "resource_params" {
                        json!({"columns_mapping": {"user_id": format!("uid_{round}")}})
                    } else {
                        json!({"description": format!("round {round}")})
                    };
                    let body = json!({"resource": "user", field: value});
                    let r = client
                        .patch(format!("{base}/connections/S3/tables/t{t}.csv/"))
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    statuses.push(r.status().as_u16());
                    // And the connection, replaced by both at once.
                    let r = client.put(format!("{base}/connections/S3/")).bearer_auth(&token).json(&json!({"credentials": {"aws_access_key_id": "AKIAREPLICA", "aws_secret_access_key": "replica-secret-0"}, "metadata": {"by": field}})).send().await.unwrap();
                    statuses.push(r.status().as_u16());
                }
                statuses
            }));
        }
    }
    for t in tasks {
        let statuses = t.await.unwrap();
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    }
    let page: serde_json::Value = client
        .get(format!("{b}/tables/?connection=S3&amt=64"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tables = page["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 10, "no duplicate, none missing");
    for t in tables {
        assert_eq!(t["connection_table_metadata"]["description"], "round 4", "{t}");
        assert_eq!(t["resource_params"]["columns_mapping"]["user_id"], "uid_4", "{t}: a field was lost");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    two_processes_lose_nothing(format!("sqlite://{}", dir.path().join("shared.sqlite").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres() {
    let Ok(base) = std::env::var("TEST_DATABASE_URL") else {
        if std::env::var_os("CI").is_some() {
            panic!("TEST_DATABASE_URL is not set under CI");
        }
        println!("SKIPPED: TEST_DATABASE_URL is not set");
        return;
    };
    let name = format!("replicas_{}", std::process::id());
    let admin = |sql: &str| Command::new("psql").arg(&base).args(["-q", "-c", sql]).output().unwrap();
    assert!(admin(&format!("CREATE DATABASE {name}")).status.success());
    let url = format!("{}/{name}?sslmode=disable", base.rsplit_once('/').unwrap().0);
    two_processes_lose_nothing(url).await;
    let _ = admin(&format!("DROP DATABASE {name} WITH (FORCE)"));
}

/// Replicas share their LOCAL upload store (`GATEWAY_LOCAL_STORAGE_URL=s3://bucket/prefix`,
/// here the S3 peer through `GATEWAY_LOCAL_STORAGE_ENDPOINT`): a file uploaded through one
/// replica is previewed through the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_through_one_replica_previews_through_the_other() {
    let Some(peer) = gateway_testkit::S3Peer::get() else { return };
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("shared.sqlite").display());
    let env = [
        ("GATEWAY_LOCAL_STORAGE_URL", format!("s3://{}/replicas-{}", peer.bucket, std::process::id())),
        ("GATEWAY_LOCAL_STORAGE_ENDPOINT", peer.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", peer.key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY", peer.secret.clone()),
    ];
    let (_a, a) = start_with(&dir.path().join("a"), &database, &env);
    wait_healthy(&a).await;
    let (_b, b) = start_with(&dir.path().join("b"), &database, &env);
    wait_healthy(&b).await;
    let out = Command::new(BIN)
        .env_clear()
        .env("GATEWAY_JWT_SECRET", SECRET)
        .args(["token", "--org", "acme", "--role", "backend"])
        .output()
        .unwrap();
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let client = reqwest::Client::new();
    let table: serde_json::Value = client
        .patch(format!("{a}/connections/LOCAL/tables/ratings.csv/"))
        .bearer_auth(&token)
        .json(&json!({"resource": "rating"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = table["connection_table_params"]["url"].as_str().unwrap().to_owned();
    let ratings = "user_id,item_id,rating\nu1,i1,4.5\nu2,i2,3\n";
    let r = client.put(&url).body(ratings).send().await.unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let preview: serde_json::Value = client
        .get(format!("{b}/connections/LOCAL/tables/ratings.csv/test/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(preview["status"], "available", "{preview}");
    assert_eq!(preview["sample"]["rows"][1]["rating"], "3");

    // A set on the shared store: emptied through one replica, a named file uploaded, listed
    // through the other (the store's listings are signed as S3 canonicalizes them).
    let files = "connections/LOCAL/tables/ratings.csv/files/";
    let r = client.delete(format!("{b}/{files}?all=true")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 204, "{:?}", r.text().await);
    let r = client.put(format!("{url}?file=dt=2026-12-01/part-0.csv")).body(ratings).send().await.unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let listed: serde_json::Value =
        client.get(format!("{b}/{files}")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["files"][0]["file"], "dt=2026-12-01/part-0.csv", "{listed}");
    assert_eq!(listed["count"], 1, "{listed}");
}

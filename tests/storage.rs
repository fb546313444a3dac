//! The store on both backends: every migration up and down, and concurrent writers (several
//! gateway replicas, or many requests, on one database).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gateway_store::{Keyring, Store, StoreOptions};
use gateway_testkit::{Db, TestApp, TestDb};
use serde_json::json;

fn migrations_up_down_up(db: Db) {
    let Some(test_db) = TestDb::create(db) else { return };
    let store = Store::open(&test_db.url, &StoreOptions::default(), Keyring::ephemeral()).unwrap();
    let applied = store.migrate().unwrap();
    assert!(!applied.is_empty());
    assert_eq!(store.pending_migrations().unwrap(), 0);
    store.batch_execute("SELECT organization, kind, credentials FROM connections").unwrap();

    let reverted = store.revert_all().unwrap();
    assert_eq!(reverted.len(), applied.len(), "every migration has a working down");
    assert!(store.batch_execute("SELECT 1 FROM connections").is_err(), "the tables are gone");
    assert_eq!(store.pending_migrations().unwrap(), applied.len());

    assert_eq!(store.migrate().unwrap(), applied, "and up again");
    assert!(store.migrate().unwrap().is_empty(), "idempotent");
}

#[test]
fn sqlite_migrations_up_down_up() {
    migrations_up_down_up(Db::Sqlite);
}

#[test]
fn postgres_migrations_up_down_up() {
    migrations_up_down_up(Db::Postgres);
}

/// Two gateways on one database and many concurrent writers, some creating the same table
/// at once: every write lands, none answers 5xx.
async fn concurrent_writers(db: Db) {
    let Some(test_db) = TestDb::create(db) else { return };
    let second_replica = test_db.alias();
    let a = TestApp::builder().on(test_db).scripted().spawn().await.unwrap();
    let b = TestApp::builder().on(second_replica).scripted().spawn().await.unwrap();
    let org = "acme";
    let r = a
        .api(org, "root")
        .put(
            "/connections/S3/",
            json!({"credentials": {"aws_access_key_id": "my-user@test.com", "aws_secret_access_key": "PasSW0rD"}}),
        )
        .await;
    assert_eq!(r.status, 200);

    let mut tasks = Vec::new();
    for i in 0..120 {
        let app = if i % 2 == 0 { &a } else { &b };
        let api = app.api(org, "root");
        tasks.push(async move {
            let r = api.patch(&format!("/connections/S3/tables/t-{i}/"), json!({"resource": "item"})).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            // Everyone also creates-or-updates one shared table.
            let r = api.patch("/connections/S3/tables/shared/", json!({"resource": "item"})).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
        });
    }
    futures_util::future::join_all(tasks).await;
    let r = a.api(org, "root").get("/tables/?connection=S3&amt=64&page=2").await;
    assert_eq!(r.body["tables"].as_array().map(Vec::len), Some(57), "121 tables in all: 64 + 57");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_writers() {
    concurrent_writers(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_writers() {
    concurrent_writers(Db::Postgres).await;
}

//! The store on both backends: every migration up and down, and concurrent writers (several
//! gateway replicas, or many requests, on one database).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gateway_domain::Actor;
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

/// Writes of different tables under one connection do not wait for each other on
/// PostgreSQL (the connection is held `FOR KEY SHARE`, not locked exclusively), while a
/// delete of the connection waits for them and then refuses cleanly: it still has tables.
#[test]
fn postgres_table_writes_under_one_connection_run_at_once() {
    use std::sync::mpsc;
    use std::time::Duration;

    use gateway_domain::{ConnectionKind, Credentials, OrganizationId, Resource, Table, TableName, TableStatus};
    use gateway_store::ConnectionDeletion;

    let Some(test_db) = TestDb::create(Db::Postgres) else { return };
    let store = Store::open(&test_db.url, &StoreOptions::default(), Keyring::ephemeral()).unwrap();
    store.migrate().unwrap();
    let org = OrganizationId::parse("acme").unwrap();
    let kind = ConnectionKind::Braze;
    let creds = json!({"api_key": "k", "instance": "US-01"}).as_object().cloned().unwrap();
    store
        .put_connection(&org, kind, &Actor::system("test"), |_| Ok((Credentials::new(creds), Default::default())))
        .unwrap();
    let table = |name: &str| Table {
        organization: org.clone(),
        connection: kind,
        name: TableName::parse(name).unwrap(),
        resource: Resource::Item,
        resource_params: Default::default(),
        connection_table_params: Default::default(),
        connection_table_metadata: Default::default(),
        status: TableStatus::Available,
        created_timestamp: 0,
        modified_timestamp: 0,
    };

    // Writer A stops inside its transaction (its locks held) until told to go on.
    let (entered_tx, entered) = mpsc::channel();
    let (go_tx, go) = mpsc::channel::<()>();
    let a = {
        let (store, org, t) = (store.clone(), org.clone(), table("a"));
        std::thread::spawn(move || {
            store.upsert_table(&org, kind, &t.name.clone(), &Actor::system("test"), |_| {
                entered_tx.send(()).unwrap();
                go.recv_timeout(Duration::from_secs(30)).unwrap();
                Ok(t.clone())
            })
        })
    };
    entered.recv_timeout(Duration::from_secs(30)).unwrap();

    // Writer B, another table of the same connection, finishes while A still holds its locks
    // (with the connection locked exclusively it would wait for A, and this would time out).
    let (b_done_tx, b_done) = mpsc::channel();
    {
        let (store, org, t) = (store.clone(), org.clone(), table("b"));
        std::thread::spawn(move || {
            let r = store.upsert_table(&org, kind, &t.name.clone(), &Actor::system("test"), |_| Ok(t.clone()));
            b_done_tx.send(r.is_ok()).unwrap();
        });
    }
    assert_eq!(b_done.recv_timeout(Duration::from_secs(20)), Ok(true), "B proceeds while A is open");

    // A delete of the connection waits for A...
    let (del_tx, deleted) = mpsc::channel();
    {
        let (store, org) = (store.clone(), org.clone());
        std::thread::spawn(move || {
            del_tx.send(store.delete_connection(&org, kind, false, &Actor::system("test"))).unwrap()
        });
    }
    assert!(deleted.recv_timeout(Duration::from_millis(500)).is_err(), "the delete waits for A");
    // ...and once A commits, refuses: the connection has both tables.
    go_tx.send(()).unwrap();
    assert!(a.join().unwrap().is_ok());
    let outcome = deleted.recv_timeout(Duration::from_secs(20)).unwrap().unwrap();
    assert!(matches!(outcome, ConnectionDeletion::HasTables(2)), "{outcome:?}");
    assert_eq!(store.list_tables(&org, kind).unwrap().len(), 2);
}

/// A write that panics half-way (a bug in a `decide` closure) rolls back: the pooled
/// connection does not keep its transaction, locks or half-written rows, and the next write
/// commits for everyone to see.
fn a_panicking_write_leaves_nothing_open(db: Db) {
    use gateway_domain::{ConnectionKind, OrganizationId, Resource, Table, TableName, TableStatus};

    let Some(test_db) = TestDb::create(db) else { return };
    let one = StoreOptions { max_connections: 1, ..StoreOptions::default() };
    let store = Store::open(&test_db.url, &one, Keyring::ephemeral()).unwrap();
    store.migrate().unwrap();
    let org = OrganizationId::parse("acme").unwrap();
    let name = TableName::parse("ratings.csv").unwrap();
    let table = Table {
        organization: org.clone(),
        connection: ConnectionKind::Local,
        name: name.clone(),
        resource: Resource::Rating,
        resource_params: Default::default(),
        connection_table_params: Default::default(),
        connection_table_metadata: Default::default(),
        status: TableStatus::Available,
        created_timestamp: 0,
        modified_timestamp: 0,
    };
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.upsert_table(&org, ConnectionKind::Local, &name, &Actor::system("test"), |_| panic!("a bug in decide"))
    }));
    assert!(panicked.is_err());
    store.upsert_table(&org, ConnectionKind::Local, &name, &Actor::system("test"), |_| Ok(table.clone())).unwrap();
    let elsewhere = Store::open(&test_db.url, &StoreOptions::default(), Keyring::ephemeral()).unwrap();
    assert_eq!(
        elsewhere.list_tables(&org, ConnectionKind::Local).unwrap().len(),
        1,
        "committed, not in a dangling transaction"
    );
}

#[test]
fn sqlite_a_panicking_write_leaves_nothing_open() {
    a_panicking_write_leaves_nothing_open(Db::Sqlite);
}

#[test]
fn postgres_a_panicking_write_leaves_nothing_open() {
    a_panicking_write_leaves_nothing_open(Db::Postgres);
}

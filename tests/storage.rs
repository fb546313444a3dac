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

/// The queues' claims are fair across organizations: a tenant with many due jobs (or with
/// jobs that hang) takes its share of the slots, counting the leases other replicas hold,
/// and another organization's due job is claimed in the same claim.
fn claims_are_fair_across_organizations(db: Db) {
    let Some(test_db) = TestDb::create(db) else { return };
    let store = Store::open(&test_db.url, &StoreOptions::default(), Keyring::ephemeral()).unwrap();
    store.migrate().unwrap();
    let mut values = Vec::new();
    for i in 0..50 {
        values.push(format!("('noisy', 'S3', 't{i:02}', {i}, 0)"));
    }
    values.push("('quiet', 'S3', 'only', 999, 0)".to_owned());
    store
        .batch_execute(&format!(
            "INSERT INTO scheduled_checks (organization, connection, name, due_at, failures) VALUES {}",
            values.join(", ")
        ))
        .unwrap();
    let now = gateway_domain::now_seconds();
    let first = store.claim_checks("replica-a", now, 60, 4, 2).unwrap();
    let orgs: Vec<&str> = first.iter().map(|j| j.organization.as_str()).collect();
    assert_eq!(first.len(), 3, "two of the noisy tenant's, the quiet one's: {orgs:?}");
    assert_eq!(orgs.iter().filter(|o| **o == "quiet").count(), 1, "{orgs:?}");
    // Another replica finds the noisy tenant at its share (held by replica-a's leases).
    let second = store.claim_checks("replica-b", now, 60, 4, 2).unwrap();
    assert!(second.is_empty(), "{second:?}");
    // One of its jobs ends: one more of its jobs may be claimed, the oldest due.
    store.finish_check("replica-a", &first[0], now + 3600, 0, true).unwrap();
    let third = store.claim_checks("replica-b", now, 60, 4, 2).unwrap();
    assert_eq!(third.len(), 1, "{third:?}");
    assert_eq!(third[0].organization.as_str(), "noisy");
}

#[test]
fn sqlite_claims_are_fair_across_organizations() {
    claims_are_fair_across_organizations(Db::Sqlite);
}

#[test]
fn postgres_claims_are_fair_across_organizations() {
    claims_are_fair_across_organizations(Db::Postgres);
}

/// The outbox: one tenant's backlog does not hold another's delivery; a failing endpoint's
/// breaker opens after five failures in a row and holds its waiting deliveries; status changes
/// of a table waiting for an endpoint coalesce; webhooks and tables are held to the quotas.
fn the_outbox_is_fair_bounded_and_coalesced(db: Db) {
    use gateway_domain::{ConnectionKind, OrganizationId, Role, TableName, TableStatus, WebhookId, WebhookPut};
    let Some(test_db) = TestDb::create(db) else { return };
    let quotas = gateway_store::Quotas { webhooks: 3, tables: 4, pending_deliveries: 10_000 };
    let store = Store::open(&test_db.url, &StoreOptions::default(), Keyring::ephemeral()).unwrap().with_quotas(quotas);
    store.migrate().unwrap();
    let me = Actor::user("ops", Role::Manager);
    let (noisy, quiet) = (OrganizationId::parse("noisy").unwrap(), OrganizationId::parse("quiet").unwrap());
    let hook = |org: &OrganizationId, id: &str| {
        let put = WebhookPut::from_json(json!({"url": "https://hooks.example.com/x"}), &WebhookId::parse(id).unwrap())
            .unwrap();
        store.put_webhook(org, &WebhookId::parse(id).unwrap(), &put, &me)
    };
    for i in 0..3 {
        hook(&noisy, &format!("h{i}")).unwrap();
    }
    let refused = hook(&noisy, "h3").unwrap_err();
    let gateway_store::StoreError::Rejected(p) = refused else { panic!("{refused:?}") };
    assert_eq!(p.name.as_str(), "QUOTA_EXCEEDED");
    assert_eq!(p.data["setting"], "GATEWAY_ORG_MAX_WEBHOOKS");
    hook(&noisy, "h0").unwrap(); // replacing one is not a new one
    hook(&quiet, "only").unwrap();

    // Tables (LOCAL: no connection needed), each status flip an event per endpoint.
    let table = |org: &OrganizationId, name: &str, status: TableStatus| {
        let n = TableName::parse(name).unwrap();
        store.upsert_table(org, ConnectionKind::Local, &n, &me, |stored| {
            let mut t = stored.cloned().unwrap_or_else(|| gateway_domain::Table {
                organization: org.clone(),
                connection: ConnectionKind::Local,
                name: n.clone(),
                resource: gateway_domain::Resource::Item,
                status,
                resource_params: Default::default(),
                connection_table_params: Default::default(),
                connection_table_metadata: Default::default(),
                created_timestamp: 0,
                modified_timestamp: 0,
            });
            t.status = status;
            Ok(t)
        })
    };
    for i in 0..4 {
        table(&noisy, &format!("t{i}"), TableStatus::Uploading).unwrap();
    }
    let refused = table(&noisy, "t4", TableStatus::Uploading).unwrap_err();
    assert!(
        matches!(&refused, gateway_store::StoreError::Rejected(p) if p.data["setting"] == "GATEWAY_ORG_MAX_TABLES")
    );
    // A table flapping while its endpoints wait: one waiting delivery per endpoint, from the
    // first old status to the last new one.
    for status in
        [TableStatus::Available, TableStatus::WrongSpecification, TableStatus::Available, TableStatus::UnknownError]
    {
        table(&noisy, "t0", status).unwrap();
    }
    assert_eq!(store.pending_deliveries_of(&noisy).unwrap(), 3, "one per endpoint");
    let now = gateway_domain::now_seconds();
    let claimed = store.claim_deliveries("r", now, 30, 16, 4).unwrap();
    let payload: serde_json::Value = serde_json::from_str(&claimed[0].payload).unwrap();
    assert_eq!(
        (payload["old_status"].as_str(), payload["new_status"].as_str()),
        (Some("uploading"), Some("unknown_error"))
    );
    // Back where the endpoints heard it was: nothing left to tell once the waiting ones end.
    for d in &claimed {
        store.record_delivery("r", d, &gateway_store::Attempt::Retry { at: now + 3600, error: "x".into() }).unwrap();
    }

    // The quiet tenant's change is claimed beside the noisy one's backlog.
    for i in 1..4 {
        table(&noisy, &format!("t{i}"), TableStatus::Available).unwrap();
    }
    table(&quiet, "q", TableStatus::Uploading).unwrap();
    table(&quiet, "q", TableStatus::Available).unwrap();
    // Read the clock again: these deliveries are due from the second they were enqueued in.
    let now = gateway_domain::now_seconds();
    let claimed = store.claim_deliveries("r", now, 30, 5, 4).unwrap();
    assert!(claimed.iter().any(|d| d.organization == quiet), "{claimed:?}");
    assert_eq!(claimed.iter().filter(|d| d.organization == noisy).count(), 4, "the noisy tenant at its share");

    // The breaker: five failures in a row to an endpoint hold its other waiting deliveries.
    let h1 = WebhookId::parse("h1").unwrap();
    let mut failures = 0;
    for round in 0..8 {
        let due = store.claim_deliveries("r", now + 100_000 * (round + 1), 30, 64, 64).unwrap();
        for d in due.iter().filter(|d| d.webhook_id == h1 && d.organization == noisy) {
            store.record_delivery("r", d, &gateway_store::Attempt::Retry { at: 0, error: "down".into() }).unwrap();
            failures += 1;
        }
        for d in due.iter().filter(|d| !(d.webhook_id == h1 && d.organization == noisy)) {
            store.record_delivery("r", d, &gateway_store::Attempt::Delivered).unwrap();
        }
    }
    let state = store.webhook_health(&noisy, &h1).unwrap();
    assert!(failures >= gateway_store::webhooks::BREAKER_THRESHOLD, "{failures}");
    assert!(state.1.is_some_and(|until| until > now), "the breaker is open: {state:?}");
    assert!(
        store.claim_deliveries("r", now + 1, 30, 64, 64).unwrap().iter().all(|d| d.webhook_id != h1),
        "an open breaker holds the endpoint's deliveries"
    );
}

#[test]
fn sqlite_the_outbox_is_fair_bounded_and_coalesced() {
    the_outbox_is_fair_bounded_and_coalesced(Db::Sqlite);
}

#[test]
fn postgres_the_outbox_is_fair_bounded_and_coalesced() {
    the_outbox_is_fair_bounded_and_coalesced(Db::Postgres);
}

/// The schema history's pruning deletes replaced schemas past the retention and keeps each
/// table's newest, however old.
async fn schema_pruning_keeps_the_newest(db: Db) {
    let Some(test_db) = TestDb::create(db) else { return };
    let url = test_db.url.clone();
    let app = TestApp::builder().on(test_db).spawn().await.unwrap();
    let api = app.api("acme", "manager");
    let table = "/connections/LOCAL/tables/t.csv/";
    let made = api.patch(table, json!({"resource": "item"})).await;
    let upload = made.body["connection_table_params"]["url"].as_str().unwrap().to_owned();
    for body in ["item_id\ni1\n", "item_id,a\ni1,x\n", "item_id,a,b\ni1,x,y\n"] {
        let r = reqwest::Client::new().put(&upload).body(body).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(api.get(&format!("{table}schema/")).await.body["history"].as_array().unwrap().len(), 3);
    let store = Store::open(&url, &StoreOptions::default(), Keyring::ephemeral()).unwrap();
    assert_eq!(store.prune_schemas(0).unwrap(), 0, "nothing is older than the epoch");
    assert_eq!(store.prune_schemas(gateway_domain::now_seconds() + 10).unwrap(), 2);
    let left = api.get(&format!("{table}schema/")).await.body;
    assert_eq!(left["history"].as_array().unwrap().len(), 1, "{left}");
    assert_eq!(left["current"]["columns"].as_array().unwrap().len(), 3, "the newest is kept: {left}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_schema_pruning_keeps_the_newest() {
    schema_pruning_keeps_the_newest(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_schema_pruning_keeps_the_newest() {
    schema_pruning_keeps_the_newest(Db::Postgres).await;
}

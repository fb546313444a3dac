//! Customers' secrets at rest: never in clear in the SQLite file or the PostgreSQL table;
//! rotation keeps every connection readable; a wrong key fails clearly, never with garbage.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gateway_domain::{ConnectionKind, OrganizationId};
use gateway_store::{EncryptionKey, Keyring, Store, StoreOptions};
use gateway_testkit::{Db, TestApp, TestDb};
use serde_json::json;

const SECRETS: &[&str] = &["PasSW0rD-at-rest-7731", "-----BEGIN PRIVATE KEY-----MIIEvQ-at-rest", "shpss_at_rest_0042"];

async fn store_known_secrets(app: &TestApp) {
    let api = app.api("acme", "root");
    let r = api
        .put(
            "/connections/S3/",
            json!({"credentials": {"aws_access_key_id": "AKIAATREST", "aws_secret_access_key": SECRETS[0]},
                   "metadata": {"note": "visible-metadata-marker"}}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = api
        .put(
            "/connections/GCS/",
            json!({"credentials": {"type": "service_account", "project_id": "p", "private_key_id": "k1",
                                   "client_email": "loader@p.iam.gserviceaccount.com",
                                   "private_key": format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", SECRETS[1])}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .api("globex", "root")
        .put(
            "/connections/SHOPIFY/",
            json!({"credentials": {"domain": "d", "client_id": "c", "client_secret": SECRETS[2]}}),
        )
        .await;
    assert_eq!(r.status, 200);
    // They read back in clear for the backend role.
    let r = app.api("acme", "backend").get("/connections/S3/").await;
    assert_eq!(r.body["credentials"]["aws_secret_access_key"], SECRETS[0]);
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_file_holds_no_secret_in_clear() {
    let db = TestDb::create(Db::Sqlite).unwrap();
    let path = db.url.trim_start_matches("sqlite://").to_owned();
    let app = TestApp::builder().on(db).scripted().spawn().await.unwrap();
    store_known_secrets(&app).await;
    app.store.batch_execute("PRAGMA wal_checkpoint(FULL)").unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
        bytes.extend(wal);
    }
    assert!(contains(&bytes, "visible-metadata-marker"), "the search reads the rows");
    assert!(!contains(&bytes, "AKIAATREST"), "the whole credentials object is sealed");
    for s in SECRETS {
        assert!(!contains(&bytes, s), "{s} is in the SQLite file in clear");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_table_holds_no_secret_in_clear() {
    let Some(db) = TestDb::create(Db::Postgres) else { return };
    let schema = db.schema().unwrap().to_owned();
    let base = gateway_testkit::postgres_url().unwrap();
    let app = TestApp::builder().on(db).scripted().spawn().await.unwrap();
    store_known_secrets(&app).await;
    let out = std::process::Command::new("psql")
        .arg(&base)
        .args([
            "-At",
            "-c",
            &format!("SELECT organization, kind, credentials_key_id, credentials, metadata FROM {schema}.connections"),
        ])
        .output()
        .expect("psql, the PostgreSQL client");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dump = String::from_utf8_lossy(&out.stdout);
    assert_eq!(dump.lines().count(), 3, "{dump}");
    for s in SECRETS {
        assert!(!dump.contains(s), "{s} is in the table in clear");
    }
    assert!(dump.contains("visible-metadata-marker"), "the query reads the rows: {dump}");
    assert!(!dump.contains("AKIAATREST"), "the whole credentials object is sealed");
}

async fn rotation_keeps_every_connection_readable(db: Db) {
    let Some(test_db) = TestDb::create(db) else { return };
    let url = test_db.url.clone();
    let (key_a, text_a) = EncryptionKey::generate().unwrap();
    let app = TestApp::builder().on(test_db).scripted().keys(Keyring::new(key_a, vec![])).spawn().await.unwrap();
    store_known_secrets(&app).await;
    let acme = OrganizationId::parse("acme").unwrap();
    let before = app.store.get_connection(&acme, ConnectionKind::S3).unwrap().unwrap();

    let (key_b, _) = EncryptionKey::generate().unwrap();
    let b_id = key_b.id().to_owned();
    let old = EncryptionKey::from_base64(&text_a).unwrap();
    let both = Store::open(&url, &StoreOptions::default(), Keyring::new(key_b, vec![old])).unwrap();
    let mut seen = Vec::new();
    assert_eq!(both.rotate_keys(2, |n| seen.push(n)).unwrap(), 3);
    assert_eq!(seen, [2, 3], "in batches");
    assert_eq!(both.rotate_keys(2, |_| {}).unwrap(), 0, "resumable: nothing left");

    // Everything opens under the new key, identical.
    assert_eq!(both.list_connections(&acme).unwrap().len(), 2);
    assert_eq!(both.check_keys().map_err(|e| e.to_string()), Ok(()));
    let after = both.get_connection(&acme, ConnectionKind::S3).unwrap().unwrap();
    assert_eq!(after.credentials, before.credentials);

    // The old key alone no longer opens them, and says so instead of answering garbage.
    let old_only =
        Store::open(&url, &StoreOptions::default(), Keyring::new(EncryptionKey::from_base64(&text_a).unwrap(), vec![]))
            .unwrap();
    let err = old_only.check_keys().unwrap_err().to_string();
    assert!(err.contains(&b_id) && err.contains("GATEWAY_ENCRYPTION_OLD_KEYS"), "{err}");
    let err = old_only.get_connection(&acme, ConnectionKind::S3).unwrap_err().to_string();
    assert!(err.contains("not configured"), "{err}");
    assert!(!err.contains(SECRETS[0]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rotation_keeps_every_connection_readable() {
    rotation_keeps_every_connection_readable(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rotation_keeps_every_connection_readable() {
    rotation_keeps_every_connection_readable(Db::Postgres).await;
}

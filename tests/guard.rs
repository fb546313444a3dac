//! Every outbound byte passes the guard: no field of a stored connection or table makes a
//! credential test, a source preview or a destination probe dial loopback, whatever reached
//! the database (rows written before a rule existed, or by hand). A loopback listener counts
//! the connections it receives: zero.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gateway_domain::{
    Actor, ConnectionKind, Credentials, JsonObject, OrganizationId, Resource, Table, TableName, TableStatus,
};
use gateway_testkit::{TestApp, TestKey};
use serde_json::{Value, json};

/// Counts connections to a loopback port (accepted and dropped).
fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if stream.is_ok() {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    (port, count)
}

fn obj(v: Value) -> JsonObject {
    v.as_object().cloned().unwrap()
}

/// Stores a connection and two tables as given, past every check (as old rows would be).
fn store_raw(app: &TestApp, org: &OrganizationId, kind: ConnectionKind, creds: Value, params: Value) {
    app.store
        .put_connection(org, kind, &Actor::system("test"), |_| Ok((Credentials::new(obj(creds)), JsonObject::new())))
        .unwrap();
    for (name, resource) in [("items.csv", Resource::Item), ("recos", Resource::UserToItemsReco)] {
        let name = TableName::parse(name).unwrap();
        let params = obj(params.clone());
        app.store
            .upsert_table(org, kind, &name, &Actor::system("test"), |_| {
                Ok(Table {
                    organization: org.clone(),
                    connection: kind,
                    name: name.clone(),
                    resource,
                    resource_params: JsonObject::new(),
                    connection_table_params: params.clone(),
                    connection_table_metadata: JsonObject::new(),
                    status: TableStatus::Available,
                    created_timestamp: 0,
                    modified_timestamp: 0,
                })
            })
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_stored_field_dials_loopback() {
    let (port, dialed) = counting_listener();
    let app = TestApp::builder().spawn().await.unwrap();
    let s3 = |extra: Value| {
        let mut c = json!({"aws_access_key_id": "AKIAGUARDTEST", "aws_secret_access_key": "guard-secret-0"});
        c.as_object_mut().unwrap().extend(obj(extra));
        c
    };
    let inside = [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::ffff:127.0.0.1]:{port}"),
        format!("[::1]:{port}"),
    ];
    let mut cases: Vec<(ConnectionKind, Value, Value)> = Vec::new();
    for host in &inside {
        cases.push((ConnectionKind::S3, s3(json!({"region": format!("x@{host}/"), "bucket": "bucket-a"})), json!({})));
        cases.push((
            ConnectionKind::S3,
            s3(json!({"endpoint": format!("https://{host}"), "bucket": "bucket-a"})),
            json!({}),
        ));
        cases.push((
            ConnectionKind::S3,
            s3(json!({"endpoint": format!("http://{host}"), "bucket": "bucket-a"})),
            json!({}),
        ));
        cases.push((ConnectionKind::S3, s3(json!({"bucket": format!("b@{host}")})), json!({})));
        cases.push((ConnectionKind::S3, s3(json!({})), json!({"bucket": format!("b@{host}"), "file_format": "CSV"})));
        let mut key = TestKey::generate().key_file("guard@gateway-tests.iam.gserviceaccount.com");
        key["token_uri"] = json!(format!("http://{host}/token"));
        key["bucket"] = json!(format!("b@{host}"));
        cases.push((ConnectionKind::Gcs, key, json!({"bucket": format!("b/../../{host}")})));
    }
    for (i, (kind, creds, params)) in cases.into_iter().enumerate() {
        let org = OrganizationId::parse(&format!("guard-{i}")).unwrap();
        store_raw(&app, &org, kind, creds.clone(), params);
        let api = app.api(org.as_str(), "manager");
        let base = format!("/connections/{kind}/");
        for r in [
            api.post(&format!("{base}test/"), json!({})).await,
            api.get(&format!("{base}tables/items.csv/test/")).await,
            api.get(&format!("{base}tables/recos/test/")).await,
            api.post(&format!("{base}tables/items.csv/test/"), json!({})).await,
        ] {
            assert_ne!(r.status, 200, "{kind} {creds}: {:?}", r.body);
            assert!(r.status < 500, "{kind} {creds}: {:?}", r.body);
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(dialed.load(Ordering::SeqCst), 0, "a stored field steered a call to loopback");
}

/// A masked secret echoed back is restored only while the fields that decide where it is
/// sent are unchanged: a manager cannot point a stored token at another host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_secret_never_follows_a_new_host() {
    let app = TestApp::builder().spawn().await.unwrap();
    let api = app.api("acme", "manager");
    let creds = json!({"api_key": "braze-key-0123456789", "instance": "US-01"});
    assert_eq!(api.put("/connections/BRAZE/", json!({"credentials": creds})).await.status, 200);
    let masked = json!({"api_key": gateway_domain::MASK, "instance": "EU-01"});
    let r = api.put("/connections/BRAZE/", json!({"credentials": masked})).await;
    assert_eq!((r.status, r.field()), (400, "credentials.api_key"), "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("'instance' changed"), "{:?}", r.body);
    let same = json!({"api_key": gateway_domain::MASK, "instance": "US-01"});
    assert_eq!(api.put("/connections/BRAZE/", json!({"credentials": same})).await.status, 200, "unchanged: kept");
    let again = json!({"api_key": "braze-key-0123456789", "instance": "EU-01"});
    assert_eq!(api.put("/connections/BRAZE/", json!({"credentials": again})).await.status, 200, "sent again: moved");
}

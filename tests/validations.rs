//! Whole-table validations over HTTP, on SQLite and PostgreSQL, against the S3 peer: a file
//! with known defects counted exactly (plain, gzip'd and as Parquet), the workflow a user
//! chains (preview, save, validate, read the report, test again), the refusals, a cancel, a
//! table larger than the memory cap validated by spilling, the journal's record, a dead
//! replica's job taken over, and a BigQuery table validated by SQL on the emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gateway_testkit::files::gzip;
use gateway_testkit::{Api, Db, S3Peer, TestApp, TestDb};
use serde_json::{Value, json};

fn prefix(test: &str) -> String {
    format!("{test}-{}-{}", std::process::id(), gateway_domain::now_seconds())
}

/// 1000 ratings with 8 invalid rows: 2 missing users, 2 ratings that are no number, 2
/// repeats of row 5's key, a row of one column (item and rating missing), a row with a
/// missing user and a bad rating.
fn ratings_csv() -> String {
    let mut s = String::from("uid,sku,score,ts\n");
    for i in 1..=1000u32 {
        let ts = 1_700_000_000 + i;
        let line = match i {
            10 | 20 => format!(",i{i},4,{ts}\n"),
            30 | 31 => format!("u{i},i{i},abc,{ts}\n"),
            40 | 41 => format!("u5,i5,3,{ts}\n"),
            50 => "u50\n".to_owned(),
            60 => format!(",i60,x,{ts}\n"),
            _ => format!("u{i},i{i},{},{ts}\n", i % 5),
        };
        s.push_str(&line);
    }
    s
}

fn ratings_parquet() -> Vec<u8> {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
    let (mut uid, mut sku, mut score) = (Vec::new(), Vec::new(), Vec::new());
    for line in ratings_csv().lines().skip(1) {
        let mut parts = line.split(',');
        let (u, s, r) = (parts.next(), parts.next(), parts.next());
        uid.push(u.filter(|u| !u.is_empty()).map(str::to_owned));
        sku.push(s.map(str::to_owned));
        score.push(r.map(|r| r.parse::<f64>().unwrap_or(f64::NAN)));
    }
    let batch = RecordBatch::try_from_iter([
        ("uid", Arc::new(StringArray::from(uid)) as ArrayRef),
        ("sku", Arc::new(StringArray::from(sku)) as ArrayRef),
        ("score", Arc::new(Float64Array::from(score)) as ArrayRef),
    ])
    .unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(Vec::new(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.into_inner().unwrap()
}

async fn s3_app(peer: &S3Peer, db: TestDb, scheduled: bool, memory_mb: Option<u64>) -> TestApp {
    s3_app_with(peer, db, scheduled, memory_mb, gateway_store::Keyring::ephemeral()).await
}

async fn s3_app_with(
    peer: &S3Peer,
    db: TestDb,
    scheduled: bool,
    memory_mb: Option<u64>,
    keys: gateway_store::Keyring,
) -> TestApp {
    let mut b = TestApp::builder().on(db).keys(keys).allow_private().provider_url("S3", &peer.endpoint);
    if scheduled {
        b = b.validating();
    }
    if let Some(mb) = memory_mb {
        b = b.validation_memory_mb(mb);
    }
    let app = b.spawn().await.unwrap();
    let creds = json!({"aws_access_key_id": peer.key_id, "aws_secret_access_key": peer.secret, "bucket": peer.bucket});
    assert_eq!(app.api("acme", "manager").put("/connections/S3/", json!({"credentials": creds})).await.status, 200);
    app
}

/// Polls a validation until its state is final.
async fn finished(api: &Api<'_>, location: &str) -> Value {
    for _ in 0..600 {
        let r = api.get(location).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        if ["succeeded", "failed", "cancelled"].contains(&r.body["state"].as_str().unwrap_or("")) {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the validation at {location} did not finish in a minute");
}

fn violations(report: &Value) -> Vec<(String, String, u64)> {
    let mut v: Vec<(String, String, u64)> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["rule"].as_str().unwrap().into(), v["field"].as_str().unwrap().into(), v["rows"].as_u64().unwrap()))
        .collect();
    v.sort();
    v
}

async fn the_workflow_reports_every_defect(db: Db) {
    let Some(peer) = S3Peer::get() else { return };
    let Some(test_db) = TestDb::create(db) else { return };
    let app = s3_app(&peer, test_db, true, None).await;
    let api = app.api("acme", "manager");
    let dir = prefix("validate");
    let op = peer.operator();
    for (name, bytes) in [
        ("ratings.csv", ratings_csv().into_bytes()),
        ("ratings.csv.gz", gzip(ratings_csv().as_bytes())),
        ("ratings.parquet", ratings_parquet()),
    ] {
        let path = format!("{dir}/{name}");
        op.write(&path, bytes).await.unwrap();
        let table = format!("/connections/S3/tables/{name}/");
        let body = json!({"resource": "rating", "connection_table_params": {"path": path},
                          "resource_params": {"columns_mapping": {"user_id": "uid", "item_id": "sku", "rating": "score"}}});
        // Preview, save what it answered, validate.
        let preview = api.post(&format!("{table}test/"), body).await;
        assert_eq!(preview.status, 200, "{name}: {:?}", preview.body);
        let saved = api.patch(&table, preview.body.clone()).await;
        assert_eq!(saved.status, 200, "{name}: {:?}", saved.body);
        let started = api.post(&format!("{table}validations/"), json!({"max_errors": 3})).await;
        assert_eq!(started.status, 202, "{name}: {:?}", started.body);
        assert_eq!(started.body["state"], "queued");
        let id = started.body["id"].as_str().unwrap().to_owned();
        let location = format!("{table}validations/{id}/");
        let done = finished(&api, &location).await;
        assert_eq!(done["state"], "succeeded", "{name}: {done}");
        let report = &done["report"];
        assert_eq!(
            (report["rows"].as_u64(), report["valid_rows"].as_u64(), report["invalid_rows"].as_u64()),
            (Some(1000), Some(992), Some(8)),
            "{name}: {report}"
        );
        assert_eq!(report["truncated"], false);
        let expected: Vec<(String, String, u64)> = [
            ("duplicate", "user_id+item_id", 2),
            ("missing", "item_id", 1),
            ("missing", "rating", 1),
            ("missing", "user_id", 3),
            ("type", "rating", 3),
        ]
        .iter()
        .map(|(r, f, n)| ((*r).to_owned(), (*f).to_owned(), *n))
        .collect();
        let mut got = violations(report);
        got.retain(|v| v.2 > 0);
        assert_eq!(got, expected, "{name}: {report}");
        assert_eq!(report["samples"].as_array().map(Vec::len), Some(3), "max_errors samples kept: {report}");
        assert_eq!(report["samples"][0]["file"], path, "{report}");
        assert_eq!(report["fields"]["user_id"]["column"], "uid", "{report}");
        assert_eq!(done["progress"]["rows"], 1000, "{done}");
        // Listed newest first; the table's status unchanged; tested again, still available.
        let list = api.get(&format!("{table}validations/")).await;
        assert_eq!(list.body["validations"][0]["id"], id.as_str(), "{:?}", list.body);
        assert_eq!(api.get(&table).await.body["status"], "available");
        assert_eq!(api.get(&format!("{table}test/")).await.body["status"], "available");
    }
    // The journal: an audit entry by the system for each.
    let trail = app.api("acme", "root").get("/audit/?amt=64").await;
    let validated =
        trail.body["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "table.validated").count();
    assert_eq!(validated, 3, "{:?}", trail.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_the_workflow_reports_every_defect() {
    the_workflow_reports_every_defect(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_workflow_reports_every_defect() {
    the_workflow_reports_every_defect(Db::Postgres).await;
}

/// Without a schedule the job stays queued: a second start answers it, a cancel ends it,
/// and what cannot be validated is refused with the contract's names.
async fn queued_answered_cancelled_and_refusals(db: Db) {
    let Some(peer) = S3Peer::get() else { return };
    let Some(test_db) = TestDb::create(db) else { return };
    let app = s3_app(&peer, test_db, false, None).await;
    let api = app.api("acme", "backend");
    let manager = app.api("acme", "manager");
    let path = format!("{}/ratings.csv", prefix("queued"));
    peer.operator().write(&path, ratings_csv().into_bytes()).await.unwrap();
    let table = "/connections/S3/tables/r/";
    let body = json!({"resource": "rating", "connection_table_params": {"path": path}});
    assert_eq!(manager.patch(table, body).await.status, 200);
    let first = api.post(&format!("{table}validations/"), json!({})).await;
    assert_eq!(first.status, 202, "{:?}", first.body);
    let location =
        |r: &gateway_testkit::Resp| r.headers.get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(location(&first), Some(format!("{table}validations/{}/", first.body["id"].as_str().unwrap())));
    // A name no header could hold as is: its Location is percent-encoded.
    let odd = "/connections/S3/tables/données 1.csv/";
    assert_eq!(
        manager.patch(odd, json!({"resource": "rating", "connection_table_params": {"path": path}})).await.status,
        200
    );
    let r = api.post(&format!("{odd}validations/"), json!({})).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let at = location(&r).unwrap_or_default();
    assert!(at.starts_with("/connections/S3/tables/donn%C3%A9es%201.csv/validations/"), "{at}");
    assert_eq!(api.get(&at).await.status, 200, "the Location answers");
    let again = api.post(&format!("{table}validations/"), Value::Null).await;
    assert_eq!((again.status, &again.body["id"]), (200, &first.body["id"]), "the queued one: {:?}", again.body);
    let id = first.body["id"].as_str().unwrap();
    let location = format!("{table}validations/{id}/");
    assert_eq!(api.delete(&location).await.status, 204);
    let cancelled = api.get(&location).await;
    assert_eq!(cancelled.body["state"], "cancelled", "{:?}", cancelled.body);
    assert!(cancelled.body["finished_timestamp"].is_i64(), "{:?}", cancelled.body);
    assert_eq!(api.delete(&location).await.status, 204, "a finished one is left as it is");
    // A new one after the cancel.
    let next = api.post(&format!("{table}validations/"), json!({"max_rows": 10})).await;
    assert_eq!(next.status, 202, "{:?}", next.body);
    assert_ne!(next.body["id"], first.body["id"]);
    let list = api.get(&format!("{table}validations/?amt=1")).await;
    assert_eq!((list.body["has_next"].as_bool(), &list.body["validations"][0]["id"]), (Some(true), &next.body["id"]));

    // Refusals.
    let r = api.get(&format!("{table}validations/nope/")).await;
    assert_eq!((r.status, r.error_name()), (404, "VALIDATION_NOT_FOUND"), "{:?}", r.body);
    let r = api.post("/connections/S3/tables/none/validations/", json!({})).await;
    assert_eq!((r.status, r.error_name()), (404, "TABLE_NOT_FOUND"), "{:?}", r.body);
    let r = api.post(&format!("{table}validations/"), json!({"max_errors": 5000})).await;
    assert_eq!((r.status, r.error_name(), r.field()), (400, "WRONG_DATA_TYPE", "max_errors"), "{:?}", r.body);
    let r = api.post(&format!("{table}validations/"), json!({"max_rows": 0})).await;
    assert_eq!((r.status, r.field()), (400, "max_rows"), "{:?}", r.body);
    let r = api.post(&format!("{table}validations/"), json!({"sample": 1})).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let dest = "/connections/S3/tables/recos/";
    let body = json!({"resource": "user_to_items_reco", "connection_table_params": {"path": "out/recos.csv", "file_format": "CSV"}});
    assert_eq!(manager.patch(dest, body).await.status, 200);
    let r = api.post(&format!("{dest}validations/"), json!({})).await;
    assert_eq!((r.status, r.error_name(), r.field()), (400, "WRONG_DATA_TYPE", "resource"), "{:?}", r.body);
    // Another organization sees none of it.
    let other = app.api("globex", "root").get(&location).await;
    assert_eq!(other.status, 404, "{:?}", other.body);
    // A running one cancelled: its runner's next progress write is refused (it stops there)
    // and its finish writes nothing.
    let jobs = app.store.claim_validations("w", gateway_domain::now_seconds(), 60, 10, 10).unwrap();
    let job = jobs.iter().find(|j| j.id == next.body["id"].as_str().unwrap()).unwrap().clone();
    let at = gateway_domain::ValidationProgress { rows: 5, bytes_read: 100, bytes_total: 1000 };
    assert!(app.store.validation_progress("w", &job, at, gateway_domain::now_seconds() + 60).unwrap());
    let running = format!("{table}validations/{}/", job.id);
    assert_eq!(api.get(&running).await.body["progress"], json!({"rows": 5, "bytes_read": 100, "bytes_total": 1000}));
    assert_eq!(api.delete(&running).await.status, 204);
    assert!(!app.store.validation_progress("w", &job, at, gateway_domain::now_seconds() + 60).unwrap());
    let failure = json!({"error_name": "INTERNAL_ERROR", "message": "late", "error_data": {}});
    assert!(!app.store.finish_validation("w", &job, at, &gateway_store::Outcome::Failed(failure)).unwrap());
    assert_eq!(api.get(&running).await.body["state"], "cancelled");
    // A job whose replicas keep dying is failed after its third run, never retried for ever.
    let r2 = "/connections/S3/tables/r2/";
    assert_eq!(
        manager.patch(r2, json!({"resource": "rating", "connection_table_params": {"path": path}})).await.status,
        200
    );
    let doomed = api.post(&format!("{r2}validations/"), json!({})).await;
    let now = gateway_domain::now_seconds();
    for run in 0..3 {
        // Claimed by a replica that dies at once: its lease is already over.
        let jobs = app.store.claim_validations(&format!("dead-{run}"), now, -1, 10, 10).unwrap();
        assert_eq!(jobs.iter().filter(|j| j.table.as_str() == "r2").count(), 1, "run {run}: {jobs:?}");
        assert_eq!(
            api.get(&format!("{r2}validations/{}/", doomed.body["id"].as_str().unwrap())).await.body["state"],
            "running"
        );
    }
    let jobs = app.store.claim_validations("dead-3", now, -1, 10, 10).unwrap();
    assert!(jobs.iter().all(|j| j.table.as_str() != "r2"), "{jobs:?}");
    let failed = api.get(&format!("{r2}validations/{}/", doomed.body["id"].as_str().unwrap())).await;
    assert_eq!(
        (failed.body["state"].as_str(), failed.body["error"]["error_name"].as_str()),
        (Some("failed"), Some("INTERNAL_ERROR")),
        "{:?}",
        failed.body
    );
    assert!(failed.body["error"]["message"].as_str().unwrap().contains("interrupted 3 times"), "{:?}", failed.body);
    // Deleted with its table.
    assert_eq!(manager.delete(table).await.status, 204);
    assert_eq!(
        manager.patch(table, json!({"resource": "rating", "connection_table_params": {"path": path}})).await.status,
        200
    );
    let list = api.get(&format!("{table}validations/")).await;
    assert_eq!(list.body["validations"], json!([]), "{:?}", list.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_queued_answered_cancelled_and_refusals() {
    queued_answered_cancelled_and_refusals(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_queued_answered_cancelled_and_refusals() {
    queued_answered_cancelled_and_refusals(Db::Postgres).await;
}

/// 300,000 distinct items through a 16 MiB pool: the duplicate count is exact by spilling;
/// a file that cannot be read ends `failed` with the contract's shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn larger_than_memory_spills_and_a_broken_file_fails() {
    let Some(peer) = S3Peer::get() else { return };
    let Some(test_db) = TestDb::create(Db::Sqlite) else { return };
    let app = s3_app(&peer, test_db, true, Some(16)).await;
    let api = app.api("acme", "manager");
    let dir = prefix("spill");
    let mut csv = String::from("item_id,title\n");
    for i in 0..300_000u32 {
        csv.push_str(&format!(
            "item-{i:07}-{},a title long enough to fill the sort's memory\n",
            i.wrapping_mul(2654435761)
        ));
    }
    csv.push_str("item-0000000-0,the first item again\n");
    let path = format!("{dir}/items.csv.gz");
    peer.operator().write(&path, gzip(csv.as_bytes())).await.unwrap();
    let table = "/connections/S3/tables/items/";
    let body = json!({"resource": "item", "connection_table_params": {"path": path, "file_format": "CSV", "options": {"compression": "gzip"}}});
    assert_eq!(api.patch(table, body).await.status, 200);
    let started = api.post(&format!("{table}validations/"), json!({})).await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    let done = finished(&api, &format!("{table}validations/{}/", started.body["id"].as_str().unwrap())).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        (done["report"]["rows"].as_u64(), done["report"]["invalid_rows"].as_u64()),
        (Some(300_001), Some(1)),
        "{done}"
    );
    assert_eq!(done["report"]["samples"][0]["row"], 300_001, "{done}");

    // A gzip cut short.
    let broken = format!("{dir}/broken.csv.gz");
    let mut bytes = gzip(ratings_csv().as_bytes());
    bytes.truncate(bytes.len() / 2);
    peer.operator().write(&broken, bytes).await.unwrap();
    let table = "/connections/S3/tables/broken/";
    let body = json!({"resource": "item", "connection_table_params": {"path": broken, "file_format": "CSV", "options": {"compression": "gzip"}}});
    assert_eq!(api.patch(table, body).await.status, 200);
    let started = api.post(&format!("{table}validations/"), json!({})).await;
    let done = finished(&api, &format!("{table}validations/{}/", started.body["id"].as_str().unwrap())).await;
    assert_eq!(done["state"], "failed", "{done}");
    assert_eq!(done["error"]["error_name"], "WRONG_DATA_TYPE", "{done}");
    assert!(done["error"]["message"].as_str().unwrap().contains("broken.csv.gz"), "{done}");
    assert!(done.get("report").is_none(), "{done}");
}

/// A replica that claimed a validation and died leaves it to another once its lease ends;
/// the webhooks hear of every finished validation (none coalesced away).
async fn a_dead_replicas_job_is_taken_over_and_each_finish_is_told(db: Db) {
    use gateway_testkit::{MockProvider, Reply};
    let Some(peer) = S3Peer::get() else { return };
    let Some(test_db) = TestDb::create(db) else { return };
    let second = test_db.alias();
    let receiver = MockProvider::start(|_| Reply::text(204, ""));
    let keys = gateway_store::Keyring::ephemeral();
    let a = s3_app_with(&peer, test_db, false, None, keys.clone()).await;
    let api = a.api("acme", "manager");
    let hook = api
        .put("/webhooks/ops/", json!({"url": format!("{}/hooks", receiver.url), "events": ["table.validated"]}))
        .await;
    assert_eq!(hook.status, 200, "{:?}", hook.body);
    let path = format!("{}/ratings.csv", prefix("takeover"));
    peer.operator().write(&path, ratings_csv().into_bytes()).await.unwrap();
    let table = "/connections/S3/tables/r/";
    let body = json!({"resource": "rating", "connection_table_params": {"path": path},
                      "resource_params": {"columns_mapping": {"user_id": "uid", "item_id": "sku", "rating": "score"}}});
    assert_eq!(api.patch(table, body).await.status, 200);
    // One run that failed, recorded by a replica (no schedule here delivers its event).
    let v0 = api.post(&format!("{table}validations/"), json!({})).await.body["id"].as_str().unwrap().to_owned();
    let now = gateway_domain::now_seconds();
    let jobs = a.store.claim_validations("w", now, 60, 10, 10).unwrap();
    let failure = json!({"error_name": "RESOURCE_NOT_FOUND", "message": "gone", "error_data": {}});
    assert!(
        a.store.finish_validation("w", &jobs[0], Default::default(), &gateway_store::Outcome::Failed(failure)).unwrap()
    );
    // Another, claimed by a replica that dies at once (its lease ends in a second).
    let v1 = api.post(&format!("{table}validations/"), json!({})).await.body["id"].as_str().unwrap().to_owned();
    assert_eq!(a.store.claim_validations("dead", gateway_domain::now_seconds(), 1, 10, 10).unwrap().len(), 1);
    assert_eq!(api.get(&format!("{table}validations/{v1}/")).await.body["state"], "running");
    // A second replica runs the schedule: it takes the job over and runs it whole.
    let b = TestApp::builder()
        .on(second)
        .keys(keys)
        .allow_private()
        .provider_url("S3", &peer.endpoint)
        .validating()
        .spawn()
        .await
        .unwrap();
    let done = finished(&api, &format!("{table}validations/{v1}/")).await;
    assert_eq!(
        (done["state"].as_str(), done["report"]["invalid_rows"].as_u64()),
        (Some("succeeded"), Some(8)),
        "{done}"
    );
    let mut told = Vec::new();
    for _ in 0..200 {
        told = receiver
            .requests()
            .into_iter()
            .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
            .filter(|e| e["event"] == "table.validated")
            .collect();
        if told.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    told.sort_by_key(|e| e["validation"] != v0.as_str());
    assert_eq!(told.len(), 2, "{told:?}");
    assert_eq!((told[0]["validation"].as_str(), told[0].get("rows")), (Some(v0.as_str()), None), "{told:?}");
    assert_eq!(
        (
            told[1]["validation"].as_str(),
            told[1]["rows"].as_u64(),
            told[1]["invalid_rows"].as_u64(),
            told[1]["table"].as_str()
        ),
        (Some(v1.as_str()), Some(1000), Some(8), Some("r")),
        "{told:?}"
    );
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_dead_replicas_job_is_taken_over_and_each_finish_is_told() {
    a_dead_replicas_job_is_taken_over_and_each_finish_is_told(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_dead_replicas_job_is_taken_over_and_each_finish_is_told() {
    a_dead_replicas_job_is_taken_over_and_each_finish_is_told(Db::Postgres).await;
}

/// A validation keeps the schema its table shows as it starts (judging nothing: the status
/// stays), audited by the system; a mapped rating it saw turn to text then fails the next test,
/// judged against the history it kept.
async fn a_validation_keeps_the_schema_it_sees(db: Db) {
    let Some(peer) = S3Peer::get() else { return };
    let Some(test_db) = TestDb::create(db) else { return };
    let app = s3_app(&peer, test_db, true, None).await;
    let api = app.api("acme", "manager");
    let path = format!("{}/ratings.csv", prefix("validated-schema"));
    let op = peer.operator();
    op.write(&path, "uid,sku,score\nu1,i1,4.5\nu2,i2,3\n").await.unwrap();
    let table = "/connections/S3/tables/ratings/";
    let schema = format!("{table}schema/");
    let body = json!({"resource": "rating", "connection_table_params": {"path": path},
                      "resource_params": {"columns_mapping": {"user_id": "uid", "item_id": "sku", "rating": "score"}}});
    let saved = api.patch(table, body).await;
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    assert_eq!(api.get(&format!("{table}test/")).await.body["status"], "available");
    assert_eq!(api.get(&schema).await.body["history"].as_array().unwrap().len(), 1);
    let validate = || async {
        let started = api.post(&format!("{table}validations/"), json!({})).await;
        assert_eq!(started.status, 202, "{:?}", started.body);
        finished(&api, &format!("{table}validations/{}/", started.body["id"].as_str().unwrap())).await
    };
    let col = |name: &str, ty: &str| json!({"name": name, "type": ty});

    // An unmapped column added behind the gateway's back: the validation keeps it.
    op.write(&path, "uid,sku,score,note\nu1,i1,4.5,a\nu2,i2,3,b\n").await.unwrap();
    assert_eq!(validate().await["state"], "succeeded");
    let h = api.get(&schema).await.body;
    assert_eq!(h["history"][0]["added"], json!([col("note", "string")]), "{h}");
    assert_eq!(h["current"]["columns"].as_array().map(Vec::len), Some(4), "{h}");

    // The mapped rating turned to text: kept, the status left as it is by the validation...
    op.write(&path, "uid,sku,score,note\nu1,i1,good,a\nu2,i2,bad,b\n").await.unwrap();
    let done = validate().await;
    assert_eq!(done["report"]["invalid_rows"], 2, "{done}");
    let h = api.get(&schema).await.body;
    assert_eq!(h["history"][0]["changed"], json!([{"name": "score", "from": "float", "to": "string"}]), "{h}");
    assert_eq!(api.get(table).await.body["status"], "available");
    // ...and the next test fails it, though the schema it sees is the one last kept.
    let tested = api.get(&format!("{table}test/")).await;
    assert_eq!((tested.status, tested.body["error_data"]["status"].as_str()), (400, Some("wrong_specification")));
    assert!(
        tested.body["message"].as_str().unwrap().contains("which was float and is now string"),
        "{:?}",
        tested.body
    );
    assert_eq!(api.get(&schema).await.body["history"].as_array().unwrap().len(), 3, "nothing new to keep");
    let trail = app.api("acme", "root").get("/audit/?amt=64").await;
    let by: Vec<(&Value, &Value)> = trail.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "table.schema")
        .map(|e| (&e["role"], &e["sub"]))
        .collect();
    assert_eq!(by.len(), 2, "{:?}", trail.body);
    assert!(by.iter().all(|(role, sub)| *role == "system" && *sub == "validation"), "{by:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_validation_keeps_the_schema_it_sees() {
    a_validation_keeps_the_schema_it_sees(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_validation_keeps_the_schema_it_sees() {
    a_validation_keeps_the_schema_it_sees(Db::Postgres).await;
}

/// A BigQuery table validated where it lives (the emulator runs the GoogleSQL): the same
/// rules, counted exactly; a dry run first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bigquery_tables_are_validated_by_sql_in_the_customers_project() {
    use gateway_testkit::{BqPeer, TestKey, TokenServer};
    let Some(peer) = BqPeer::get() else { return };
    let dataset = format!("val_{}", std::process::id());
    let mut rows: Vec<Value> = (1..=10)
        .map(|i| json!({"json": {"user_id": format!("u{i}"), "item_id": format!("i{i}"), "rating": format!("{}", i % 5), "ts": 1_700_000_000 + i}}))
        .collect();
    for (u, i, r) in [
        (json!(" "), "i11", "3"),
        (Value::Null, "i12", "3"),
        (json!("u13"), "i13", "abc"),
        (json!("u14"), "i14", "x"),
        (json!("u1"), "i1", "4"),
        (json!("u1"), "i1", "5"),
    ] {
        rows.push(json!({"json": {"user_id": u, "item_id": i, "rating": r, "ts": 1_700_000_000}}));
    }
    // An epoch in milliseconds among seconds: of another unit than the table's, so `type`.
    rows.push(json!({"json": {"user_id": "u15", "item_id": "i15", "rating": "3", "ts": 1_700_000_000_000i64}}));
    let fields = json!([{"name": "user_id", "type": "STRING"}, {"name": "item_id", "type": "STRING"},
                        {"name": "rating", "type": "STRING"}, {"name": "ts", "type": "INTEGER"}]);
    peer.table_with(&dataset, "ratings", fields, rows).await;
    let key = TestKey::generate();
    let token = TokenServer::start(&key, "validator@gateway-tests.iam.gserviceaccount.com");
    let app = TestApp::builder()
        .allow_private()
        .provider_url("BIGQUERY", &peer.endpoint)
        .provider_url("GOOGLE_OAUTH", &token.url)
        .validating()
        .spawn()
        .await
        .unwrap();
    let api = app.api("acme", "manager");
    let mut creds = key.key_file("validator@gateway-tests.iam.gserviceaccount.com");
    creds["project_id"] = json!(peer.project);
    assert_eq!(api.put("/connections/BIGQUERY/", json!({"credentials": creds})).await.status, 200);
    let table = format!("/connections/BIGQUERY/tables/{dataset}.ratings/");
    let mapping = json!({"timestamp": "ts"});
    let saved = api.patch(&table, json!({"resource": "rating", "resource_params": {"columns_mapping": mapping}})).await;
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    let started = api.post(&format!("{table}validations/"), json!({"max_errors": 10})).await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    let done = finished(&api, &format!("{table}validations/{}/", started.body["id"].as_str().unwrap())).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let report = &done["report"];
    assert_eq!(
        (report["rows"].as_u64(), report["valid_rows"].as_u64(), report["invalid_rows"].as_u64()),
        (Some(17), Some(10), Some(7)),
        "{report}"
    );
    let mut got = violations(report);
    got.retain(|v| v.2 > 0);
    let expected: Vec<(String, String, u64)> = [
        ("duplicate", "user_id+item_id", 2),
        ("missing", "user_id", 2),
        ("type", "rating", 2),
        ("type", "timestamp", 1),
    ]
    .iter()
    .map(|(r, f, n)| ((*r).to_owned(), (*f).to_owned(), *n))
    .collect();
    assert_eq!(got, expected, "{report}");
    assert_eq!(report["fields"]["user_id"]["type"], "string", "{report}");
    // The mapped timestamp's form and range, as a file's would be reported.
    assert_eq!(
        report["timestamp"],
        json!({"unit": "seconds", "min": "2023-11-14T22:13:20Z", "max": "2023-11-14T22:13:30Z"}),
        "{report}"
    );
    assert_eq!(done["progress"]["rows"], 17, "{done}");
    assert_eq!(report["samples"].as_array().map(Vec::len), Some(7), "one per broken rule of each broken row: {report}");
    assert_eq!(report["samples"][0]["file"], format!("{}.{dataset}.ratings", peer.project), "{report}");
}

/// The operator's cap on what a BigQuery validation may bill: each query carries it as
/// `maximumBytesBilled`, and a dry run that says more is refused naming the setting (the
/// emulator bills nothing: a server in front of it answers the dry run's figure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bigquery_validation_bills_no_more_than_the_operator_allows() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use gateway_testkit::{BqPeer, MockProvider, Reply, TestKey, TokenServer};
    let Some(peer) = BqPeer::get() else { return };
    let dataset = format!("billed_{}", std::process::id());
    let fields = json!([{"name": "item_id", "type": "STRING"}]);
    peer.table_with(&dataset, "items", fields, vec![json!({"json": {"item_id": "i1"}})]).await;
    let processed = Arc::new(AtomicU64::new(1000));
    let said = processed.clone();
    let front = MockProvider::front(&peer.endpoint, move |r| {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        (r.path.ends_with("/queries") && body["dryRun"] == true).then(|| {
            Reply::json(
                200,
                json!({"kind": "bigquery#queryResponse", "jobComplete": true,
                       "totalBytesProcessed": said.load(Ordering::SeqCst).to_string()}),
            )
        })
    });
    let key = TestKey::generate();
    let token = TokenServer::start(&key, "validator@gateway-tests.iam.gserviceaccount.com");
    let app = TestApp::builder()
        .allow_private()
        .provider_url("BIGQUERY", &front.url)
        .provider_url("GOOGLE_OAUTH", &token.url)
        .validating()
        .validation_billed_mb(1024)
        .spawn()
        .await
        .unwrap();
    let api = app.api("acme", "manager");
    let mut creds = key.key_file("validator@gateway-tests.iam.gserviceaccount.com");
    creds["project_id"] = json!(peer.project);
    assert_eq!(api.put("/connections/BIGQUERY/", json!({"credentials": creds})).await.status, 200);
    let table = format!("/connections/BIGQUERY/tables/{dataset}.items/");
    assert_eq!(api.patch(&table, json!({"resource": "item"})).await.status, 200);
    let validate = || async {
        let started = api.post(&format!("{table}validations/"), json!({})).await;
        assert_eq!(started.status, 202, "{:?}", started.body);
        finished(&api, &format!("{table}validations/{}/", started.body["id"].as_str().unwrap())).await
    };
    assert_eq!(validate().await["state"], "succeeded");
    let capped: Vec<Value> = front
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/queries"))
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
        .filter(|b| b["dryRun"] != true && b["query"].as_str().unwrap_or("").contains(&dataset))
        .collect();
    assert!(!capped.is_empty(), "the rules ran as queries");
    assert!(capped.iter().all(|b| b["maximumBytesBilled"] == "1073741824"), "{capped:?}");

    processed.store(5_000_000_000, Ordering::SeqCst);
    let done = validate().await;
    assert_eq!(done["state"], "failed", "{done}");
    let message = done["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("would process 5000000000 bytes, more than the 1073741824")
            && message.contains("GATEWAY_VALIDATION_BILLED_MB"),
        "{done}"
    );
}

/// A file set validated whole: every file read (markers left out), rows per file, a key
/// repeated across files found and named in the later file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_set_is_validated_file_by_file() {
    let Some(peer) = S3Peer::get() else { return };
    let Some(test_db) = TestDb::create(Db::Sqlite) else { return };
    let app = s3_app(&peer, test_db, true, None).await;
    let api = app.api("acme", "manager");
    let dir = prefix("set");
    let op = peer.operator();
    for (part, ids) in [(0, 1..=100u32), (1, 101..=250), (2, 251..=300)] {
        let mut csv = String::from("item_id,title\n");
        for i in ids {
            csv.push_str(&format!("sku-{i},item {i}\n"));
        }
        if part == 2 {
            csv.push_str("sku-7,the seventh again\n");
        }
        op.write(&format!("{dir}/items/part-{part:05}.csv.gz"), gzip(csv.as_bytes())).await.unwrap();
    }
    op.write(&format!("{dir}/items/_SUCCESS"), Vec::<u8>::new()).await.unwrap();
    let table = "/connections/S3/tables/items/";
    let body = json!({"resource": "item", "connection_table_params": {"path": format!("{dir}/items/")}});
    assert_eq!(api.patch(table, body).await.status, 200);
    let started = api.post(&format!("{table}validations/"), json!({})).await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    let done = finished(&api, &format!("{table}validations/{}/", started.body["id"].as_str().unwrap())).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let report = &done["report"];
    assert_eq!((report["rows"].as_u64(), report["invalid_rows"].as_u64()), (Some(301), Some(1)), "{report}");
    let files: Vec<(String, u64)> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["file"].as_str().unwrap().to_owned(), f["rows"].as_u64().unwrap()))
        .collect();
    let part = |n: u32| format!("{dir}/items/part-{n:05}.csv.gz");
    assert_eq!(files, [(part(0), 100), (part(1), 150), (part(2), 51)], "{report}");
    let dup = &report["samples"][0];
    assert_eq!(
        (dup["rule"].as_str(), dup["file"].as_str(), dup["row"].as_u64()),
        (Some("duplicate"), Some(part(2).as_str()), Some(51)),
        "{report}"
    );
}

/// A LOCAL table validated after its upload (samples name the table, not the storage path);
/// before it, the validation fails saying the file has not been uploaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_upload_is_validated() {
    let app = TestApp::builder().validating().spawn().await.unwrap();
    let api = app.api("acme", "manager");
    let table = "/connections/LOCAL/tables/ratings.csv/";
    let mapping = json!({"user_id": "uid", "item_id": "sku", "rating": "score"});
    let r = api.patch(table, json!({"resource": "rating", "resource_params": {"columns_mapping": mapping}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let url = r.body["connection_table_params"]["url"].as_str().unwrap().to_owned();
    let early = api.post(&format!("{table}validations/"), json!({})).await;
    let done = finished(&api, &format!("{table}validations/{}/", early.body["id"].as_str().unwrap())).await;
    assert_eq!(
        (done["state"].as_str(), done["error"]["error_name"].as_str()),
        (Some("failed"), Some("RESOURCE_NOT_FOUND")),
        "{done}"
    );
    assert!(done["error"]["message"].as_str().unwrap().contains("has not been uploaded yet"), "{done}");
    let put = reqwest::Client::new().put(&url).body(ratings_csv()).send().await.unwrap();
    assert_eq!(put.status().as_u16(), 200);
    let started = api.post(&format!("{table}validations/"), json!({})).await;
    let done = finished(&api, &format!("{table}validations/{}/", started.body["id"].as_str().unwrap())).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        (done["report"]["rows"].as_u64(), done["report"]["invalid_rows"].as_u64()),
        (Some(1000), Some(8)),
        "{done}"
    );
    assert_eq!(done["report"]["samples"][0]["file"], "ratings.csv", "{done}");
}

/// A GCS object validated whole (its token exchanged at the local token endpoint), each of
/// its requests signed with a token that has time left: tokens here last 100 s, under the two
/// minutes before expiry at which the read's signer asks for another, so every request of the
/// read takes a fresh one (a read outlasting Google's hour-long tokens refreshes the same way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gcs_object_is_validated() {
    use gateway_testkit::{GcsPeer, TestKey, TokenServer};
    let Some(peer) = GcsPeer::get() else { return };
    let key = TestKey::generate();
    let email = "loader@gateway-tests.iam.gserviceaccount.com";
    let token = TokenServer::lasting(&key, email, 100);
    let app = TestApp::builder()
        .allow_private()
        .provider_url("GCS", &peer.endpoint)
        .provider_url("GOOGLE_OAUTH", &token.url)
        .validating()
        .spawn()
        .await
        .unwrap();
    let api = app.api("acme", "manager");
    let mut creds = key.key_file(email);
    creds["bucket"] = json!(peer.bucket);
    assert_eq!(api.put("/connections/GCS/", json!({"credentials": creds})).await.status, 200);
    let path = format!("{}/ratings.csv.gz", prefix("gcs"));
    peer.put(&path, gzip(ratings_csv().as_bytes())).await;
    let table = "/connections/GCS/tables/ratings/";
    let body = json!({"resource": "rating", "connection_table_params": {"path": path},
                      "resource_params": {"columns_mapping": {"user_id": "uid", "item_id": "sku", "rating": "score"}}});
    assert_eq!(api.patch(table, body).await.status, 200);
    assert_eq!(api.get(&format!("{table}test/")).await.body["status"], "available");
    let before = token.granted();
    let started = api.post(&format!("{table}validations/"), json!({})).await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    let done = finished(&api, &format!("{table}validations/{}/", started.body["id"].as_str().unwrap())).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        (done["report"]["rows"].as_u64(), done["report"]["invalid_rows"].as_u64()),
        (Some(1000), Some(8)),
        "{done}"
    );
    assert_eq!(done["report"]["files"][0]["file"], path.as_str(), "{done}");
    // The validation's look at the schema reused the cached token (a preview needs a minute
    // left); the whole read asked for one with five minutes left when it opened the file, and
    // its signer again for each request (a stat and at least one read), since none of these
    // tokens outlives the signer's two-minute margin. One token held for the whole read (how
    // the read was signed before) would be one exchange.
    let exchanged = token.granted() - before;
    assert!(exchanged >= 3, "the whole read held one token for all its requests ({exchanged} exchanges)");
    // A preview takes the cached token (a minute left is plenty for it): no exchange.
    let after = token.granted();
    assert_eq!(api.get(&format!("{table}test/")).await.body["status"], "available");
    assert_eq!(token.granted(), after, "a preview does not ask for a token lasting five minutes");
}

//! Rows through the gateway (`GET .../rows/`), on SQLite and PostgreSQL, against the S3 peer:
//! the workflow a pipeline chains (preview, save what it answered, read the rows), each form
//! read back by its reference reader, invalid rows skipped, included or failing the read, the
//! refusals, the organization's limit on reads open at once, and the audit entry of each.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gateway_testkit::{Db, S3Peer, TestApp, TestDb};
use serde_json::{Value, json};

fn prefix(test: &str) -> String {
    format!("{test}-{}-{}", std::process::id(), gateway_domain::now_seconds())
}

/// `n` ratings (`uid,sku,score,note`) with 8 invalid rows when n >= 60, as in the validation
/// tests: 2 missing users, 2 ratings that are no number, 2 repeats of row 5's key, a row of
/// one column, a row with a missing user and a bad rating.
fn ratings_csv(n: u32) -> String {
    let mut s = String::from("uid,sku,score,note\n");
    for i in 1..=n {
        let line = match i {
            10 | 20 => format!(",i{i},4,n{i}\n"),
            30 | 31 => format!("u{i},i{i},abc,n{i}\n"),
            40 | 41 => "u5,i5,3,again\n".to_owned(),
            50 => "u50\n".to_owned(),
            60 => ",i60,x,n60\n".to_owned(),
            _ => format!("u{i},i{i},{},n{i}\n", i % 5),
        };
        s.push_str(&line);
    }
    s
}

async fn app_on(peer: &S3Peer, db: TestDb, limits: Option<gateway_service::LimitSettings>) -> TestApp {
    let mut b = TestApp::builder().on(db).allow_private().provider_url("S3", &peer.endpoint);
    if let Some(l) = limits {
        b = b.limits(l);
    }
    let app = b.spawn().await.unwrap();
    let creds = json!({"aws_access_key_id": peer.key_id, "aws_secret_access_key": peer.secret, "bucket": peer.bucket});
    assert_eq!(app.api("acme", "manager").put("/connections/S3/", json!({"credentials": creds})).await.status, 200);
    app
}

/// Saves `ratings.csv` of `n` rows as a rating table from its preview; answers its path.
async fn saved_ratings(app: &TestApp, peer: &S3Peer, test: &str, n: u32) -> String {
    let path = format!("{}/ratings.csv", prefix(test));
    peer.operator().write(&path, ratings_csv(n).into_bytes()).await.unwrap();
    let api = app.api("acme", "manager");
    let table = "/connections/S3/tables/ratings/";
    let body = json!({"resource": "rating", "connection_table_params": {"path": path},
                      "resource_params": {"columns_mapping": {"user_id": "uid", "item_id": "sku", "rating": "score"}}});
    let preview = api.post(&format!("{table}test/"), body).await;
    assert_eq!(preview.status, 200, "{:?}", preview.body);
    assert_eq!(api.patch(table, preview.body).await.status, 200);
    table.to_owned()
}

/// A gateway with a BigQuery connection (a service-account key its token server knows) and
/// `<dataset>.ratings` saved as a rating table, `ts` its timestamp: the app, the token server
/// (kept while the app runs) and the table's path.
async fn bigquery_ratings(
    peer: &gateway_testkit::BqPeer,
    dataset: &str,
) -> (TestApp, gateway_testkit::TokenServer, String) {
    let key = gateway_testkit::TestKey::generate();
    let email = "reader@gateway-tests.iam.gserviceaccount.com";
    let token = gateway_testkit::TokenServer::start(&key, email);
    let app = TestApp::builder()
        .allow_private()
        .provider_url("BIGQUERY", &peer.endpoint)
        .provider_url("GOOGLE_OAUTH", &token.url)
        .spawn()
        .await
        .unwrap();
    let api = app.api("acme", "manager");
    let mut creds = key.key_file(email);
    creds["project_id"] = json!(peer.project);
    assert_eq!(api.put("/connections/BIGQUERY/", json!({"credentials": creds})).await.status, 200);
    let table = format!("/connections/BIGQUERY/tables/{dataset}.ratings/");
    let saved = api
        .patch(&table, json!({"resource": "rating", "resource_params": {"columns_mapping": {"timestamp": "ts"}}}))
        .await;
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    (app, token, table)
}

async fn a_pipeline_reads_the_rows_it_ingests(db: Db) {
    let Some(peer) = S3Peer::get() else { return };
    let Some(test_db) = TestDb::create(db) else { return };
    let app = app_on(&peer, test_db, None).await;
    let table = saved_ratings(&app, &peer, "rows", 1000).await;
    // The platform's pipeline reads as backend: NDJSON by default, invalid rows skipped.
    let backend = app.api("acme", "backend");
    let (status, headers, body) = backend.get_raw(&format!("{table}rows/"), None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/x-ndjson");
    let body = String::from_utf8(body.unwrap().to_vec()).unwrap();
    let lines: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 992, "the 8 invalid rows skipped");
    assert_eq!(lines[0], json!({"user_id": "u1", "item_id": "i1", "rating": 1.0, "note": "n1"}));
    assert!(!lines.iter().any(|l| l["user_id"].is_null()), "no row without a user");

    // Invalid rows included, mapped fields only, as CSV.
    let (status, _, body) =
        backend.get_raw(&format!("{table}rows/?format=csv&columns=mapped&invalid=include"), None).await;
    assert_eq!(status, 200);
    let csv = String::from_utf8(body.unwrap().to_vec()).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("user_id,item_id,rating,_error"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1000);
    assert_eq!(rows[9], ",i10,4.0,missing user_id");
    assert_eq!(rows[40], "u5,i5,3.0,duplicate user_id+item_id", "row 5's key again");

    // Arrow by Accept, read back by arrow's own reader.
    let (status, headers, body) =
        backend.get_raw(&format!("{table}rows/"), Some("application/vnd.apache.arrow.stream")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/vnd.apache.arrow.stream");
    let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(body.unwrap()), None).unwrap();
    let schema = reader.schema();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 992);
    let field = |n: &str| schema.field_with_name(n).unwrap().data_type().clone();
    assert_eq!((field("user_id"), field("rating")), (arrow_schema::DataType::Utf8, arrow_schema::DataType::Float64));

    // Parquet, read back by the parquet crate.
    let (status, _, body) = backend.get_raw(&format!("{table}rows/?format=parquet"), None).await;
    assert_eq!(status, 200);
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(body.unwrap()).unwrap().build().unwrap();
    assert_eq!(reader.map(|b| b.unwrap().num_rows()).sum::<usize>(), 992);

    // The typed client: the same rows, as a Rust service embedding it reads them.
    let client = gateway_client::Client::new(&app.address, &app.token("acme", "backend")).unwrap();
    let query = gateway_client::RowsQuery {
        format: gateway_client::RowsFormat::Arrow,
        invalid: gateway_client::InvalidRows::Include,
        ..Default::default()
    };
    let name = gateway_domain::TableName::parse("ratings").unwrap();
    let res = client.read_rows(gateway_domain::ConnectionKind::S3, &name, &query).await.unwrap();
    let reader =
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(res.bytes().await.unwrap()), None).unwrap();
    assert_eq!(reader.map(|b| b.unwrap().num_rows()).sum::<usize>(), 1000);
    // ... and as record batches decoded as they arrive, the same rows.
    let mut batches = client.read_batches(gateway_domain::ConnectionKind::S3, &name, &query).await.unwrap();
    let names: Vec<String> = batches.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["user_id", "item_id", "rating", "note", "_error"]);
    let mut users = Vec::new();
    while let Some(b) = batches.next().await {
        let b = b.unwrap();
        let column = b.column_by_name("user_id").unwrap().as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
        users.extend(column.iter().map(|u| u.map(str::to_owned)));
    }
    assert_eq!(users.len(), 1000);
    assert_eq!((users[0].as_deref(), users[9].as_deref()), (Some("u1"), None), "row 10 has no user");

    // invalid=fail: row 10 breaks a rule before the first row is served, so the failure is the
    // answer (a failure once rows were served cuts the body short instead).
    let r = backend.get(&format!("{table}rows/?invalid=fail")).await;
    assert_eq!((r.status, r.error_name()), (400, "WRONG_DATA_TYPE"), "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("data row 10"), "{:?}", r.body);

    // max_rows.
    let (_, _, body) = backend.get_raw(&format!("{table}rows/?max_rows=5"), None).await;
    assert_eq!(String::from_utf8(body.unwrap().to_vec()).unwrap().lines().count(), 5);

    // Each read audited with its counts and how it ended, once the gateway sees its end (the
    // entry is written as the response's stream is dropped, so they are looked for, not
    // taken in order).
    let reads = app.api("acme", "root").audited("table.rows_read", 8).await;
    assert_eq!(reads.len(), 8, "{reads:?}");
    assert!(reads.iter().all(|r| r["role"] == "backend" && r["target"] == "S3/ratings"), "{reads:?}");
    let fields = gateway_testkit::fields_of;
    let ended = |how: &str| reads.iter().filter(|r| fields(r).get(3).map(String::as_str) == Some(how)).count();
    assert_eq!((ended("completed"), ended("failed")), (7, 1), "{reads:?}");
    // A failed read's entry says why.
    assert!(
        reads.iter().any(|r| fields(r)
            .get(4)
            .is_some_and(|e| e.starts_with("error WRONG_DATA_TYPE") && e.contains("data row 10"))),
        "{reads:?}"
    );
    assert!(reads.iter().any(|r| fields(r)[..2] == ["rows 992", "skipped 8"]), "{reads:?}");
    assert!(reads.iter().any(|r| fields(r)[0] == "rows 5"), "{reads:?}");
    assert!(reads.iter().any(|r| fields(r)[0] == "rows 1000" && fields(r)[1] == "skipped 0"), "{reads:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_reads_the_rows_it_ingests_on_sqlite() {
    a_pipeline_reads_the_rows_it_ingests(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_reads_the_rows_it_ingests_on_postgres() {
    a_pipeline_reads_the_rows_it_ingests(Db::Postgres).await;
}

/// What cannot be read is refused before any row: a destination, an unknown table, a form or
/// a rule that does not exist; and an organization holding its reads open gets 429 naming the
/// setting while another organization reads on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_refused_clearly_and_limited_per_organization() {
    let Some(peer) = S3Peer::get() else { return };
    let Some(test_db) = TestDb::create(Db::Sqlite) else { return };
    let limits = gateway_service::LimitSettings {
        global_calls: 64,
        org_calls: 32,
        org_tests_per_minute: 10_000,
        org_row_reads: 1,
        ..Default::default()
    };
    let app = app_on(&peer, test_db, Some(limits)).await;
    // Large enough that an unread response cannot be taken whole by the sockets' buffers.
    let table = saved_ratings(&app, &peer, "rows-limits", 500_000).await;
    let api = app.api("acme", "backend");
    for (query, field) in [("format=xml", "format"), ("invalid=maybe", "invalid"), ("columns=some", "columns")] {
        let r = api.get(&format!("{table}rows/?{query}")).await;
        assert_eq!((r.status, r.error_name(), r.field()), (400, "WRONG_DATA_TYPE", field), "{query}: {:?}", r.body);
    }
    let r = api.get_raw(&format!("{table}rows/"), Some("text/html")).await;
    assert_eq!(r.0, 400, "an Accept naming no form rows come in");
    let r = api.get("/connections/S3/tables/nothing/rows/").await;
    assert_eq!((r.status, r.error_name()), (404, "TABLE_NOT_FOUND"));
    let reco = json!({"resource": "user_to_items_reco", "connection_table_params": {"path": format!("{}/reco.csv", prefix("reco"))}});
    assert_eq!(app.api("acme", "manager").patch("/connections/S3/tables/reco/", reco).await.status, 200);
    let r = api.get("/connections/S3/tables/reco/rows/").await;
    assert_eq!((r.status, r.error_name()), (400, "WRONG_DATA_TYPE"), "{:?}", r.body);

    // One read held open (its body unread): a second one of the organization's is refused.
    let held = api.get_unread(&format!("{table}rows/")).await;
    assert_eq!(held.status(), 200);
    let second = api.get(&format!("{table}rows/")).await;
    assert_eq!((second.status, second.error_name()), (429, "TOO_MANY_REQUESTS"), "{:?}", second.body);
    assert_eq!(second.body["error_data"]["setting"], "GATEWAY_ORG_ROW_READS");
    drop(held);
    // The slot comes back once the gateway sees the reader gone.
    let mut freed = false;
    for _ in 0..100 {
        let (status, _, _) = api.get_raw(&format!("{table}rows/?max_rows=1"), None).await;
        if status == 200 {
            freed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(freed, "a reader gone frees its slot");
}

/// `GATEWAY_ROW_READ_MB` stops a read that would take more source bytes than it allows: refused
/// with `QUOTA_EXCEEDED` naming the setting before any row, or cut short once under way; either
/// way audited `failed` with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_past_the_operators_byte_cap_is_stopped_and_says_why() {
    let Some(peer) = S3Peer::get() else { return };
    let Some(test_db) = TestDb::create(Db::Sqlite) else { return };
    let limits = gateway_service::LimitSettings { row_read_mb: Some(1), ..Default::default() };
    let app = app_on(&peer, test_db, Some(limits)).await;
    // About 6 MiB of CSV.
    let table = saved_ratings(&app, &peer, "rows-cap", 300_000).await;
    let api = app.api("acme", "backend");
    let (status, _, body) = api.get_raw(&format!("{table}rows/"), None).await;
    match status {
        200 => assert!(body.is_err(), "a read past its cap is cut short, never ended as whole"),
        409 => {
            let problem: Value = serde_json::from_slice(&body.unwrap()).unwrap();
            assert_eq!(problem["error_data"]["setting"], "GATEWAY_ROW_READ_MB", "{problem}");
        }
        other => panic!("{other}: a read past its cap"),
    }
    let entry = app.api("acme", "root").audited("table.rows_read", 1).await;
    let fields = entry.first().map(gateway_testkit::fields_of).unwrap_or_default();
    assert!(fields.iter().any(|f| f == "failed"), "{fields:?}");
    assert!(
        fields.iter().any(|f| f.starts_with("error QUOTA_EXCEEDED") && f.contains("GATEWAY_ROW_READ_MB")),
        "{fields:?}"
    );
    let bytes: u64 = fields.iter().find_map(|f| f.strip_prefix("bytes ")).unwrap().parse().unwrap();
    assert!(bytes <= 1 << 20, "no more source bytes read than the cap: {bytes}");
    // Within its cap (its sniff and its read together), a read is whole.
    let table = saved_ratings(&app, &peer, "rows-cap-small", 1000).await;
    let (status, _, body) = api.get_raw(&format!("{table}rows/"), None).await;
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(body.unwrap().to_vec()).unwrap().lines().count(), 992);
}

/// A read that fails once rows were served (a rule under `invalid=fail` past the first batch)
/// is cut short: its chunked body ends without its terminator, so no client takes it for whole,
/// and its audit entry says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_failing_once_rows_were_served_is_cut_short() {
    let Some(peer) = S3Peer::get() else { return };
    let Some(test_db) = TestDb::create(Db::Sqlite) else { return };
    let app = app_on(&peer, test_db, None).await;
    let path = format!("{}/late.csv", prefix("rows-late"));
    let mut csv = String::from("uid,sku,score\n");
    for i in 1..=20_000 {
        csv.push_str(&if i == 15_000 { format!(",i{i},1\n") } else { format!("u{i},i{i},1\n") });
    }
    peer.operator().write(&path, csv.into_bytes()).await.unwrap();
    let table = "/connections/S3/tables/late/";
    let body = json!({"resource": "rating", "connection_table_params": {"path": path},
                      "resource_params": {"columns_mapping": {"user_id": "uid", "item_id": "sku", "rating": "score"}}});
    assert_eq!(app.api("acme", "manager").patch(table, body).await.status, 200);
    let (status, _, body) = app.api("acme", "backend").get_raw(&format!("{table}rows/?invalid=fail"), None).await;
    assert_eq!(status, 200);
    assert!(body.is_err(), "a read failing under way ends its body early, never as if complete");
    // The typed client's record batches: the rows before the failure, then an error, never
    // an end.
    let client = gateway_client::Client::new(&app.address, &app.token("acme", "backend")).unwrap();
    let query = gateway_client::RowsQuery { invalid: gateway_client::InvalidRows::Fail, ..Default::default() };
    let name = gateway_domain::TableName::parse("late").unwrap();
    let mut batches = client.read_batches(gateway_domain::ConnectionKind::S3, &name, &query).await.unwrap();
    let (mut rows, mut last) = (0, None);
    while let Some(b) = batches.next().await {
        match b {
            Ok(b) => rows += b.num_rows(),
            Err(e) => last = Some(e),
        }
    }
    assert!(last.is_some() && rows < 15_000, "{rows} rows, then {last:?}");
    let entry = app.api("acme", "root").audited("table.rows_read", 2).await;
    let fields = entry.first().map(gateway_testkit::fields_of).unwrap_or_default();
    assert_eq!(fields.get(3).map(String::as_str), Some("failed"), "{fields:?}");
    assert!(fields.get(4).is_some_and(|e| e.contains("data row 15000")), "{fields:?}");
}

/// Under `GATEWAY_BACKEND_SECRETS=masked`, backend is answered masked secrets like the other
/// roles, and reads its tables' rows through the gateway all the same: the gateway is then the
/// only holder of the customer's secrets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_backend_secrets_masked_a_pipeline_still_reads_rows() {
    let Some(peer) = S3Peer::get() else { return };
    let Some(test_db) = TestDb::create(Db::Sqlite) else { return };
    let app = TestApp::builder()
        .on(test_db)
        .allow_private()
        .provider_url("S3", &peer.endpoint)
        .backend_secrets_masked()
        .spawn()
        .await
        .unwrap();
    let creds = json!({"aws_access_key_id": peer.key_id, "aws_secret_access_key": peer.secret, "bucket": peer.bucket});
    assert_eq!(app.api("acme", "manager").put("/connections/S3/", json!({"credentials": creds})).await.status, 200);
    let table = saved_ratings(&app, &peer, "rows-masked", 100).await;
    let backend = app.api("acme", "backend");
    let conn = backend.get("/connections/S3/").await;
    assert_eq!(conn.body["credentials"]["aws_secret_access_key"], "********", "{:?}", conn.body);
    assert_eq!(conn.body["credentials"]["aws_access_key_id"], peer.key_id.as_str());
    let (status, _, body) = backend.get_raw(&format!("{table}rows/"), None).await;
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(body.unwrap().to_vec()).unwrap().lines().count(), 92);
}

/// A BigQuery table's rows read through the gateway by `tabledata.list` on the emulator: typed
/// as any source's (the INTEGER epoch as seconds, milliseconds among them too), the same rules
/// per row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bigquery_rows_are_read_through_the_gateway() {
    let Some(peer) = gateway_testkit::BqPeer::get() else { return };
    let dataset = format!("rows_{}", std::process::id());
    let mut rows: Vec<Value> = (1..=10)
        .map(|i| json!({"json": {"user_id": format!("u{i}"), "item_id": format!("i{i}"), "rating": format!("{}", i % 5), "ts": 1_700_000_000 + i}}))
        .collect();
    for (u, i, r) in
        [(json!(" "), "i11", "3"), (Value::Null, "i12", "3"), (json!("u13"), "i13", "abc"), (json!("u1"), "i1", "4")]
    {
        rows.push(json!({"json": {"user_id": u, "item_id": i, "rating": r, "ts": 1_700_000_000}}));
    }
    rows.push(json!({"json": {"user_id": "u15", "item_id": "i15", "rating": "3", "ts": 1_700_000_000_000i64}}));
    let fields = json!([{"name": "user_id", "type": "STRING"}, {"name": "item_id", "type": "STRING"},
                        {"name": "rating", "type": "STRING"}, {"name": "ts", "type": "INTEGER"}]);
    peer.table_with(&dataset, "ratings", fields, rows).await;
    let (app, _token, table) = bigquery_ratings(&peer, &dataset).await;
    let (status, _, body) = app.api("acme", "backend").get_raw(&format!("{table}rows/?invalid=include"), None).await;
    assert_eq!(status, 200);
    let rows: Vec<Value> =
        String::from_utf8(body.unwrap().to_vec()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 15, "{rows:?}");
    let row = |u: &str| rows.iter().find(|r| r["user_id"] == u).unwrap();
    assert_eq!(row("u1")["timestamp"], 1_700_000_001, "{rows:?}");
    assert_eq!(row("u1")["rating"], 1.0);
    assert_eq!(row("u15")["timestamp"], 1_700_000_000, "milliseconds served as seconds");
    assert_eq!(row("u13")["_error"], "type rating");
    let broken = rows.iter().filter(|r| !r["_error"].is_null()).count();
    assert_eq!(broken, 4, "two missing users, a rating that is no number, a repeated key: {rows:?}");
}

/// A file set read by its splits, as parallel readers would: one split a file, each served in
/// the columns of a read of all (the first file's), together the same rows; a key repeated in
/// another file is a duplicate in a read of all, not within its own split. A split that names
/// no file of the table is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_set_is_read_by_its_splits() {
    let Some(peer) = S3Peer::get() else { return };
    let Some(test_db) = TestDb::create(Db::Sqlite) else { return };
    let app = app_on(&peer, test_db, None).await;
    let dir = prefix("splits");
    let op = peer.operator();
    op.write(&format!("{dir}/part-1.csv"), b"uid,sku,score,extra\nu1,i1,1,x\nu2,i2,2,y\n".to_vec()).await.unwrap();
    op.write(&format!("{dir}/part-2.csv"), b"uid,sku,score\nu3,i3,3\nu1,i1,4\n".to_vec()).await.unwrap();
    op.write(&format!("{dir}/part-3.csv"), b"uid,sku,score\nu4,i4,oops\n".to_vec()).await.unwrap();
    let api = app.api("acme", "manager");
    let table = "/connections/S3/tables/parts/";
    let body = json!({"resource": "rating", "connection_table_params": {"path": format!("{dir}/part-*.csv"), "file_format": "csv"},
                      "resource_params": {"columns_mapping": {"user_id": "uid", "item_id": "sku", "rating": "score"}}});
    let saved = api.patch(table, body).await;
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    let backend = app.api("acme", "backend");
    let splits = backend.get(&format!("{table}rows/splits/")).await;
    assert_eq!(splits.status, 200, "{:?}", splits.body);
    let splits = splits.body["splits"].as_array().unwrap().clone();
    let files: Vec<&str> = splits.iter().map(|s| s["file"].as_str().unwrap()).collect();
    assert_eq!(files, [format!("{dir}/part-1.csv"), format!("{dir}/part-2.csv"), format!("{dir}/part-3.csv")]);
    assert!(splits.iter().all(|s| s["bytes"].as_u64().unwrap() > 0), "{splits:?}");
    let read = |query: String| {
        let backend = backend.clone();
        async move {
            let (status, _, body) = backend.get_raw(&format!("{table}rows/?invalid=include&{query}"), None).await;
            assert_eq!(status, 200, "{query}");
            String::from_utf8(body.unwrap().to_vec())
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<Value>>()
        }
    };
    let all = read(String::new()).await;
    let mut by_split = Vec::new();
    for s in &splits {
        by_split.extend(read(format!("split={}", s["split"].as_str().unwrap())).await);
    }
    assert_eq!(all.len(), 5);
    let without_errors = |rows: &[Value]| -> Vec<Value> {
        rows.iter()
            .map(|r| {
                let mut r = r.clone();
                r.as_object_mut().unwrap().remove("_error");
                r
            })
            .collect()
    };
    assert_eq!(without_errors(&by_split), without_errors(&all), "the splits together are the rows of a read of all");
    assert_eq!(by_split[2], json!({"user_id": "u3", "item_id": "i3", "rating": 3.0, "extra": null, "_error": null}));
    assert_eq!(all[3]["_error"], "duplicate user_id+item_id", "{all:?}");
    assert_eq!(by_split[3]["_error"], Value::Null, "a split finds duplicates within itself only");
    assert_eq!(by_split[4]["_error"], "type rating");
    let r = backend.get(&format!("{table}rows/?split=6e6f7065")).await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
}

/// What the gateway serves is what an independent reader takes from the same files: pyarrow
/// (and Python's ISO 8601 parser) reads a CSV.gz written by Python's csv module (quoted
/// delimiters, quotes and newlines in values, text beyond ASCII, instants with offsets and
/// fractions, some before 1970) and a Parquet set written by pyarrow as pandas and Spark write
/// (dictionary text, float32, ns timestamps in a named zone, ms in UTC, naive us), mapped as
/// the platform ingests them (`scripts/reference_rows.py`); each table is previewed, saved as
/// previewed and read whole, and compared row by row.
async fn the_rows_served_are_what_pyarrow_reads_from_the_same_files(db: Db) {
    let Some(peer) = S3Peer::get() else { return };
    let Some(python) = gateway_testkit::pyarrow() else { return };
    let Some(test_db) = TestDb::create(db) else { return };
    let app = app_on(&peer, test_db, None).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/reference_rows.py");
    let local = tempfile::tempdir().unwrap();
    let python = |args: &[&str]| {
        let out = std::process::Command::new(&python).arg(script).args(args).output().unwrap();
        assert!(out.status.success(), "reference_rows.py {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    python(&["write", local.path().to_str().unwrap()]);
    let dir = prefix("reference");
    let op = peer.operator();
    let parts: Vec<String> = (0..3).map(|i| format!("set/part-{i}.parquet")).collect();
    for name in std::iter::once("ratings.csv.gz".to_owned()).chain(parts.iter().cloned()) {
        op.write(&format!("{dir}/{name}"), std::fs::read(local.path().join(&name)).unwrap()).await.unwrap();
    }
    let api = app.api("acme", "manager");
    let backend = app.api("acme", "backend");
    let csv_mapping = json!({"user_id": "user id", "item_id": "sku", "rating": "score", "timestamp": "when"});
    let set_mapping = json!({"user_id": "uid", "item_id": "item", "rating": "stars", "timestamp": "at"});
    let tables = [
        ("exported", json!({"path": format!("{dir}/ratings.csv.gz")}), csv_mapping, vec!["ratings.csv.gz".to_owned()]),
        ("parts", json!({"path": format!("{dir}/set/part-*.parquet"), "file_format": "parquet"}), set_mapping, parts),
    ];
    for (name, params, mapping, files) in tables {
        let table = format!("/connections/S3/tables/{name}/");
        let body = json!({"resource": "rating", "connection_table_params": params,
                          "resource_params": {"columns_mapping": mapping}});
        let preview = api.post(&format!("{table}test/"), body).await;
        assert_eq!((preview.status, preview.body["status"].as_str()), (200, Some("available")), "{:?}", preview.body);
        assert_eq!(api.patch(&table, preview.body).await.status, 200);
        let (status, _, body) = backend.get_raw(&format!("{table}rows/?invalid=fail"), None).await;
        assert_eq!(status, 200, "{name}");
        let served: Vec<Value> = String::from_utf8(body.unwrap().to_vec())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let paths: Vec<String> = files.iter().map(|f| local.path().join(f).to_str().unwrap().to_owned()).collect();
        let mut args = vec!["read"];
        args.extend(paths.iter().map(String::as_str));
        let expected: Vec<Value> =
            String::from_utf8(python(&args)).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert!(expected.len() >= 15_000, "{name}: the reference read {} rows", expected.len());
        let differ: Vec<String> = served
            .iter()
            .zip(&expected)
            .enumerate()
            .filter(|(_, (s, e))| s != e)
            .take(5)
            .map(|(i, (s, e))| format!("row {}: served {s}, pyarrow read {e}", i + 1))
            .collect();
        assert!(differ.is_empty(), "{name}: {differ:#?}");
        assert_eq!(served.len(), expected.len(), "{name}: every row, none more");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rows_served_are_what_pyarrow_reads_from_the_same_files_on_sqlite() {
    the_rows_served_are_what_pyarrow_reads_from_the_same_files(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rows_served_are_what_pyarrow_reads_from_the_same_files_on_postgres() {
    the_rows_served_are_what_pyarrow_reads_from_the_same_files(Db::Postgres).await;
}

/// A keyed read of a table with more keys than a read's memory holds (16 MiB: about 420,000)
/// is served whole: its keys past memory spilled to the read's folder, every duplicate found
/// (one of them a repeat of the first rows, long spilled by then), the folder gone after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_with_more_keys_than_memory_is_read_whole() {
    let Some(peer) = S3Peer::get() else { return };
    let Some(test_db) = TestDb::create(Db::Sqlite) else { return };
    let app = TestApp::builder()
        .on(test_db)
        .allow_private()
        .provider_url("S3", &peer.endpoint)
        .validation_memory_mb(16)
        .spawn()
        .await
        .unwrap();
    let creds = json!({"aws_access_key_id": peer.key_id, "aws_secret_access_key": peer.secret, "bucket": peer.bucket});
    assert_eq!(app.api("acme", "manager").put("/connections/S3/", json!({"credentials": creds})).await.status, 200);
    let table = saved_ratings(&app, &peer, "rows-many-keys", 100).await;
    let path = format!("{}/ratings.csv", prefix("rows-many-keys"));
    // 600,000 rows, then the key of row 7 again.
    let csv = ratings_csv(600_000) + "u7,i7,2,late\n";
    peer.operator().write(&path, csv.into_bytes()).await.unwrap();
    let backend = app.api("acme", "backend");
    let (status, _, body) = backend.get_raw(&format!("{table}rows/?format=csv&invalid=include"), None).await;
    assert_eq!(status, 200);
    let body = String::from_utf8(body.unwrap().to_vec()).unwrap();
    let lines: Vec<&str> = body.lines().skip(1).collect();
    assert_eq!(lines.len(), 600_001, "every row served");
    let duplicates: Vec<&&str> = lines.iter().filter(|l| l.ends_with("duplicate user_id+item_id")).collect();
    assert_eq!(duplicates.len(), 3, "rows 40 and 41 and the last: {duplicates:?}");
    assert!(duplicates[2].starts_with("u7,i7,2.0,late"), "{duplicates:?}");
    let entry = app.api("acme", "root").audited("table.rows_read", 1).await;
    let fields = entry.first().map(gateway_testkit::fields_of).unwrap_or_default();
    assert!(fields.iter().any(|f| f == "rows 600001") && fields.iter().any(|f| f == "completed"), "{fields:?}");
    // The read's folder (its spilled keys) goes with it.
    let mut left = usize::MAX;
    for _ in 0..100 {
        left = std::fs::read_dir(app.spill_dir.path()).map(|d| d.count()).unwrap_or(0);
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "the read's spill folder is removed");
}

/// A Parquet file of several row groups is split by them (`GATEWAY_ROW_SPLIT_MB` of compressed
/// bytes at least per split): each split reads its row groups only, its rows numbered as in the
/// file, and together they serve the rows of one read of the file. A split naming row groups
/// the file no longer has is refused with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parquet_file_is_split_by_its_row_groups() {
    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    use std::sync::Arc;
    let Some(peer) = S3Peer::get() else { return };
    let Some(test_db) = TestDb::create(Db::Sqlite) else { return };
    let limits = gateway_service::LimitSettings { row_split_mb: 1, ..Default::default() };
    let app = app_on(&peer, test_db, Some(limits)).await;
    // Ten row groups of 10,000 rows, about 0.55 MiB each of text that does not compress.
    let mut file = Vec::new();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(10_000))
        .set_dictionary_enabled(false)
        .build();
    let noise = |i: u64| {
        format!("{:016x}{:016x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15), i.wrapping_mul(0xc2b2_ae3d_27d4_eb4f))
    };
    let rows: Vec<u64> = (0..100_000).collect();
    let batch = RecordBatch::try_from_iter([
        ("uid", Arc::new(StringArray::from_iter_values(rows.iter().map(|i| format!("u{i}")))) as ArrayRef),
        ("sku", Arc::new(StringArray::from_iter_values(rows.iter().map(|i| format!("i{}", i % 7))))),
        (
            "score",
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|i| if *i == 40_000 { "x".to_owned() } else { (i % 5).to_string() }),
            )),
        ),
        ("note", Arc::new(StringArray::from_iter_values(rows.iter().map(|i| noise(*i))))),
    ])
    .unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut file, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let path = format!("{}/events.parquet", prefix("parquet-splits"));
    peer.operator().write(&path, file).await.unwrap();
    let table = "/connections/S3/tables/events/";
    let body = json!({"resource": "rating", "connection_table_params": {"path": path},
                      "resource_params": {"columns_mapping": {"user_id": "uid", "item_id": "sku", "rating": "score"}}});
    assert_eq!(app.api("acme", "manager").patch(table, body).await.status, 200);
    let backend = app.api("acme", "backend");
    let splits = backend.get(&format!("{table}rows/splits/")).await;
    assert_eq!(splits.status, 200, "{:?}", splits.body);
    let splits = splits.body["splits"].as_array().unwrap().clone();
    // 1 MiB at least each: two row groups a split.
    assert_eq!(splits.len(), 5, "{splits:?}");
    assert!(splits.iter().all(|s| s["file"] == path.as_str() && s["bytes"].as_u64().unwrap() > 500_000), "{splits:?}");
    let read = |query: String| {
        let backend = backend.clone();
        async move {
            let (status, _, body) = backend.get_raw(&format!("{table}rows/?format=csv&{query}"), None).await;
            assert_eq!(status, 200, "{query}");
            String::from_utf8(body.unwrap().to_vec())
                .unwrap()
                .lines()
                .skip(1)
                .map(str::to_owned)
                .collect::<Vec<String>>()
        }
    };
    let all = read(String::new()).await;
    assert_eq!(all.len(), 99_999, "the row with no number left out");
    let mut by_split = Vec::new();
    let mut sizes = Vec::new();
    for s in &splits {
        let part = read(format!("split={}", s["split"].as_str().unwrap())).await;
        sizes.push(part.len());
        by_split.extend(part);
    }
    assert_eq!(sizes, [20_000, 20_000, 19_999, 20_000, 20_000], "each split reads its row groups only");
    assert_eq!(by_split, all, "the splits together are the rows of a read of all");
    // Under invalid=fail the row (the third split's first) is named by its number in the
    // file, whichever split reads it.
    let third = splits[2]["split"].as_str().unwrap();
    let (status, _, body) = backend.get_raw(&format!("{table}rows/?invalid=fail&split={third}"), None).await;
    let body: Value = serde_json::from_slice(&body.unwrap()).unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("data row 40001"), "{body}");
    // Row groups the file does not have: the token names them, the read refuses them.
    let hex = third.split('.').next().unwrap();
    let r = backend.get(&format!("{table}rows/?split={hex}.8.12")).await;
    assert_eq!((r.status, r.error_name()), (400, "WRONG_DATA_TYPE"), "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("has 10 row groups"), "{:?}", r.body);
    let r = backend.get(&format!("{table}rows/?split={hex}.3")).await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
}

/// The rows a BigQuery table serves are what BigQuery itself computes from the same table by
/// the mapping's rules: the emulator runs the rules as SQL (blank text as null, the rating
/// cast to a float, epoch integers by magnitude to seconds) and each served row is held to its
/// answer, matched by a column of row numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bigquery_rows_are_what_the_warehouse_computes_from_the_same_table() {
    let Some(peer) = gateway_testkit::BqPeer::get() else { return };
    let dataset = format!("rows_sql_{}", std::process::id());
    let users = ["u1", " u2 ", "", " ", "user with spaces", "ü", "u1"];
    let ratings = ["3", " 4.5 ", "abc", "", "-2", "0.1", "1e3", "7"];
    let stamps = [1_700_000_000i64, 1_700_000_000_123, 1_700_000_000_123_456, -86_400, 0, 99_999_999_999];
    let rows: Vec<Value> = (0..300usize)
        .map(|n| {
            json!({"json": {"n": n as i64, "user_id": users[n % users.len()], "item_id": format!("i{}", n % 11),
                             "rating": ratings[n % ratings.len()], "ts": stamps[n % stamps.len()]}})
        })
        .collect();
    let fields = json!([{"name": "n", "type": "INTEGER"}, {"name": "user_id", "type": "STRING"},
                        {"name": "item_id", "type": "STRING"}, {"name": "rating", "type": "STRING"},
                        {"name": "ts", "type": "INTEGER"}]);
    peer.table_with(&dataset, "ratings", fields, rows).await;
    let (app, _token, table) = bigquery_ratings(&peer, &dataset).await;
    let (status, _, body) = app.api("acme", "backend").get_raw(&format!("{table}rows/?invalid=include"), None).await;
    assert_eq!(status, 200);
    let served: Vec<Value> =
        String::from_utf8(body.unwrap().to_vec()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(served.len(), 300);

    // The rules, as BigQuery SQL.
    let sql = format!(
        "SELECT n, CASE WHEN TRIM(user_id) = '' THEN NULL ELSE user_id END AS user_id, \
         CASE WHEN TRIM(item_id) = '' THEN NULL ELSE item_id END AS item_id, \
         SAFE_CAST(TRIM(rating) AS FLOAT64) AS rating, \
         CASE WHEN ABS(ts) < 100000000000 THEN ts \
              WHEN ABS(ts) < 100000000000000 THEN DIV(ts, 1000) \
              WHEN ABS(ts) < 100000000000000000 THEN DIV(ts, 1000000) \
              ELSE DIV(ts, 1000000000) END AS ts \
         FROM {dataset}.ratings"
    );
    let answer = peer.call(reqwest::Method::POST, "/queries", json!({"query": sql, "useLegacySql": false})).await;
    let expected: std::collections::HashMap<String, Vec<Value>> = answer["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let cells: Vec<Value> = r["f"].as_array().unwrap().iter().map(|c| c["v"].clone()).collect();
            (cells[0].as_str().unwrap().to_owned(), cells)
        })
        .collect();
    assert_eq!(expected.len(), 300, "{answer}");
    let number = |v: &Value| v.as_str().and_then(|s| s.parse::<f64>().ok());
    for row in &served {
        let n = row["n"].as_str().unwrap();
        let want = &expected[n];
        assert_eq!(row["user_id"], want[1], "row {n}: user_id");
        assert_eq!(row["item_id"], want[2], "row {n}: item_id");
        assert_eq!(row["rating"].as_f64(), number(&want[3]), "row {n}: rating");
        assert_eq!(row["timestamp"].as_i64().map(|t| t as f64), number(&want[4]), "row {n}: timestamp");
        // What the rules flag is what the warehouse could not compute.
        let error = row["_error"].as_str().unwrap_or("");
        assert_eq!(error.contains("missing user_id"), want[1].is_null(), "row {n}: {error}");
        assert_eq!(
            error.contains("type rating"),
            want[3].is_null() && !ratings[n.parse::<usize>().unwrap() % ratings.len()].trim().is_empty(),
            "row {n}: {error}"
        );
    }
}

//! LOCAL tables: PATCH gives a signed, expiring upload URL; the file streams into the
//! platform's storage without being held in memory; the table is then previewed and becomes
//! `available`, or `wrong_specification` with the reason.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gateway_testkit::TestApp;
use serde_json::json;

/// A gateway with the binary's connectors; its LOCAL storage is a folder of the test's own.
async fn spawn() -> (TestApp, std::path::PathBuf) {
    let app = TestApp::builder().spawn().await.unwrap();
    let dir = app.local_dir.as_ref().unwrap().path().to_owned();
    (app, dir)
}

async fn put_file(url: &str, body: reqwest::Body) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new().put(url).body(body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

const RATINGS: &str =
    "user_id,item_id,rating,timestamp\nu1,i1,4.5,2024-05-01T10:00:00Z\nu2,i2,3,2024-05-02T10:00:00Z\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_then_available() {
    let (app, dir) = spawn().await;
    let api = app.api("acme", "manager");
    let path = "/connections/LOCAL/tables/ratings.csv/";
    let r = api.patch(path, json!({"resource": "rating", "connection_table_params": {"file_format": "CSV", "url": "https://evil.example/x"}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "uploading");
    let url = r.body["connection_table_params"]["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{}/uploads/", app.address)), "the gateway's own URL, not the client's: {url}");

    // Before the file arrives a test says so, and the table stays uploading.
    let r = api.get(&format!("{path}test/")).await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"));
    assert!(r.body["message"].as_str().unwrap().contains("has not been uploaded yet"));
    assert_eq!(api.get(path).await.body["status"], "uploading");

    let (status, body) = put_file(&url, RATINGS.into()).await;
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(body["status"], "available");
    assert_eq!(
        body["resource_params"]["columns_mapping"],
        json!({"user_id": "user_id", "item_id": "item_id", "rating": "rating", "timestamp": "timestamp"})
    );
    assert_eq!(body["warnings"][0], format!("uploaded {} bytes", RATINGS.len()), "{body:?}");
    assert_eq!(body["sample"]["rows"][1]["rating"], "3");
    assert_eq!(api.get(path).await.body["status"], "available");
    assert!(dir.join("acme/ratings.csv").exists(), "stored under the organization");

    // An upload cut off midway leaves the stored file whole: uploads go to a temporary name
    // and replace the file only when complete.
    let before = std::fs::read(dir.join("acme/ratings.csv")).unwrap();
    let chunks: Vec<Result<&'static [u8], std::io::Error>> =
        vec![Ok(b"user_id,item_id,rating\nu9,i9,1\n"), Err(std::io::Error::other("the client went away"))];
    let cut = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let _ = reqwest::Client::new().put(&url).body(cut).send().await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(std::fs::read(dir.join("acme/ratings.csv")).unwrap(), before, "the previous file is intact");
    assert_eq!(api.get(path).await.body["status"], "available");
    let leftovers = std::fs::read_dir(dir.join(".uploading/acme")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "the temporary upload was removed");

    // PATCH keeps a URL that is still good.
    let r = api.patch(path, json!({"connection_table_metadata": {"description": "d"}})).await;
    assert_eq!(r.body["connection_table_params"]["url"], url);

    // The token is a credential: a GET of the URL answers 405 without quoting it, and a
    // doubled slash (which the router merges) is served and logged redacted (make test's
    // check-trace-logs greps every log for the token).
    let token = url.rsplit("/uploads/").next().unwrap().to_owned();
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 405);
    assert!(!r.text().await.unwrap().contains(&token), "the 405 quotes no token");
    let (status, body) = put_file(&url.replace("/uploads/", "//uploads/"), RATINGS.into()).await;
    assert_eq!(status, 200, "{body:?}");

    // A file that is not what the table says: wrong_specification, with the reason.
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let (status, body) = put_file(&url, garbage.into()).await;
    assert_eq!((status, body["error_name"].as_str()), (400, Some("WRONG_DATA_TYPE")), "{body:?}");
    assert_eq!(body["error_data"]["status"], "wrong_specification");
    assert_eq!(api.get(path).await.body["status"], "wrong_specification");

    // Forged, or for a table since deleted.
    let (status, _) = put_file(&format!("{}/uploads/not-a-token", app.address), RATINGS.into()).await;
    assert_eq!(status, 401);
    let other =
        app.api("globex", "root").patch("/connections/LOCAL/tables/ratings.csv/", json!({"resource": "rating"})).await;
    let other_url = other.body["connection_table_params"]["url"].as_str().unwrap().to_owned();
    assert_ne!(other_url, url, "bound to the organization");
    api.delete(path).await;
    let (status, body) = put_file(&url, RATINGS.into()).await;
    assert_eq!((status, body["error_name"].as_str()), (404, Some("TABLE_NOT_FOUND")));
    // Created again: the old URL does not write the new table's file; the new one does.
    let again = api.patch(path, json!({"resource": "rating"})).await;
    let new_url = again.body["connection_table_params"]["url"].as_str().unwrap().to_owned();
    assert_ne!(new_url, url, "a table created again gets a URL of its own");
    let (status, body) = put_file(&url, RATINGS.into()).await;
    assert_eq!((status, body["error_name"].as_str()), (401, Some("UNAUTHORIZED")), "{body:?}");
    assert_eq!(api.get(path).await.body["status"], "uploading", "nothing was written");
    let (status, _) = put_file(&new_url, RATINGS.into()).await;
    assert_eq!(status, 200);

    // Names that would climb out of the storage prefix.
    // (`..` and `.` are refused by the static check; clients resolve them before sending.)
}

/// An upload URL for a new LOCAL table of `org`.
async fn upload_url(app: &TestApp, org: &str, name: &str) -> String {
    let r = app
        .api(org, "manager")
        .patch(&format!("/connections/LOCAL/tables/{name}/"), json!({"resource": "rating"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["connection_table_params"]["url"].as_str().unwrap().to_owned()
}

/// LOCAL folders are one per organization: `x-612e62` (which an older gateway mapped to the
/// folder of `a.b`) never reads `a.b`'s file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organizations_never_share_a_folder() {
    let (app, _dir) = spawn().await;
    let url = upload_url(&app, "a.b", "customers.csv").await;
    assert_eq!(put_file(&url, RATINGS.into()).await.0, 200);
    upload_url(&app, "x-612e62", "customers.csv").await;
    let r = app.api("x-612e62", "manager").get("/connections/LOCAL/tables/customers.csv/test/").await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
}

/// A deleted LOCAL table takes its file: created again, it waits for a file of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_created_again_never_sees_the_deleted_ones_file() {
    let (app, dir) = spawn().await;
    let api = app.api("acme", "manager");
    let url = upload_url(&app, "acme", "u.csv").await;
    assert_eq!(put_file(&url, RATINGS.into()).await.0, 200);
    assert_eq!(api.delete("/connections/LOCAL/tables/u.csv/").await.status, 204);
    assert!(!dir.join("acme/u.csv").exists(), "the file went with the table");
    upload_url(&app, "acme", "u.csv").await;
    let r = api.get("/connections/LOCAL/tables/u.csv/test/").await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
    assert_eq!(api.get("/connections/LOCAL/tables/u.csv/").await.body["status"], "uploading");
    // A file an older gateway left behind (older than the table) is not the new table's.
    std::fs::write(dir.join("acme/u.csv"), RATINGS).unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options().write(true).open(dir.join("acme/u.csv")).unwrap().set_modified(old).unwrap();
    let r = api.get("/connections/LOCAL/tables/u.csv/test/").await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
}

/// A client that resets the connection mid-upload leaves no temporary object behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_by_a_reset_leaves_nothing_behind() {
    use tokio::io::AsyncWriteExt;
    let (app, dir) = spawn().await;
    let url = upload_url(&app, "acme", "big.csv").await;
    let path = url.trim_start_matches(&app.address).to_owned();
    let mut s = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
    let head = format!("PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(b"user_id,item_id,rating\n").await.unwrap();
    let chunk = vec![b'1'; 1 << 20];
    for _ in 0..4 {
        s.write_all(&chunk).await.unwrap();
    }
    let temp = dir.join(".uploading/acme");
    for _ in 0..100 {
        if std::fs::read_dir(&temp).is_ok_and(|d| d.count() > 0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(std::fs::read_dir(&temp).is_ok_and(|d| d.count() > 0), "the upload was being written");
    s.set_zero_linger().unwrap();
    drop(s);
    let mut left = usize::MAX;
    for _ in 0..200 {
        left = std::fs::read_dir(&temp).map(|d| d.count()).unwrap_or(0);
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(left, 0, "the temporary object was deleted");
}

/// Every upload is previewed: uploads count against the organization's tests a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_count_against_the_organizations_limits() {
    let limits = gateway_service::LimitSettings { org_tests_per_minute: 2, ..Default::default() };
    let app = TestApp::builder().limits(limits).spawn().await.unwrap();
    let url = upload_url(&app, "acme", "r.csv").await;
    let answers = [
        put_file(&url, RATINGS.into()).await.0,
        put_file(&url, RATINGS.into()).await.0,
        put_file(&url, RATINGS.into()).await.0,
    ];
    assert_eq!(answers, [200, 200, 429]);
    // Another organization is not held to this one's minute.
    let other = upload_url(&app, "globex", "r.csv").await;
    assert_eq!(put_file(&other, RATINGS.into()).await.0, 200);
}

/// `PUT <url>?file=<name>` with `body`.
async fn put_named(url: &str, file: &str, body: &'static str) -> (u16, serde_json::Value) {
    let mut u = reqwest::Url::parse(url).unwrap();
    u.query_pairs_mut().append_pair("file", file);
    put_file(u.as_str(), body.into()).await
}

const PART: &str = "user_id,item_id,rating,timestamp\nu1,i1,4.5,2024-05-01T10:00:00Z\nu2,i2,3,2024-05-02T10:00:00Z\n";
const WIDER: &str = "user_id,item_id,rating,timestamp,extra\nu3,i3,2,2024-05-03T10:00:00Z,x\n";

/// A LOCAL table that is a set: files uploaded by name (Hive partitions included), listed,
/// previewed and validated as one table under the names they were given, deleted one by one
/// or all at once; a table holds one unnamed file or a set, never both.
async fn a_local_set_takes_named_files(db: gateway_testkit::Db) {
    let Some(test_db) = gateway_testkit::TestDb::create(db) else { return };
    let schedule = gateway_service::ScheduleSettings {
        enabled: true,
        tick: std::time::Duration::from_millis(100),
        ..Default::default()
    };
    let app = TestApp::builder().on(test_db).schedule(schedule).spawn().await.unwrap();
    let dir = app.local_dir.as_ref().unwrap().path().to_owned();
    let api = app.api("acme", "manager");
    let table = "/connections/LOCAL/tables/ratings/";
    let files = "/connections/LOCAL/tables/ratings/files/";
    let url = upload_url(&app, "acme", "ratings").await;

    let (status, body) = put_named(&url, "dt=2026-12-01/part-0.csv", PART).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("available")), "{body}");
    assert_eq!(body["sample"]["files"]["count"], 1, "{body}");
    assert_eq!(body["sample"]["files"]["partitions"], json!(["dt"]), "{body}");
    assert_eq!(body["warnings"][0], format!("uploaded {} bytes as 'dt=2026-12-01/part-0.csv'", PART.len()));
    assert_eq!(put_named(&url, "dt=2026-12-02/part-1.csv", PART).await.0, 200);
    let (status, body) = put_named(&url, "dt=2026-12-03/part-2.csv", WIDER).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sample"]["files"]["count"], 3, "{body}");
    assert_eq!(body["sample"]["files"]["newest"]["path"], "dt=2026-12-03/part-2.csv", "named as uploaded: {body}");
    let warnings = body["warnings"].to_string();
    assert!(
        warnings.contains("dt=2026-12-01/part-0.csv has other columns than the newest file: missing extra"),
        "{body}"
    );
    assert!(!warnings.contains(".sets"), "the storage's layout is not shown: {body}");

    // A table that is a set takes named files only; markers and hidden names are refused.
    let (status, body) = put_file(&url, PART.into()).await;
    assert_eq!(
        (status, body["error_name"].as_str(), body["error_data"]["field"].as_str()),
        (400, Some("WRONG_DATA_TYPE"), Some("file")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("is a set of named files"), "{body}");
    for bad in ["_SUCCESS", ".hidden", "a/../b", ""] {
        let (status, body) = put_named(&url, bad, PART).await;
        assert_eq!((status, body["error_data"]["field"].as_str()), (400, Some("file")), "{bad:?}: {body}");
    }

    // Listed by name, paged.
    let r = api.get(&format!("{files}?amt=2")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!((r.body["count"].as_u64(), r.body["has_next"].as_bool()), (Some(3), Some(true)), "{:?}", r.body);
    let names: Vec<&str> = r.body["files"].as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap()).collect();
    assert_eq!(names, ["dt=2026-12-01/part-0.csv", "dt=2026-12-02/part-1.csv"]);
    assert_eq!(r.body["bytes"].as_u64(), Some((2 * PART.len() + WIDER.len()) as u64));
    assert_eq!(api.get(&format!("{files}?page=2&amt=2")).await.body["files"][0]["file"], "dt=2026-12-03/part-2.csv");

    // Validated whole: every file, by the name it was uploaded under.
    let started = api.post(&format!("{table}validations/"), json!({})).await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    let location = format!("{table}validations/{}/", started.body["id"].as_str().unwrap());
    let done = loop {
        let r = api.get(&location).await;
        if ["succeeded", "failed"].contains(&r.body["state"].as_str().unwrap_or("")) {
            break r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(done["state"], "succeeded", "{done}");
    let per_file: Vec<(String, u64)> = done["report"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["file"].as_str().unwrap().to_owned(), f["rows"].as_u64().unwrap()))
        .collect();
    let expected = [("dt=2026-12-01/part-0.csv", 2), ("dt=2026-12-02/part-1.csv", 2), ("dt=2026-12-03/part-2.csv", 1)];
    assert_eq!(per_file, expected.map(|(f, n)| (f.to_owned(), n)), "{done}");

    // Read through the gateway: every file's rows, each with its partition; the two identical
    // parts' keys, met again in the second, named duplicates.
    let (status, _, body) = app.api("acme", "backend").get_raw(&format!("{table}rows/?invalid=include"), None).await;
    assert_eq!(status, 200);
    let rows: Vec<serde_json::Value> =
        String::from_utf8(body.unwrap().to_vec()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let got: Vec<(&str, &str, &serde_json::Value)> =
        rows.iter().map(|r| (r["user_id"].as_str().unwrap(), r["dt"].as_str().unwrap(), &r["_error"])).collect();
    let dup = json!("duplicate user_id+item_id");
    let null = serde_json::Value::Null;
    assert_eq!(
        got,
        [
            ("u1", "2026-12-01", &null),
            ("u2", "2026-12-01", &null),
            ("u1", "2026-12-02", &dup),
            ("u2", "2026-12-02", &dup),
            ("u3", "2026-12-03", &null)
        ],
        "{rows:?}"
    );

    // Deleted one by one: the table is tested again on what remains.
    let r = api.delete(&format!("{files}?file=dt=2026-12-03/part-2.csv")).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(api.get(files).await.body["count"], 2);
    let r = api.delete(&format!("{files}?file=dt=2026-12-03/part-2.csv")).await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
    let r = api.delete(files).await;
    assert_eq!((r.status, r.field()), (400, "file"), "neither file nor all: nothing deleted: {:?}", r.body);
    assert_eq!(api.get(files).await.body["count"], 2);

    // Emptied: back to uploading; then one unnamed file, which a named one may not join.
    assert_eq!(api.delete(&format!("{files}?all=true")).await.status, 204);
    let r = api.get(table).await;
    assert_eq!(r.body["status"], "uploading", "{:?}", r.body);
    assert_eq!(api.get(files).await.body["count"], 0);
    let (status, body) = put_file(&url, PART.into()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("available")), "{body}");
    let r = api.get(files).await;
    assert_eq!(
        (r.body["count"].as_u64(), &r.body["files"][0]["file"]),
        (Some(1), &serde_json::Value::Null),
        "{:?}",
        r.body
    );
    let (status, body) = put_named(&url, "part-9.csv", PART).await;
    assert_eq!((status, body["error_data"]["field"].as_str()), (400, Some("file")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("holds one file uploaded without a name"), "{body}");

    // Another organization sees none of it; other kinds hold no uploaded files.
    let r = app.api("evil", "manager").get(files).await;
    assert_eq!((r.status, r.error_name()), (404, "TABLE_NOT_FOUND"));
    let r = api.get("/connections/S3/tables/ratings/files/").await;
    assert_eq!((r.status, r.field()), (400, "connection"), "{:?}", r.body);

    // A deleted table takes its set along.
    assert_eq!(api.delete(&format!("{files}?all=true")).await.status, 204);
    assert_eq!(put_named(&url, "part-0.csv", PART).await.0, 200);
    assert!(dir.join(".sets/acme/ratings/part-0.csv").exists());
    assert_eq!(api.delete(table).await.status, 204);
    assert!(!dir.join(".sets/acme/ratings").exists(), "the set's folder is deleted with the table");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_local_set_takes_named_files() {
    a_local_set_takes_named_files(gateway_testkit::Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_local_set_takes_named_files() {
    a_local_set_takes_named_files(gateway_testkit::Db::Postgres).await;
}

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

//! PostgreSQL stopped under a running gateway: data endpoints and /readyz answer 503 within
//! 3 s while /healthz stays 200; once it is back, requests succeed without a restart. Runs
//! against a private PostgreSQL the test starts and stops, never the machine's shared one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use gateway_testkit::{Db, PrivatePostgres, TestApp, TestDb};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_answers_503_and_recovers() {
    let Some(pg) = PrivatePostgres::start() else { return };
    let db = TestDb::external(pg.url(), Db::Postgres);
    let app = TestApp::builder().on(db).scripted().spawn().await.expect("a gateway");
    let api = app.api("acme", "root");
    let shop = json!({"domain": "d", "client_id": "c", "client_secret": "scripted-secret"});
    let r = api
        .put(
            "/connections/S3/",
            json!({"credentials": {"aws_access_key_id": "AKIAOUTAGE", "aws_secret_access_key": "s"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    pg.stop();
    for path in ["/connections/", "/connections/S3/", "/tables/"] {
        let started = Instant::now();
        let r = api.get(path).await;
        let took = started.elapsed();
        assert_eq!((r.status, r.error_name()), (503, "SERVICE_UNAVAILABLE"), "{path}: {:?}", r.body);
        assert!(took < Duration::from_secs(3), "{path} took {took:?}");
        assert_eq!(r.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    }
    let r = api.put("/connections/SHOPIFY/", json!({"credentials": shop})).await;
    assert_eq!(r.status, 503);
    // Under load: 200 requests at once all answer 503 (no 500, no hang) within the pool's
    // timeout, queued behind it a few at a time.
    let started = Instant::now();
    let load = (0..200).map(|i| {
        let api = api.clone();
        async move { api.get(&format!("/connections/LOCAL/tables/t{i}/")).await.status }
    });
    let statuses = futures_util::future::join_all(load).await;
    assert!(statuses.iter().all(|s| *s == 503), "{statuses:?}");
    assert!(started.elapsed() < Duration::from_secs(30), "the load took {:?}", started.elapsed());
    let started = Instant::now();
    let r = app.api_with_token(None).get("/readyz").await;
    assert_eq!(r.status, 503);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(app.api_with_token(None).get("/healthz").await.status, 200);

    pg.start_again();
    let r = app.api_with_token(None).get("/readyz").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = api.get("/connections/S3/").await;
    assert_eq!(r.status, 200, "the data survived and the pool reconnected: {:?}", r.body);
    let r = api.put("/connections/SHOPIFY/", json!({"credentials": shop})).await;
    assert_eq!(r.status, 200);
}

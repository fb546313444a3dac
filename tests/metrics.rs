//! Prometheus `/metrics`, scraped after a user's workflow and read with a Prometheus text
//! parser: requests by route template and status, provider calls by kind, step and outcome,
//! bytes previews read, the database pool; and nothing a tenant sent (names, tokens,
//! secrets, odd methods) appears in it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gateway_testkit::TestApp;
use prometheus_parse::{Sample, Scrape, Value};
use serde_json::json;

fn scrape(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("the exposition parses")
}

/// The samples of `name` whose labels include every pair of `labels`.
fn find<'a>(scrape: &'a Scrape, name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect()
}

fn counter(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    find(scrape, name, labels)
        .iter()
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(_) | Value::Summary(_) => panic!("{name} is not a single value"),
        })
        .sum()
}

/// How many observations a histogram holds (its `_count` series).
fn histogram_count(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> u64 {
    counter(scrape, &format!("{name}_count"), labels) as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_users_did_and_say_nothing_they_sent() {
    let app = TestApp::builder().scripted().spawn().await.unwrap();
    let api = app.api("acme", "manager");

    // A credential test that passes and one that fails authentication (the scripted provider).
    let good = json!({"domain": "acme", "client_id": "c", "client_secret": "client-secret-1"});
    assert_eq!(api.put("/connections/SHOPIFY/", json!({"credentials": good})).await.status, 200);
    assert_eq!(api.post("/connections/SHOPIFY/test/", json!({})).await.status, 200);
    let bad = json!({"credentials": {"domain": "acme", "client_id": "c", "client_secret": "wrong-secret"}});
    let r = api.post("/connections/SHOPIFY/test/", bad).await;
    assert_eq!(r.body["error_data"]["reason"], "wrong_credentials", "{:?}", r.body);

    // Preview a table, save it, read it.
    let path = "/connections/SHOPIFY/tables/tenant-secret-name/";
    assert_eq!(api.post(&format!("{path}test/"), json!({"resource": "item"})).await.status, 200);
    assert_eq!(api.patch(path, json!({"resource": "item"})).await.status, 200);
    assert_eq!(api.get(path).await.status, 200);
    assert_eq!(api.get("/connections/SHOPIFY/tables/never-made/").await.status, 404);

    // A LOCAL file uploaded and previewed: bytes read.
    let local = api.patch("/connections/LOCAL/tables/ratings.csv/", json!({"resource": "rating"})).await;
    let url = local.body["connection_table_params"]["url"].as_str().unwrap().to_owned();
    let token = url.rsplit("/uploads/").next().unwrap().to_owned();
    let file = "user_id,item_id,rating\nu1,i1,4\nu2,i1,5\n";
    let up = reqwest::Client::new().put(&url).body(file).send().await.unwrap();
    assert_eq!(up.status(), 200);

    // Paths and methods no route knows.
    assert_eq!(api.get("/no/such/route/tenant-secret-path").await.status, 404);
    let odd = reqwest::Method::from_bytes(b"TENANTMETHOD").unwrap();
    assert_eq!(api.send(odd, "/connections/", None).await.status, 405);

    let res = reqwest::get(format!("{}/metrics", app.address)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    for leaked in
        ["tenant-secret-name", "tenant-secret-path", "client-secret-1", "wrong-secret", "acme", "TENANTMETHOD", &token]
    {
        assert!(!text.contains(leaked), "/metrics shows '{leaked}'");
    }
    let m = scrape(&text);

    // The version calendar: days left of each pinned provider API version (Klaviyo's revision
    // retires two years after release, so it is at least a year away).
    let days = find(&m, "gateway_provider_api_version_days_left", &[("kind", "KLAVIYO")]);
    assert_eq!(days.len(), 1, "one pinned revision");
    assert!(counter(&m, "gateway_provider_api_version_days_left", &[("kind", "KLAVIYO")]) > 90.0);
    assert!(!find(&m, "gateway_provider_api_version_days_left", &[("kind", "SALESFORCE")]).is_empty());

    // Requests by route template and status.
    let req = "gateway_http_request_duration_seconds";
    let table_route = "/connections/:connection/tables/:name";
    assert_eq!(histogram_count(&m, req, &[("method", "GET"), ("route", table_route), ("status", "200")]), 1);
    assert_eq!(histogram_count(&m, req, &[("method", "GET"), ("route", table_route), ("status", "404")]), 1);
    assert_eq!(histogram_count(&m, req, &[("method", "PATCH"), ("route", table_route), ("status", "200")]), 2);
    assert_eq!(histogram_count(&m, req, &[("method", "PUT"), ("route", "/uploads/:token"), ("status", "200")]), 1);
    assert_eq!(histogram_count(&m, req, &[("route", "<unmatched>"), ("status", "404")]), 1);
    assert_eq!(histogram_count(&m, req, &[("method", "OTHER"), ("status", "405")]), 1);

    // Provider calls by kind, step and outcome, with their latency.
    let calls = "gateway_provider_calls_total";
    let ok = [("kind", "SHOPIFY"), ("step", "test_credentials"), ("outcome", "ok")];
    assert_eq!(counter(&m, calls, &ok), 1.0);
    let refused = [("kind", "SHOPIFY"), ("step", "test_credentials"), ("outcome", "wrong_credentials")];
    assert_eq!(counter(&m, calls, &refused), 1.0);
    assert_eq!(counter(&m, calls, &[("kind", "SHOPIFY"), ("step", "inspect_table"), ("outcome", "ok")]), 1.0);
    assert_eq!(counter(&m, calls, &[("kind", "LOCAL"), ("step", "inspect_table"), ("outcome", "ok")]), 1.0);
    let latency = "gateway_provider_call_duration_seconds";
    assert_eq!(histogram_count(&m, latency, &[("kind", "SHOPIFY"), ("step", "test_credentials")]), 2);

    // Bytes the LOCAL preview read: the whole small file.
    let bytes = counter(&m, "gateway_preview_bytes_read_total", &[("kind", "LOCAL")]);
    assert_eq!(bytes, file.len() as f64);

    // The pool: its size, and nothing held or awaited between requests.
    assert!(counter(&m, "gateway_db_pool_max_connections", &[]) >= 1.0);
    assert_eq!(counter(&m, "gateway_db_pool_in_use_connections", &[]), 0.0);
    assert_eq!(counter(&m, "gateway_db_pool_waiting", &[]), 0.0);
}

//! BigQuery against bqemulator (which accepts any token and refuses nothing), behind a local
//! server that answers what the emulator cannot: BigQuery's documented 403 `accessDenied`
//! (<https://cloud.google.com/bigquery/docs/error-messages>) and `tables.testIamPermissions`
//! (<https://cloud.google.com/bigquery/docs/reference/rest/v2/tables/testIamPermissions>). The
//! key exchange meets the local token endpoint that verifies each RS256 assertion.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gateway_testkit::{BqPeer, MockProvider, Reply, TestApp, TestKey, TokenServer};
use reqwest::Method;
use serde_json::{Value, json};

const SA: &str = "warehouse@gateway-tests.iam.gserviceaccount.com";

fn table(name: &str) -> String {
    format!("/connections/BIGQUERY/tables/{name}/")
}

async fn seed(peer: &BqPeer, dataset: &str) {
    peer.call(
        Method::POST,
        "/datasets",
        json!({"datasetReference": {"projectId": peer.project, "datasetId": dataset}}),
    )
    .await;
    let schema = json!({"fields": [
        {"name": "user_id", "type": "STRING", "mode": "REQUIRED"}, {"name": "item_id", "type": "STRING"}, {"name": "rating", "type": "FLOAT"},
        {"name": "ts", "type": "TIMESTAMP"}, {"name": "tags", "type": "STRING", "mode": "REPEATED"},
        {"name": "customer", "type": "RECORD", "fields": [{"name": "age", "type": "INTEGER"}, {"name": "city", "type": "STRING"}]}]});
    let tables = format!("/datasets/{dataset}/tables");
    for t in ["ratings", "reco_out", "locked_out", "locked_in"] {
        peer.call(Method::POST, &tables, json!({"tableReference": {"projectId": peer.project, "datasetId": dataset, "tableId": t}, "schema": schema})).await;
    }
    peer.call(Method::POST, &format!("{tables}/ratings/insertAll"), json!({"rows": [
        {"json": {"user_id": "u1", "item_id": "i1", "rating": 4.5, "ts": "2024-05-01T10:00:00Z", "tags": ["a", "b"], "customer": {"age": 31, "city": "Paris"}}},
        {"json": {"user_id": "u2", "item_id": "i2", "rating": 3, "ts": "2024-05-02T10:00:00Z", "tags": [], "customer": {"age": 40, "city": "Lyon"}}}]})).await;
    let view = format!("SELECT user_id, rating FROM `{}.{dataset}.ratings` WHERE rating > 4", peer.project);
    peer.call(Method::POST, &tables, json!({"tableReference": {"projectId": peer.project, "datasetId": dataset, "tableId": "top_ratings"}, "view": {"query": view, "useLegacySql": false}})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bigquery_keys_tables_views_and_destinations() {
    let Some(peer) = BqPeer::get() else { return };
    let dataset = format!("shop_{}", std::process::id());
    seed(&peer, &dataset).await;
    let key = TestKey::generate();
    let token = TokenServer::start(&key, SA);
    let front = MockProvider::front(&peer.endpoint, |r| {
        // A project the key may not run jobs in, a table it may not read: BigQuery's
        // documented 403 accessDenied, naming the permission.
        let denied = |message: String| {
            Some(Reply::json(
                403,
                json!({"error": {"code": 403, "message": message,
                "errors": [{"message": message, "domain": "global", "reason": "accessDenied"}], "status": "PERMISSION_DENIED"}}),
            ))
        };
        if r.path.contains("/projects/gw-denied/") {
            return denied(
                "Access Denied: Project gw-denied: User does not have bigquery.jobs.create permission in project gw-denied."
                    .into(),
            );
        }
        let body = String::from_utf8_lossy(&r.body);
        if r.path.ends_with("/queries") && body.contains("locked_in") {
            return denied(
                "Access Denied: Table p:d.locked_in: User does not have permission to query table p:d.locked_in, or perhaps it does not exist."
                    .into(),
            );
        }
        // An external table (files in Cloud Storage): tables.get answers its schema and type;
        // tabledata.list does not serve it; a query does
        // (<https://cloud.google.com/bigquery/docs/external-tables>).
        if r.path.ends_with("/tables/ext_events") {
            return Some(Reply::json(
                200,
                json!({"kind": "bigquery#table", "type": "EXTERNAL", "tableReference": {"tableId": "ext_events"},
                       "schema": {"fields": [{"name": "user_id", "type": "STRING"}, {"name": "item_id", "type": "STRING"}]},
                       "externalDataConfiguration": {"sourceFormat": "PARQUET", "sourceUris": ["gs://exports/events/*.parquet"]}}),
            ));
        }
        if r.path.ends_with("/tables/ext_events/data") {
            return Some(Reply::json(
                400,
                json!({"error": {"code": 400, "message": "Cannot list a table of type EXTERNAL.", "errors": [{"reason": "invalid"}], "status": "INVALID_ARGUMENT"}}),
            ));
        }
        if r.path.ends_with("/queries") && body.contains("ext_events") {
            return Some(Reply::json(
                200,
                json!({"kind": "bigquery#queryResponse", "jobComplete": true, "totalRows": "1",
                       "schema": {"fields": [{"name": "user_id", "type": "STRING"}, {"name": "item_id", "type": "STRING"}]},
                       "rows": [{"f": [{"v": "u9"}, {"v": "i9"}]}]}),
            ));
        }
        if r.path.ends_with(":testIamPermissions") {
            let granted: Vec<Value> =
                if r.path.contains("locked_out") { vec![] } else { vec![json!("bigquery.tables.updateData")] };
            return Some(Reply::json(200, json!({"permissions": granted})));
        }
        if r.header("authorization") != Some("Bearer ya29.test-token") {
            return Some(Reply::json(
                401,
                json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}),
            ));
        }
        None
    });
    let app = TestApp::builder()
        .allow_private()
        .provider_url("BIGQUERY", &front.url)
        .provider_url("GOOGLE_OAUTH", &token.url)
        .spawn()
        .await
        .unwrap();
    let api = app.api("acme", "manager");
    let creds = |k: &TestKey, project: &str| {
        let mut c = k.key_file(SA);
        c["project_id"] = json!(project);
        c["token_uri"] = json!("http://127.0.0.1:9/not-google");
        c
    };

    let r = api.post("/connections/BIGQUERY/test/", json!({"credentials": creds(&key, &peer.project)})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["steps"][1]["name"], "run_query_jobs");
    assert_eq!(token.granted(), 1, "the key was exchanged at the pinned endpoint, not its token_uri");
    assert_eq!(token.scopes(), ["https://www.googleapis.com/auth/cloud-platform.read-only"], "a documented read scope");
    let dry: Vec<String> = front
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/queries"))
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert!(!dry.is_empty() && dry.iter().all(|b| b.contains(r#""dryRun":true"#)), "a test runs nothing: {dry:?}");
    // A key the token endpoint did not issue: refused at the exchange.
    let r = api
        .post("/connections/BIGQUERY/test/", json!({"credentials": creds(&TestKey::generate(), &peer.project)}))
        .await;
    assert_eq!(r.body["error_data"]["reason"], "wrong_credentials", "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().starts_with("token_exchange"));
    // A project it may not run jobs in: BigQuery's accessDenied, the role to grant named.
    let r = api.post("/connections/BIGQUERY/test/", json!({"credentials": creds(&key, "gw-denied")})).await;
    assert_eq!(r.body["error_data"]["reason"], "forbidden", "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("roles/bigquery.jobUser"), "{:?}", r.body);
    let mut bad = creds(&key, &peer.project);
    bad["location"] = json!("eu/../x");
    assert_eq!(api.put("/connections/BIGQUERY/", json!({"credentials": bad})).await.field(), "credentials.location");

    assert_eq!(api.put("/connections/BIGQUERY/", json!({"credentials": creds(&key, &peer.project)})).await.status, 200);
    // A table with RECORD, REPEATED and TIMESTAMP columns, named dataset.table.
    let name = format!("{dataset}.ratings");
    let r = api.post(&format!("{}test/", table(&name)), json!({"resource": "rating"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let columns: Vec<&str> =
        r.body["sample"]["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(columns, ["user_id", "item_id", "rating", "ts", "tags", "customer.age", "customer.city"]);
    assert_eq!(r.body["sample"]["columns"][3]["type"], "timestamp");
    assert_eq!(r.body["sample"]["columns"][4]["type"], "json");
    assert_eq!(r.body["sample"]["rows"][0]["ts"], "2024-05-01T10:00:00Z");
    assert_eq!(r.body["sample"]["rows"][0]["customer.age"], 31);
    assert_eq!(r.body["sample"]["rows"][0]["tags"], json!(["a", "b"]));
    assert_eq!(
        r.body["resource_params"]["columns_mapping"],
        json!({"user_id": "user_id", "item_id": "item_id", "rating": "rating"})
    );
    assert!(
        r.body["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("REPEATED columns")),
        "{:?}",
        r.body
    );
    assert_eq!(
        r.body["connection_table_params"],
        json!({"project": peer.project, "dataset": dataset, "table": "ratings"})
    );
    assert_eq!(api.patch(&table(&name), r.body.clone()).await.status, 200);
    assert_eq!(api.get(&format!("{}test/", table(&name))).await.body["status"], "available");
    // The connection's test now reads what its table needs: a dry run of that table.
    let r = api.post("/connections/BIGQUERY/test/", json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["steps"][2]["name"], format!("read_table:{name}"), "{:?}", r.body);
    assert_eq!(api.get("/connections/BIGQUERY/").await.body["status"], "available");
    // A source table the key may not read: its step is forbidden, naming the role; the
    // connection is unverified (the key works, one use does not).
    let locked = format!("{dataset}.locked_in");
    let r = api
        .patch(
            &table(&locked),
            json!({"resource": "item", "resource_params": {"columns_mapping": {"item_id": "item_id"}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = api.post("/connections/BIGQUERY/test/", json!({})).await;
    assert_eq!(r.body["error_data"]["reason"], "forbidden", "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("roles/bigquery.dataViewer"), "{:?}", r.body);
    assert_eq!(api.get("/connections/BIGQUERY/").await.body["status"], "unverified");
    assert_eq!(api.delete(&table(&locked)).await.status, 204);

    // A view: no table data, sampled by a capped query.
    let r = api
        .post(
            &format!("{}test/", table("top")),
            json!({"resource": "user_id", "connection_table_params": {"dataset": dataset, "table": "top_ratings"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["sample"]["rows"][0]["user_id"], "u1");
    assert!(r.body["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("is a view")));

    // An external table: read by a capped query, since tabledata.list does not serve it.
    let r = api
        .post(
            &format!("{}test/", table("ext")),
            json!({"resource": "item", "connection_table_params": {"dataset": dataset, "table": "ext_events"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["sample"]["rows"][0]["item_id"], "i9");
    assert!(r.body["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("external table")));

    // Missing dataset and table, each named.
    let r = api.post(&format!("{}test/", table("nope_ds.ratings")), json!({"resource": "item"})).await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("dataset"), "{:?}", r.body);
    let r = api.post(&format!("{}test/", table(&format!("{dataset}.nope"))), json!({"resource": "item"})).await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("nope"), "{:?}", r.body);

    // Destinations: nothing created; an existing table's write permission tested.
    let before = front.requests().iter().filter(|r| r.method == "POST").count();
    for (t, status) in [("new_recos", 200), ("reco_out", 200), ("locked_out", 400)] {
        let r = api
            .post(&format!("{}test/", table(&format!("{dataset}.{t}"))), json!({"resource": "user_to_items_reco"}))
            .await;
        assert_eq!(r.status, status, "{t}: {:?}", r.body);
        if status == 400 {
            assert_eq!(r.body["error_data"]["reason"], "forbidden");
            assert!(r.body["message"].as_str().unwrap().contains("bigquery.tables.updateData"));
        }
    }
    let posts: Vec<String> =
        front.requests().iter().filter(|r| r.method == "POST").skip(before).map(|r| r.path.clone()).collect();
    assert!(posts.iter().all(|p| p.ends_with(":testIamPermissions")), "no table was created: {posts:?}");
    let r = api.patch(&table("x"), json!({"resource": "item", "connection_table_params": {"dataset": "a-b"}})).await;
    assert_eq!((r.status, r.field()), (400, "connection_table_params.dataset"));
}

/// A BigQuery table whose column is dropped (the table made again without it): the next
/// recorded test keeps the new schema, warns, and the history names the column removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bigquery_column_dropped_is_kept_in_the_schema_history() {
    let Some(peer) = BqPeer::get() else { return };
    let dataset = format!("drift_{}", std::process::id());
    peer.call(
        Method::POST,
        "/datasets",
        json!({"datasetReference": {"projectId": peer.project, "datasetId": dataset}}),
    )
    .await;
    let tables = format!("/datasets/{dataset}/tables");
    let make = |fields: Value| {
        let (peer, tables, dataset) = (peer.clone(), tables.clone(), dataset.clone());
        async move {
            let reference = json!({"projectId": peer.project, "datasetId": dataset, "tableId": "events"});
            peer.call(Method::POST, &tables, json!({"tableReference": reference, "schema": {"fields": fields}})).await;
            let row = json!({"user_id": "u1", "item_id": "i1", "channel": "email"});
            peer.call(Method::POST, &format!("{tables}/events/insertAll"), json!({"rows": [{"json": row}]})).await;
        }
    };
    let user = json!({"name": "user_id", "type": "STRING"});
    let item = json!({"name": "item_id", "type": "STRING"});
    make(json!([user, item, {"name": "channel", "type": "STRING"}])).await;
    let key = TestKey::generate();
    let token = TokenServer::start(&key, SA);
    let app = TestApp::builder()
        .allow_private()
        .provider_url("BIGQUERY", &peer.endpoint)
        .provider_url("GOOGLE_OAUTH", &token.url)
        .spawn()
        .await
        .unwrap();
    let api = app.api("acme", "manager");
    let mut creds = key.key_file(SA);
    creds["project_id"] = json!(peer.project);
    assert_eq!(api.put("/connections/BIGQUERY/", json!({"credentials": creds})).await.status, 200);
    let t = table(&format!("{dataset}.events"));
    assert_eq!(api.patch(&t, json!({"resource": "item"})).await.status, 200);
    let r = api.get(&format!("{t}test/")).await;
    assert_eq!(r.body["status"], "available", "{:?}", r.body);
    assert_eq!(api.get(&format!("{t}schema/")).await.body["current"]["columns"].as_array().map(Vec::len), Some(3));

    peer.call(Method::DELETE, &format!("{tables}/events"), Value::Null).await;
    make(json!([user, item])).await;
    let r = api.get(&format!("{t}test/")).await;
    assert_eq!(r.body["status"], "available", "an unmapped column dropped keeps the status: {:?}", r.body);
    assert!(
        r.body["warnings"].to_string().contains("the columns changed since the last recorded test: removed channel"),
        "{:?}",
        r.body
    );
    let h = api.get(&format!("{t}schema/")).await.body;
    assert_eq!(h["history"][0]["removed"], json!([{"name": "channel", "type": "string"}]), "{h}");
    assert_eq!(h["history"].as_array().map(Vec::len), Some(2), "{h}");
}

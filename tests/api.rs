//! Every endpoint of the contract through HTTP, as a client sees it: success and each error
//! the spec lists, roles, organizations kept apart, the spec's example bodies as written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gateway_blackbox::on_both_backends;
use gateway_testkit::TestApp;
use serde_json::{Value, json};

on_both_backends!(
    health_and_readiness_need_no_token,
    tokens_and_roles,
    connections_lifecycle,
    spec_connection_examples_are_accepted,
    put_connection_rejects_bad_bodies,
    secrets_are_masked_except_for_backend,
    local_and_unknown_connections,
    credential_test_runs_the_connector,
    tables_lifecycle,
    table_names_with_spaces_and_dots_round_trip,
    patch_rejects_bad_tables,
    spec_table_examples_are_accepted,
    local_tables_need_no_connection,
    missing_tables_are_table_not_found,
    deprecated_list_still_answers,
    filter_orders_pages_and_filters,
    deleting_a_connection_with_tables,
    organizations_never_see_each_other,
    preview_merges_infers_and_stores_nothing,
    test_of_a_stored_table_records_its_status,
    malformed_requests_get_clear_errors,
    host_fields_refuse_inside_targets,
);

const SHOP: &str = "/connections/SHOPIFY/";

/// The GET example's S3 credentials, as the contract writes them.
fn spec_s3_credentials() -> Value {
    json!({"aws_access_key_id": "my-user@test.com", "aws_secret_access_key": "PasSW0rD"})
}

fn shop_credentials() -> Value {
    json!({"domain": "fake-domain", "client_id": "fake-client_id", "client_secret": "fake-client_secret"})
}

async fn put_shop(app: &TestApp, org: &str) {
    let r = app.api(org, "root").put(SHOP, json!({"credentials": shop_credentials()})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn health_and_readiness_need_no_token(app: TestApp) {
    let anon = app.api_with_token(None);
    let r = anon.get("/healthz").await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ok")));
    let r = anon.get("/readyz").await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ready")));
    assert!(r.headers.contains_key("x-request-id"));
}

async fn tokens_and_roles(app: TestApp) {
    for role in ["root", "manager", "backend"] {
        let r = app.api("acme", role).get("/connections/").await;
        assert_eq!(r.status, 200, "{role}: {:?}", r.body);
        assert_eq!(r.body, json!({"connections": []}));
    }
    let r = app.api("acme", "guest").get("/connections/").await;
    assert_eq!((r.status, r.error_name()), (403, "FORBIDDEN"));

    let r = app.api_with_token(None).get("/tables/").await;
    assert_eq!((r.status, r.error_name()), (401, "UNAUTHORIZED"));
    assert_eq!(r.headers.get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));

    let expired = gateway_http_token(&app, -5);
    let r = app.api_with_token(Some(expired)).get("/tables/").await;
    assert_eq!((r.status, r.error_name()), (401, "UNAUTHORIZED"));
    assert!(r.body["message"].as_str().unwrap().contains("expired"));

    let r = app.api_with_token(Some("not-a-token".into())).get("/tables/").await;
    assert_eq!((r.status, r.error_name()), (401, "UNAUTHORIZED"));
}

fn gateway_http_token(app: &TestApp, ttl: i64) -> String {
    gateway_http::issue_token(&app.secret, "acme", "root", "tester", ttl).unwrap()
}

async fn connections_lifecycle(app: TestApp) {
    let api = app.api("acme", "backend");
    let r = api.get(SHOP).await;
    assert_eq!((r.status, r.error_name()), (404, "CONNECTION_NOT_FOUND"));

    let r = api.put(SHOP, json!({"credentials": shop_credentials(), "metadata": {"realtime": true}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"connection": "SHOPIFY", "credentials": shop_credentials(), "metadata": {"realtime": true}})
    );

    // Without the trailing slash too.
    let r = api.get("/connections/SHOPIFY").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["credentials"], shop_credentials());

    // PUT replaces: metadata not sent is empty afterwards.
    let mut creds = shop_credentials();
    creds["domain"] = json!("other-domain");
    let r = api.put(SHOP, json!({"credentials": creds})).await;
    assert_eq!((r.status, &r.body["metadata"]), (200, &json!({})));
    assert_eq!(api.get(SHOP).await.body["credentials"]["domain"], "other-domain");

    let r = api.get("/connections/").await;
    assert_eq!(r.body["connections"].as_array().map(Vec::len), Some(1));
    assert_eq!(r.body["connections"][0]["connection"], "SHOPIFY");

    let r = api.delete(SHOP).await;
    assert_eq!((r.status, &r.body), (204, &Value::Null));
    let r = api.delete(SHOP).await;
    assert_eq!((r.status, r.error_name()), (404, "CONNECTION_NOT_FOUND"));
    assert_eq!(api.get("/connections/").await.body, json!({"connections": []}));
}

async fn spec_connection_examples_are_accepted(app: TestApp) {
    let api = app.api("acme", "backend");
    // The PUT example, on the kind whose credentials it shows.
    let r = api
        .put(
            SHOP,
            serde_json::from_str(
                r#"{
      "credentials": {
          "domain": "fake-domain",
          "client_id": "fake-client_id",
          "client_secret": "fake-client_secret"
      }
  }"#,
            )
            .unwrap(),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The GET example's S3 credentials, as written; the connector fills the default region.
    let r = api.put("/connections/S3/", json!({"credentials": spec_s3_credentials()})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = api.get("/connections/S3/").await;
    let mut stored = spec_s3_credentials();
    stored["region"] = json!("us-east-1");
    assert_eq!(r.body, json!({"connection": "S3", "credentials": stored, "metadata": {}}));
}

async fn put_connection_rejects_bad_bodies(app: TestApp) {
    let api = app.api("acme", "root");
    let cases = [
        (json!({}), "credentials"),
        (json!({"credentials": "x"}), "credentials"),
        (json!({"credentials": shop_credentials(), "metadata": []}), "metadata"),
        (json!({"credentials": shop_credentials(), "extra": 1}), "extra"),
        (json!({"credentials": {"domain": "d", "client_id": "c"}}), "credentials.client_secret"),
        (json!({"credentials": {"domain": "d", "client_id": 7, "client_secret": "s"}}), "credentials.client_id"),
        (
            json!({"credentials": {"domain": "d", "client_id": "c", "client_secret": "s", "shop": "x"}}),
            "credentials.shop",
        ),
    ];
    for (body, field) in cases {
        let r = api.put(SHOP, body.clone()).await;
        assert_eq!((r.status, r.error_name(), r.field()), (400, "WRONG_DATA_TYPE", field), "{body}: {:?}", r.body);
        assert!(!r.body["message"].as_str().unwrap_or("").is_empty());
    }
    // Nothing was stored by any of them.
    assert_eq!(api.get(SHOP).await.status, 404);
}

async fn secrets_are_masked_except_for_backend(app: TestApp) {
    put_shop(&app, "acme").await;
    for role in ["root", "manager"] {
        let api = app.api("acme", role);
        let one = api.get(SHOP).await.body;
        assert_eq!(one["credentials"]["client_secret"], "********", "{role}");
        assert_eq!(one["credentials"]["client_id"], "fake-client_id", "{role}");
        let all = api.get("/connections/").await.body;
        assert_eq!(all["connections"][0]["credentials"]["client_secret"], "********", "{role}");
    }
    let backend = app.api("acme", "backend");
    assert_eq!(backend.get(SHOP).await.body["credentials"]["client_secret"], "fake-client_secret");

    // A manager echoing the masked answer back keeps the real secret.
    let manager = app.api("acme", "manager");
    let mut echoed = manager.get(SHOP).await.body;
    echoed["credentials"]["domain"] = json!("renamed");
    let r = manager.put(SHOP, echoed).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let stored = backend.get(SHOP).await.body;
    assert_eq!(stored["credentials"]["client_secret"], "fake-client_secret");
    assert_eq!(stored["credentials"]["domain"], "renamed");

    // The mask with nothing behind it is refused.
    let r = manager
        .put(
            "/connections/SHOPIFY/",
            json!({"credentials": {"domain": "d", "client_id": "c", "client_secret": "********"}}),
        )
        .await;
    assert_eq!(r.status, 200, "a stored secret stands behind the mask");
    backend.delete(SHOP).await;
    let r =
        manager.put(SHOP, json!({"credentials": {"domain": "d", "client_id": "c", "client_secret": "********"}})).await;
    assert_eq!((r.status, r.field()), (400, "credentials.client_secret"));
}

async fn local_and_unknown_connections(app: TestApp) {
    let api = app.api("acme", "root");
    for (method, path) in
        [("GET", "/connections/LOCAL/"), ("DELETE", "/connections/LOCAL/"), ("POST", "/connections/LOCAL/test/")]
    {
        let r = api.send(method.parse().unwrap(), path, Some(b"{}".to_vec())).await;
        assert_eq!((r.status, r.error_name()), (400, "WRONG_DATA_TYPE"), "{method} {path}");
        assert!(r.body["message"].as_str().unwrap().contains("LOCAL is not allowed"));
    }
    let r = api.put("/connections/LOCAL/", json!({"credentials": {}})).await;
    assert_eq!((r.status, r.field()), (400, "connection"));

    let r = api.get("/connections/DROPBOX/").await;
    assert_eq!((r.status, r.error_name(), r.field()), (400, "WRONG_DATA_TYPE", "connection"));
    let allowed = r.body["error_data"]["allowed"].as_array().unwrap();
    assert!(allowed.contains(&json!("M_PARTICLE")) && allowed.contains(&json!("ITERABLE_FEED")));
    // Wire names are exact.
    assert_eq!(api.get("/connections/s3/").await.status, 400);
}

async fn credential_test_runs_the_connector(app: TestApp) {
    let api = app.api("acme", "manager");
    // The spec's example body.
    let r = api.post("/connections/SHOPIFY/test/", json!({"credentials": shop_credentials()})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["steps"][0], json!({"name": "authenticate", "outcome": "passed", "message": "token obtained"}));
    assert_eq!(r.body["steps"].as_array().map(Vec::len), Some(2));

    let mut wrong = shop_credentials();
    wrong["client_secret"] = json!("wrong-secret");
    let r = api.post("/connections/SHOPIFY/test/", json!({"credentials": wrong})).await;
    assert_eq!((r.status, r.error_name()), (400, "WRONG_DATA_TYPE"));
    assert_eq!(r.body["error_data"]["reason"], "wrong_credentials");
    assert_eq!(r.body["error_data"]["steps"][0]["outcome"], "failed");
    assert_eq!(r.body["error_data"]["steps"][1]["outcome"], "skipped");
    assert!(!r.body.to_string().contains("wrong-secret"), "the secret is not echoed");

    let mut no_scope = shop_credentials();
    no_scope["client_id"] = json!("no-scope");
    let r = api.post("/connections/SHOPIFY/test/", json!({"credentials": no_scope})).await;
    assert_eq!((r.status, r.body["error_data"]["reason"].as_str()), (400, Some("forbidden")));

    // Bad credentials are refused before the connector is called.
    let r = api.post("/connections/SHOPIFY/test/", json!({"credentials": {"domain": "d"}})).await;
    assert_eq!((r.status, r.field()), (400, "credentials.client_id"));

    // No body: the stored credentials are tested, or there are none.
    let r = api.post("/connections/SHOPIFY/test/", json!({})).await;
    assert_eq!((r.status, r.error_name()), (404, "CONNECTION_NOT_FOUND"));
    put_shop(&app, "acme").await;
    let r = api.send(reqwest::Method::POST, "/connections/SHOPIFY/test", None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // The credential spec as JSON Schema.
    let r = api.get("/connections/SHOPIFY/spec/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["properties"]["client_secret"]["writeOnly"], true);
}

fn table_path(kind: &str, name: &str) -> String {
    format!("/connections/{kind}/tables/{}/", name.replace(' ', "%20"))
}

async fn tables_lifecycle(app: TestApp) {
    put_shop(&app, "acme").await;
    let api = app.api("acme", "manager");
    let path = table_path("SHOPIFY", "products");
    let r = api.get(&path).await;
    assert_eq!((r.status, r.error_name()), (404, "TABLE_NOT_FOUND"));

    let r = api
        .patch(
            &path,
            json!({"resource": "item", "connection_table_params": {"object": "products"},
                   "connection_table_metadata": {"description": "catalog"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["name"], "products");
    assert_eq!(r.body["connection"], "SHOPIFY");
    assert_eq!(r.body["resource"], "item");
    assert_eq!(r.body["status"], "available");
    assert_eq!(r.body["resource_params"], json!({}));
    let created = r.body["created_timestamp"].as_i64().unwrap();
    assert!(created > 1_700_000_000, "seconds, not millis: {created}");
    assert_eq!(r.body["modified_timestamp"].as_i64(), Some(created));

    // Shallow merge: given top-level fields replace, the rest stays.
    let r = api.patch(&path, json!({"resource_params": {"columns_mapping": {"item_id": "itemId"}}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["connection_table_params"], json!({"object": "products"}));
    assert_eq!(r.body["connection_table_metadata"], json!({"description": "catalog"}));
    assert_eq!(r.body["resource_params"], json!({"columns_mapping": {"item_id": "itemId"}}));
    assert_eq!(r.body["created_timestamp"].as_i64(), Some(created));
    let r = api.patch(&path, json!({"connection_table_metadata": {"owner": "ops"}})).await;
    assert_eq!(
        r.body["connection_table_metadata"],
        json!({"owner": "ops"}),
        "top-level fields replace, not deep-merge"
    );

    // A sent status is kept.
    let r = api.patch(&path, json!({"status": "unknown_error"})).await;
    assert_eq!(r.body["status"], "unknown_error");

    let got = api.get(&path).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["connection_table_metadata"], json!({"owner": "ops"}));
    assert_eq!(api.get(path.trim_end_matches('/')).await.body, got.body);

    assert_eq!(api.delete(&path).await.status, 204);
    let r = api.delete(&path).await;
    assert_eq!((r.status, r.error_name()), (404, "TABLE_NOT_FOUND"));
    assert_eq!(api.get(&path).await.status, 404);
}

async fn table_names_with_spaces_and_dots_round_trip(app: TestApp) {
    let r = app.api("acme", "root").put("/connections/S3/", json!({"credentials": spec_s3_credentials()})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let api = app.api("acme", "root");
    for name in ["table name_test.csv", "ünïcode.名前.parquet", "a.b.c"] {
        let path = table_path("S3", name).replace("ünïcode.名前", "%C3%BCn%C3%AFcode.%E5%90%8D%E5%89%8D");
        let r = api.patch(&path, json!({"resource": "item", "connection_table_params": {"file_format": "CSV"}})).await;
        assert_eq!((r.status, r.body["name"].as_str()), (200, Some(name)), "{name}: {:?}", r.body);
        assert_eq!(api.get(&path).await.body["name"], name);
    }
    let listed = api.get("/tables/?connection=S3").await.body;
    let names: Vec<&str> = listed["tables"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a.b.c", "table name_test.csv", "ünïcode.名前.parquet"]);

    let long = "x".repeat(256);
    let r = api.patch(&table_path("S3", &long), json!({"resource": "item"})).await;
    assert_eq!((r.status, r.field()), (400, "name"));
    let r = api.patch("/connections/S3/tables/tab%09name/", json!({"resource": "item"})).await;
    assert_eq!((r.status, r.field()), (400, "name"));
}

async fn patch_rejects_bad_tables(app: TestApp) {
    put_shop(&app, "acme").await;
    let api = app.api("acme", "root");
    let path = table_path("SHOPIFY", "t");
    let cases = [
        (json!({}), "resource"),
        (json!({"resource": "items"}), "resource"),
        (json!({"resource": "item", "status": "ready"}), "status"),
        (json!({"resource": "item", "resource_params": []}), "resource_params"),
        (json!({"resource": "item", "connection_table_params": "x"}), "connection_table_params"),
        (json!({"resource": "item", "connection_table_metadata": 1}), "connection_table_metadata"),
        (json!({"resource": "item", "colour": "red"}), "colour"),
        (
            json!({"resource": "item", "resource_params": {"columns_mapping": {"item_id": ""}}}),
            "resource_params.columns_mapping.item_id",
        ),
        (
            json!({"resource": "item", "resource_params": {"columns_mapping": {"item_id": 3}}}),
            "resource_params.columns_mapping.item_id",
        ),
        (json!({"resource": "analytics_report"}), "connection_table_metadata.segmentation_id"),
        (
            json!({"resource": "analytics_report", "connection_table_metadata": {"segmentation_id": "s", "start_timestamp": 5, "end_timestamp": 4}}),
            "connection_table_metadata.end_timestamp",
        ),
    ];
    for (body, field) in cases {
        let r = api.patch(&path, body.clone()).await;
        assert_eq!((r.status, r.error_name(), r.field()), (400, "WRONG_DATA_TYPE", field), "{body}: {:?}", r.body);
    }
    let r = api.patch(&path, json!({"resource": "items"})).await;
    assert_eq!(r.body["error_data"]["allowed"].as_array().map(Vec::len), Some(8));
    assert_eq!(api.get(&path).await.status, 404, "nothing half-written");

    // File tables: unknown params and options by name.
    let creds = json!({"aws_access_key_id": "my-user@test.com", "aws_secret_access_key": "PasSW0rD"});
    assert_eq!(api.put("/connections/S3/", json!({"credentials": creds})).await.status, 200);
    let s3 = table_path("S3", "f.csv");
    for (body, field) in [
        (
            json!({"resource": "item", "connection_table_params": {"file_format": "XLS"}}),
            "connection_table_params.file_format",
        ),
        (json!({"resource": "item", "connection_table_params": {"bukket": "b"}}), "connection_table_params.bukket"),
        (
            json!({"resource": "item", "connection_table_params": {"options": {"compression": "rar"}}}),
            "connection_table_params.options.compression",
        ),
        (
            json!({"resource": "item", "connection_table_params": {"options": {"delimiter": ";;"}}}),
            "connection_table_params.options.delimiter",
        ),
    ] {
        let r = api.patch(&s3, body.clone()).await;
        assert_eq!((r.status, r.field()), (400, field), "{body}: {:?}", r.body);
    }

    // A table on a kind with no stored connection.
    let r = api.patch(&table_path("BRAZE", "t"), json!({"resource": "item"})).await;
    assert_eq!((r.status, r.error_name()), (404, "CONNECTION_NOT_FOUND"));
}

async fn spec_table_examples_are_accepted(app: TestApp) {
    let api = app.api("acme", "manager");
    api.put(
        "/connections/S3/",
        json!({"credentials": {"aws_access_key_id": "my-user@test.com", "aws_secret_access_key": "PasSW0rD"}}),
    )
    .await;
    // The PATCH example.
    let r = api
        .patch(
            &table_path("S3", "users.csv.zip"),
            json!({
                "resource": "user",
                "connection_table_params": {"file_format": "CSV", "options": {"compression": "zip"}},
                "resource_params": {"columns_mapping": {"user_id": "test_field_user_id"}},
                "connection_table_metadata": {"description": "list of users properties in a csv file"}
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The analytics_report example (its missing comma restored: the spec's text is not JSON).
    let r = api
        .patch(
            &table_path("S3", "report"),
            json!({
                "resource": "analytics_report",
                "connection_table_params": {"file_format": "dat", "options": {}},
                "resource_params": {"columns_mapping": {}},
                "connection_table_metadata": {
                    "description": "segmentation with ab-test01",
                    "segmentation_id": "segm123",
                    "start_timestamp": 1634000000.01,
                    "end_timestamp": 1635000000.02
                }
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The Get-a-Table example's parameters, and the Filter example's user_id table.
    let r = api
        .patch(
            &table_path("S3", "user_whitelist_test"),
            json!({
                "resource": "user_id",
                "connection_table_params": {"file_format": "PARQUET", "bucket": "s3-bucket-test", "options": {"compression": "zip"}},
                "resource_params": {"columns_mapping": {"user_id": "customerID"}, "whitelist_params": {}},
                "connection_table_metadata": {"description": "List of users imported from AWS S3"}
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = api.get("/tables/?page=1&amt=10&connection=S3&resource=user_id").await;
    assert_eq!(r.body["tables"][0]["name"], "user_whitelist_test");
    assert_eq!(r.body["tables"][0]["resource_params"]["whitelist_params"], json!({}));
}

/// Both table test endpoints answer TABLE_NOT_FOUND for a table that does not exist, whether
/// or not its connection does; a preview that gives `resource` previews a table before it
/// exists.
async fn missing_tables_are_table_not_found(app: TestApp) {
    let api = app.api("acme", "manager");
    for with_connection in [false, true] {
        if with_connection {
            assert_eq!(api.put(SHOP, json!({"credentials": shop_credentials()})).await.status, 200);
        }
        for kind in ["SHOPIFY", "S3", "LOCAL"] {
            let test = format!("{}test/", table_path(kind, "nope"));
            let r = api.get(&test).await;
            assert_eq!(
                (r.status, r.error_name()),
                (404, "TABLE_NOT_FOUND"),
                "GET {kind} {with_connection}: {:?}",
                r.body
            );
            let r = api.post(&test, json!({})).await;
            assert_eq!(
                (r.status, r.error_name()),
                (404, "TABLE_NOT_FOUND"),
                "POST {kind} {with_connection}: {:?}",
                r.body
            );
        }
    }
    let r = api.post(&format!("{}test/", table_path("SHOPIFY", "nope")), json!({"resource": "item"})).await;
    assert_eq!(r.status, 200, "a preview of a table to be: {:?}", r.body);
}

async fn local_tables_need_no_connection(app: TestApp) {
    let api = app.api("acme", "backend");
    let r = api.patch(&table_path("LOCAL", "upload.csv"), json!({"resource": "rating"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["connection"], "LOCAL");
    assert_eq!(r.body["status"], "uploading");
    assert_eq!(api.get(&table_path("LOCAL", "upload.csv")).await.body["status"], "uploading");
    let r = api.get("/tables/?connection=LOCAL").await;
    assert_eq!(r.body["tables"].as_array().map(Vec::len), Some(1));
    // Before its file arrives, a preview says where to send it.
    let r = api.post(&format!("{}test/", table_path("LOCAL", "upload.csv")), json!({})).await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("not been uploaded yet"), "{:?}", r.body);
}

async fn deprecated_list_still_answers(app: TestApp) {
    put_shop(&app, "acme").await;
    let api = app.api("acme", "root");
    for name in ["b", "a"] {
        api.patch(&table_path("SHOPIFY", name), json!({"resource": "user"})).await;
    }
    let r = api.get("/connections/SHOPIFY/tables/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers.get("deprecation").and_then(|v| v.to_str().ok()), Some("true"));
    assert!(r.headers.get("link").and_then(|v| v.to_str().ok()).unwrap().contains("/tables/?connection=SHOPIFY"));
    assert!(r.body["warnings"][0].as_str().unwrap().contains("deprecated"));
    let tables = r.body["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 2);
    assert_eq!(tables[0]["name"], "a");
    let keys: Vec<&String> = tables[0].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 5, "the spec's inner fields: {keys:?}");
    let r = api.get("/connections/NOPE/tables/").await;
    assert_eq!((r.status, r.error_name()), (400, "WRONG_DATA_TYPE"));
}

async fn filter_orders_pages_and_filters(app: TestApp) {
    let api = app.api("acme", "root");
    put_shop(&app, "acme").await;
    assert_eq!(api.put("/connections/S3/", json!({"credentials": spec_s3_credentials()})).await.status, 200);
    for i in 0..7 {
        let resource = if i % 2 == 0 { "user" } else { "item" };
        api.patch(&table_path("S3", &format!("s3-{i}")), json!({"resource": resource})).await;
        api.patch(&table_path("SHOPIFY", &format!("shop-{i}")), json!({"resource": resource})).await;
    }
    api.patch(&table_path("LOCAL", "local-0"), json!({"resource": "user"})).await;

    let r = api.get("/tables/").await;
    assert_eq!(r.status, 200);
    assert_eq!((r.body["has_next"].as_bool(), r.body["next_page"].as_u64()), (Some(true), Some(2)));
    let names = |r: &gateway_testkit::Resp| -> Vec<String> {
        r.body["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| format!("{}/{}", t["connection"].as_str().unwrap(), t["name"].as_str().unwrap()))
            .collect()
    };
    let first = names(&r);
    assert_eq!(first.len(), 10);
    assert_eq!(first[0], "LOCAL/local-0");
    assert_eq!(first[1], "S3/s3-0");

    let mut all = Vec::new();
    for page in 1..=4 {
        let r = api.get(&format!("/tables/?page={page}&amt=4")).await;
        assert_eq!(r.body["next_page"].as_u64(), Some(page + 1));
        assert_eq!(r.body["has_next"].as_bool(), Some(page < 4), "page {page}");
        all.extend(names(&r));
    }
    assert_eq!(all.len(), 15);
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "ordered by (connection, name)");
    let r = api.get("/tables/?page=9").await;
    assert_eq!((r.body["tables"].as_array().map(Vec::len), r.body["has_next"].as_bool()), (Some(0), Some(false)));

    // Following next_cursor walks the same pages as the page numbers, filters kept.
    for filter in ["", "&resource=user", "&connection=SHOPIFY"] {
        let by_number: Vec<String> = {
            let mut out = Vec::new();
            for page in 1..=8 {
                out.extend(names(&api.get(&format!("/tables/?page={page}&amt=3{filter}")).await));
            }
            out
        };
        let mut by_cursor = Vec::new();
        let mut r = api.get(&format!("/tables/?amt=3{filter}")).await;
        let mut page = 1;
        loop {
            by_cursor.extend(names(&r));
            assert_eq!(r.body["next_page"].as_u64(), Some(page + 1), "{filter}");
            let Some(cursor) = r.body["next_cursor"].as_str().map(str::to_owned) else {
                assert_eq!(r.body["has_next"], false, "no cursor once the last page is reached");
                break;
            };
            assert_eq!(r.body["has_next"], true);
            assert!(page < 10, "the cursor walk does not end ({filter})");
            r = api.get(&format!("/tables/?amt=3&cursor={cursor}{filter}")).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            page += 1;
        }
        assert_eq!(by_cursor, by_number, "cursor and page numbers agree ({filter})");
    }
    let r = api.get("/tables/?amt=4").await;
    let cursor = r.body["next_cursor"].as_str().unwrap().to_owned();
    let r = api.get(&format!("/tables/?cursor={cursor}&page=2")).await;
    assert_eq!((r.status, r.field()), (400, "page"), "page and cursor together");
    let r = api.get("/tables/?cursor=bm90LWEtY3Vyc29y").await;
    assert_eq!((r.status, r.field()), (400, "cursor"), "a cursor the gateway did not answer");

    let r = api.get("/tables/?connection=S3&resource=user&amt=64").await;
    assert_eq!(names(&r), ["S3/s3-0", "S3/s3-2", "S3/s3-4", "S3/s3-6"]);
    let r = api.get("/tables/?resource=item").await;
    assert_eq!(names(&r).len(), 6);
    assert!(names(&r).iter().all(|n| n.contains("-1") || n.contains("-3") || n.contains("-5")));

    for (q, field) in [
        ("page=0", "page"),
        ("page=x", "page"),
        ("amt=0", "amt"),
        ("amt=65", "amt"),
        ("connection=FTP", "connection"),
        ("resource=items", "resource"),
        ("sort=name", "sort"),
        ("amt=1&amt=2", "amt"),
    ] {
        let r = api.get(&format!("/tables/?{q}")).await;
        assert_eq!((r.status, r.error_name(), r.field()), (400, "WRONG_DATA_TYPE", field), "{q}: {:?}", r.body);
    }
}

async fn deleting_a_connection_with_tables(app: TestApp) {
    put_shop(&app, "acme").await;
    let api = app.api("acme", "root");
    for n in ["a", "b", "c"] {
        api.patch(&table_path("SHOPIFY", n), json!({"resource": "item"})).await;
    }
    let r = api.delete(SHOP).await;
    assert_eq!((r.status, r.error_name()), (400, "WRONG_DATA_TYPE"));
    assert_eq!(r.body["error_data"]["tables"], 3);
    assert!(r.body["message"].as_str().unwrap().contains("3 tables"));
    assert_eq!(api.get(SHOP).await.status, 200, "nothing deleted");
    assert_eq!(api.get("/tables/?connection=SHOPIFY").await.body["tables"].as_array().map(Vec::len), Some(3));

    let r = api.delete("/connections/SHOPIFY/?force=maybe").await;
    assert_eq!((r.status, r.field()), (400, "force"));
    let r = api.delete("/connections/SHOPIFY/?force=true").await;
    assert_eq!(r.status, 204);
    assert_eq!(api.get(SHOP).await.status, 404);
    assert_eq!(api.get("/tables/?connection=SHOPIFY").await.body["tables"], json!([]));
}

async fn organizations_never_see_each_other(app: TestApp) {
    put_shop(&app, "acme").await;
    let acme = app.api("acme", "root");
    acme.patch(&table_path("SHOPIFY", "secret-table"), json!({"resource": "item"})).await;
    acme.patch(&table_path("LOCAL", "upload"), json!({"resource": "item"})).await;

    let other = app.api("globex", "root");
    assert_eq!(other.get("/connections/").await.body, json!({"connections": []}));
    let r = other.get(SHOP).await;
    assert_eq!((r.status, r.error_name()), (404, "CONNECTION_NOT_FOUND"));
    let r = other.get(&table_path("SHOPIFY", "secret-table")).await;
    assert_eq!((r.status, r.error_name()), (404, "TABLE_NOT_FOUND"));
    let r = other.get(&table_path("LOCAL", "upload")).await;
    assert_eq!(r.status, 404);
    assert_eq!(other.get("/tables/").await.body["tables"], json!([]));
    assert_eq!(other.delete(&table_path("LOCAL", "upload")).await.status, 404);
    let r = other.patch(&table_path("SHOPIFY", "secret-table"), json!({"resource": "user"})).await;
    assert_eq!((r.status, r.error_name()), (404, "CONNECTION_NOT_FOUND"));
    assert_eq!(other.delete(SHOP).await.status, 404);

    // The same names in another organization are theirs alone.
    put_shop(&app, "globex").await;
    other.patch(&table_path("SHOPIFY", "secret-table"), json!({"resource": "user"})).await;
    assert_eq!(acme.get(&table_path("SHOPIFY", "secret-table")).await.body["resource"], "item");
    assert_eq!(acme.get("/tables/").await.body["tables"].as_array().map(Vec::len), Some(2));
}

async fn preview_merges_infers_and_stores_nothing(app: TestApp) {
    let api = app.api("acme", "manager");
    let test = format!("{}test/", table_path("SHOPIFY", "products"));
    let r = api.post(&test, json!({"resource": "item"})).await;
    assert_eq!((r.status, r.error_name()), (404, "CONNECTION_NOT_FOUND"));
    put_shop(&app, "acme").await;

    let r = api
        .post(
            &test,
            json!({"resource": "item", "resource_params": {"columns_mapping": {}},
                   "connection_table_metadata": {"description": "products"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["resource_params"]["columns_mapping"],
        json!({"item_id": "itemId"}),
        "inferred case-insensitively"
    );
    assert_eq!(r.body["connection_table_params"]["object"], "products", "detected default filled");
    assert!(r.body["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("item_id inferred")));
    assert_eq!(r.body["sample"]["columns"][0], json!({"name": "itemId", "type": "string"}));
    assert_eq!(r.body["sample"]["rows"].as_array().map(Vec::len), Some(3));
    assert_eq!(r.body["sample"]["rows"][0]["customer.age"], 31);
    assert_eq!(api.get(&table_path("SHOPIFY", "products")).await.status, 404, "a preview stores nothing");

    // A mapping to a column the source lacks, and a required field with no column.
    let r =
        api.post(&test, json!({"resource": "item", "resource_params": {"columns_mapping": {"item_id": "sku"}}})).await;
    assert_eq!((r.status, r.field()), (400, "resource_params.columns_mapping.item_id"));
    assert!(r.body["message"].as_str().unwrap().contains("itemId, title, price, customer.age"));
    let r = api.post(&test, json!({"resource": "rating"})).await;
    assert_eq!((r.status, r.field()), (400, "resource_params.columns_mapping.user_id"));
    assert_eq!(r.body["error_data"]["columns"].as_array().map(Vec::len), Some(4));

    // Merged over the stored table: the stored params count.
    api.patch(
        &table_path("SHOPIFY", "products"),
        json!({"resource": "item", "connection_table_params": {"object": "missing"}}),
    )
    .await;
    let r = api.post(&test, json!({})).await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"));
    let r = api.post(&test, json!({"connection_table_params": {"object": "broken"}})).await;
    assert_eq!(
        (r.status, r.error_name(), r.body["error_data"]["reason"].as_str()),
        (400, "WRONG_DATA_TYPE", Some("unavailable"))
    );
    let stored = api.get(&table_path("SHOPIFY", "products")).await;
    assert_eq!(stored.body["connection_table_params"], json!({"object": "missing"}));
    assert_eq!(stored.body["status"], "available", "a preview records no status");

    // A destination: nothing to map.
    let r =
        api.post(&format!("{}test/", table_path("SHOPIFY", "recos")), json!({"resource": "user_to_items_reco"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["sample"]["rows"], json!([]));
}

async fn test_of_a_stored_table_records_its_status(app: TestApp) {
    put_shop(&app, "acme").await;
    let api = app.api("acme", "root");
    let path = table_path("SHOPIFY", "products");
    let test = format!("{path}test/");
    let r = api.get(&test).await;
    assert_eq!((r.status, r.error_name()), (404, "TABLE_NOT_FOUND"));

    api.patch(&path, json!({"resource": "item", "connection_table_params": {"object": "missing"}})).await;
    let r = api.get(&test).await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"));
    let t1 = api.get(&path).await.body;
    assert_eq!(t1["status"], "resource_not_found");
    // The same outcome again: modified_timestamp does not move.
    api.get(&test).await;
    let t2 = api.get(&path).await.body;
    assert_eq!(t2["modified_timestamp"], t1["modified_timestamp"]);

    api.patch(&path, json!({"connection_table_params": {"object": "broken"}})).await;
    api.get(&test).await;
    assert_eq!(api.get(&path).await.body["status"], "unknown_error");

    api.patch(&path, json!({"connection_table_params": {"object": "products"}, "resource": "rating"})).await;
    let r = api.get(&test).await;
    assert_eq!((r.status, r.field()), (400, "resource_params.columns_mapping.user_id"));
    assert_eq!(api.get(&path).await.body["status"], "wrong_specification");

    api.patch(&path, json!({"resource": "item"})).await;
    let r = api.get(&test).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "available");
    assert_eq!(r.body["resource_params"]["columns_mapping"]["item_id"], "itemId");
    let stored = api.get(&path).await.body;
    assert_eq!(stored["status"], "available");
    assert_eq!(stored["resource_params"], json!({}), "a test stores only the status");
    assert!(stored["modified_timestamp"].as_i64() >= t2["modified_timestamp"].as_i64());
}

async fn malformed_requests_get_clear_errors(app: TestApp) {
    put_shop(&app, "acme").await;
    let api = app.api("acme", "root");
    let r = api.send(reqwest::Method::PUT, SHOP, Some(b"{\"credentials\": ".to_vec())).await;
    assert_eq!((r.status, r.error_name()), (400, "WRONG_DATA_TYPE"));
    assert!(r.body["message"].as_str().unwrap().contains("not valid JSON"));
    let r = api.send(reqwest::Method::PUT, SHOP, None).await;
    assert_eq!((r.status, r.error_name()), (400, "WRONG_DATA_TYPE"));
    let r = api.put(SHOP, json!([1, 2])).await;
    assert_eq!((r.status, r.error_name()), (400, "WRONG_DATA_TYPE"));

    let big = format!("{{\"credentials\": {{\"domain\": \"{}\"}}}}", "x".repeat(1024 * 1024 + 1));
    let r = api.send(reqwest::Method::PUT, SHOP, Some(big.into_bytes())).await;
    assert_eq!((r.status, r.error_name()), (413, "PAYLOAD_TOO_LARGE"));
    assert_eq!(api.get(SHOP).await.body["credentials"]["domain"], "fake-domain", "nothing lost");

    let r = api.get("/nowhere/").await;
    assert_eq!((r.status, r.error_name()), (404, "ROUTE_NOT_FOUND"));
    let r = api.post("/connections/", json!({})).await;
    assert_eq!((r.status, r.error_name()), (405, "METHOD_NOT_ALLOWED"));
    assert_eq!(
        r.headers.get("allow").and_then(|v| v.to_str().ok()),
        Some("GET"),
        "405 lists what is allowed (RFC 9110)"
    );
    let r = api.send(reqwest::Method::PUT, &table_path("SHOPIFY", "t"), Some(b"{}".to_vec())).await;
    assert_eq!((r.status, r.error_name()), (405, "METHOD_NOT_ALLOWED"));
    assert_eq!(r.headers.get("allow").and_then(|v| v.to_str().ok()), Some("GET, PATCH, DELETE"));
    assert_eq!(r.body["error_code"], r.status, "error_code is the HTTP status");
}

async fn host_fields_refuse_inside_targets(app: TestApp) {
    // A listener on loopback: if anything tried to reach a refused target, it would see it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let api = app.api("acme", "root");
    let bad = [
        format!("https://127.0.0.1:{port}"),
        "https://127.0.0.1".into(),
        "https://169.254.169.254".into(),
        "https://[::1]".into(),
        "https://localhost".into(),
        "https://evil.example@real-host.com".into(),
        "https://api.example.com:8443".into(),
        "https://api.example.com/v1".into(),
        "http://api.example.com".into(),
        "https://10.0.0.7".into(),
        "https://[::ffff:169.254.169.254]".into(),
    ];
    for value in &bad {
        let mut creds = shop_credentials();
        creds["api_base"] = json!(value);
        let r = api.put(SHOP, json!({"credentials": creds.clone()})).await;
        assert_eq!(
            (r.status, r.error_name(), r.field()),
            (400, "WRONG_DATA_TYPE", "credentials.api_base"),
            "{value}: {:?}",
            r.body
        );
        let r = api.post("/connections/SHOPIFY/test/", json!({"credentials": creds})).await;
        assert_eq!((r.status, r.field()), (400, "credentials.api_base"), "{value}");
    }
    assert!(listener.accept().is_err(), "no connection was attempted");
    assert_eq!(api.get(SHOP).await.status, 404, "nothing stored");
    let mut creds = shop_credentials();
    creds["api_base"] = json!("https://api.example.com");
    let r = api.put(SHOP, json!({"credentials": creds})).await;
    assert_eq!(r.status, 200, "a public https origin is fine: {:?}", r.body);
}

/// Every path and method the OpenAPI document lists is served (no 404 or 405), and its enums
/// are the domain's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_matches_the_routes() {
    let app = TestApp::builder().scripted().spawn().await.unwrap();
    let anon = app.api_with_token(None);
    let doc = anon.get("/openapi.json").await;
    assert_eq!(doc.status, 200);
    let paths = doc.body["paths"].as_object().unwrap();
    assert!(paths.len() >= 12);
    for (path, methods) in paths {
        let concrete = path.replace("{connection}", "S3").replace("{name}", "t").replace("{token}", "x");
        for method in methods.as_object().unwrap().keys() {
            let r = anon.send(method.to_uppercase().parse().unwrap(), &concrete, Some(b"{}".to_vec())).await;
            assert!(
                !matches!(r.error_name(), "ROUTE_NOT_FOUND" | "METHOD_NOT_ALLOWED"),
                "{method} {path}: {:?}",
                r.body
            );
        }
    }
    // Links from PUT connection and PATCH table name operations that exist, with their path
    // parameters.
    let ids: Vec<&str> = paths
        .values()
        .flat_map(|i| i.as_object().unwrap().values())
        .filter_map(|o| o["operationId"].as_str())
        .collect();
    let mut links = 0;
    for (path, method) in [("/connections/{connection}/", "put"), ("/connections/{connection}/tables/{name}/", "patch")]
    {
        for link in paths[path][method]["responses"]["200"]["links"].as_object().unwrap().values() {
            assert!(ids.contains(&link["operationId"].as_str().unwrap()), "{link}");
            links += 1;
        }
    }
    assert_eq!(links, 7);
    let kinds = &doc.body["components"]["parameters"]["anyConnection"]["schema"]["enum"];
    assert_eq!(kinds.as_array().map(Vec::len), Some(gateway_domain::ConnectionKind::ALL.len()));
    let errors = &doc.body["components"]["schemas"]["Error"]["properties"]["error_name"]["enum"];
    assert!(errors.as_array().unwrap().contains(&json!("CONNECTION_NOT_FOUND")));
}

/// What the document states, the server enforces, and the other way round: the table-name
/// pattern agrees with the server on names at its edges, `page` stops where `maximum` says,
/// and bodies whose schema has `additionalProperties: false` refuse an unknown field while
/// accepting the read-only fields it lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_states_what_the_server_enforces() {
    let app = TestApp::builder().scripted().spawn().await.unwrap();
    let api = app.api("acme", "manager");
    let doc = api.get("/openapi.json").await.body;
    let name = &doc["components"]["parameters"]["name"]["schema"];
    let pattern = regex::Regex::new(name["pattern"].as_str().unwrap()).unwrap();
    let encode = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    for candidate in [
        "ok",
        "a b",
        "é-ü",
        " lead",
        "trail ",
        "a/b",
        "tab\tin",
        "\u{85}x",
        "x\u{a0}",
        "\u{2028}x",
        "x\u{7f}y",
        "ünï\u{3000}",
    ] {
        let r = api.get(&format!("/connections/S3/tables/{}/", encode(candidate))).await;
        let refused = r.status == 400 && r.field() == "name";
        assert_eq!(pattern.is_match(candidate), !refused, "{candidate:?}: {:?}", r.body);
    }
    let page = &doc["components"]["parameters"]["page"]["schema"];
    let max = page["maximum"].as_u64().unwrap();
    assert_eq!(api.get(&format!("/tables/?page={max}")).await.status, 200);
    assert_eq!(api.get(&format!("/tables/?page={}", max + 1)).await.field(), "page");

    let patch = &doc["components"]["schemas"]["TablePatch"];
    assert_eq!(patch["additionalProperties"], false);
    let r = api.patch(&table_path("LOCAL", "t.csv"), json!({"resource": "item", "colour": "red"})).await;
    assert_eq!((r.status, r.field()), (400, "colour"), "{:?}", r.body);
    let mut echoed = json!({"resource": "item", "status": null});
    for (field, schema) in patch["properties"].as_object().unwrap() {
        if schema["readOnly"] == true && !["name", "connection"].contains(&field.as_str()) {
            echoed[field] = json!("anything");
        }
    }
    let r = api.patch(&table_path("LOCAL", "t.csv"), echoed).await;
    assert_eq!(r.status, 200, "the read-only fields it lists are accepted: {:?}", r.body);
    let put = &doc["components"]["schemas"]["ConnectionPut"];
    assert_eq!(put["additionalProperties"], false);
    let r = api.put("/connections/S3/", json!({"credentials": {}, "colour": "red"})).await;
    assert_eq!((r.status, r.field()), (400, "colour"), "{:?}", r.body);
}

/// `/docs`: the API page loads without a token, and everything it references is served by
/// the gateway itself (the vendored Swagger UI, byte for byte, and `/openapi.json`): nothing
/// from another origin, which its Content-Security-Policy also forbids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_page_is_served_whole_from_the_gateway() {
    let app = TestApp::builder().spawn().await.unwrap();
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let url = format!("{}{path}", app.address);
        async move { http.get(url).send().await.unwrap() }
    };
    let page = get("/docs".into()).await;
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("//cdn"), "{html}");

    let refs: Vec<String> = html.split(['"', '\'']).filter(|s| s.starts_with("/docs/")).map(str::to_owned).collect();
    assert_eq!(refs.len(), 3, "the stylesheet, the bundle and its start-up script: {refs:?}");
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/gateway-http/assets/swagger-ui");
    for r in &refs {
        let res = get(r.clone()).await;
        assert_eq!(res.status(), 200, "{r}");
        let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
        let body = res.bytes().await.unwrap();
        let file = r.trim_start_matches("/docs/");
        if file == "init.js" {
            let init = String::from_utf8(body.to_vec()).unwrap();
            assert!(init.contains("url: \"/openapi.json\""), "{init}");
            assert!(!init.contains("http"), "{init}");
        } else {
            assert_eq!(body.as_ref(), std::fs::read(assets.join(file)).unwrap().as_slice(), "{r} is the vendored file");
        }
        let expected = if file.ends_with(".css") { "text/css" } else { "text/javascript" };
        assert!(kind.starts_with(expected), "{r}: {kind}");
    }
    assert_eq!(get("/openapi.json".into()).await.status(), 200);
}

/// The API page in a real browser (headless Chromium): its scripts run under the page's
/// CSP, it fetches `/openapi.json` from the gateway (the gateway counts that request,
/// answered 200) and lists every operation of the document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_page_lists_every_operation_in_a_browser() {
    let Some(browser) = gateway_testkit::browser() else { return };
    let app = TestApp::builder().spawn().await.unwrap();
    let url = format!("{}/docs", app.address);
    let dom = tokio::task::spawn_blocking(move || gateway_testkit::render_page(&browser, &url)).await.unwrap().unwrap();
    let doc = app.api_with_token(None).get("/openapi.json").await.body;
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut listed = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let summary = op["summary"].as_str().unwrap();
            assert!(
                dom.contains(&format!(">{}<", escape(summary))),
                "{method} {path} ('{summary}') is not on the page"
            );
            listed += 1;
        }
    }
    assert!(listed >= 17, "{listed}");
    let metrics = app.api_with_token(None).get("/metrics").await.body;
    let text = metrics.as_str().unwrap();
    let fetched = text.lines().find(|l| {
        l.starts_with("gateway_http_request_duration_seconds_count")
            && l.contains(r#"route="/openapi.json""#)
            && l.contains(r#"status="200""#)
    });
    let count: f64 = fetched.and_then(|l| l.rsplit(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0.0);
    assert!(count >= 2.0, "the page fetched the document from the gateway (and so did this test): {fetched:?}");
}

/// A kind whose connector a gateway does not have (an embedder's registry without it) is
/// stored, but its test, spec and previews answer 501 CONNECTOR_UNAVAILABLE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinds_without_a_connector_say_so() {
    let app = TestApp::builder().registry(gateway_connector::Registry::new()).spawn().await.unwrap();
    let api = app.api("acme", "manager");
    let r = api.put("/connections/BRAZE/", json!({"credentials": {"api_key": "k"}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["warnings"][0].as_str().unwrap().contains("stored unchecked"), "{:?}", r.body);
    let r = api.post("/connections/BRAZE/test/", json!({"credentials": {"api_key": "k"}})).await;
    assert_eq!((r.status, r.error_name()), (501, "CONNECTOR_UNAVAILABLE"));
    assert_eq!(api.get("/connections/BRAZE/spec/").await.status, 501);
    let r =
        api.patch(&table_path("BRAZE", "t"), json!({"resource": "item", "connection_table_params": {"x": 1}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["warnings"][0].as_str().unwrap().contains("unchecked"));
    let r = api.post(&format!("{}test/", table_path("BRAZE", "t")), json!({})).await;
    assert_eq!((r.status, r.error_name()), (501, "CONNECTOR_UNAVAILABLE"));
}

//! Engagement providers against local mocks written from each provider's API reference
//! (cited beside each mock). A mock answers only the documented request (method, path, query,
//! auth header or signature) and refuses anything else with a 418, so a request that strays
//! fails the test. Providers reach the mocks only through the operator's settings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gateway_testkit::{MockProvider, Recorded, Reply, TestApp};
use serde_json::{Value, json};

async fn app_with(peer: &str, mock: &MockProvider) -> TestApp {
    TestApp::builder()
        .allow_private()
        .provider_url(peer, &mock.url)
        .connector_timeout(Duration::from_secs(2))
        .spawn()
        .await
        .unwrap()
}

/// As [`app_with`], with the validation loop running.
async fn app_validating(peer: &str, mock: &MockProvider) -> TestApp {
    TestApp::builder().allow_private().provider_url(peer, &mock.url).validating().spawn().await.unwrap()
}

fn table(kind: &str, name: &str) -> String {
    format!("/connections/{kind}/tables/{name}/")
}

// ---- Braze

/// `GET /catalogs`, from <https://www.braze.com/docs/api/endpoints/catalogs/catalog_management/synchronous/get_list_catalogs/>
/// (the page's example, as written).
fn braze_catalogs() -> Value {
    json!({"catalogs": [
        {"description": "My Restaurants",
         "fields": [{"name": "id", "type": "string"}, {"name": "Name", "type": "string"}, {"name": "City", "type": "string"},
                    {"name": "Cuisine", "type": "string"}, {"name": "Rating", "type": "number"},
                    {"name": "Loyalty_Program", "type": "boolean"}, {"name": "Created_At", "type": "time"}],
         "name": "restaurants", "num_items": 10, "updated_at": "2022-11-02T20:04:06.879+00:00"},
        {"description": "My Catalog", "fields": [{"name": "id", "type": "string"}, {"name": "string_field", "type": "string"}],
         "name": "my_catalog", "num_items": 3, "updated_at": "2022-11-02T09:03:19.967+00:00"}
    ], "message": "success"})
}

/// Braze as documented at <https://www.braze.com/docs/api/basics/> and
/// <https://www.braze.com/docs/api/errors/>: `Authorization: Bearer <key>`; 401 for a key it
/// does not know (or of another instance), 403 "Access Denied" for one without the endpoint's
/// permission, 429 with `X-RateLimit-*` (reset in epoch seconds). Keys: `braze-good` may do
/// everything, `braze-no-perm` nothing, `braze-limited` is over its limit, `braze-slow`
/// answers after 5 s.
fn braze(r: &Recorded) -> Reply {
    if r.method != "GET" {
        return Reply::unexpected("Braze reads are GETs", r);
    }
    match r.header("authorization") {
        Some("Bearer braze-good") => {}
        Some("Bearer braze-no-perm") => return Reply::json(403, json!({"message": "Access Denied"})),
        // The fatal-errors table's other answer for a key Braze does not know.
        Some("Bearer braze-unknown") => return Reply::json(404, json!({"message": "Unknown REST API Key"})),
        Some("Bearer braze-limited") => {
            let reset = (gateway_domain::now_seconds() + 42).to_string();
            return Reply::json(429, json!({"message": "Rate Limited"}))
                .header("x-ratelimit-limit", "50")
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", &reset);
        }
        Some("Bearer braze-slow") => return Reply::json(200, braze_catalogs()).after(Duration::from_secs(5)),
        // Braze's SDK endpoints quote a refused key back: the gateway must not pass it on.
        Some(key) if key.starts_with("Bearer braze-echo") => {
            let key = key.trim_start_matches("Bearer ");
            return Reply::json(401, json!({"message": format!("The API key \"{key}\" is invalid")}));
        }
        _ => return Reply::json(401, json!({"message": "Invalid API key"})),
    }
    match (r.path.as_str(), r.query.as_str()) {
        ("/catalogs", "") => Reply::json(200, braze_catalogs()),
        // <https://www.braze.com/docs/api/endpoints/catalogs/catalog_items/synchronous/get_catalog_items_details_bulk/>:
        // 50 items a page, the next page's `cursor` in the `Link` header (`rel="next"`,
        // relative), none on the last page. Here two items on the first page, one on the last.
        ("/catalogs/restaurants/items", "") => Reply::json(
            200,
            json!({"items": [
            {"id": "restaurant1", "Name": "Restaurant1", "City": "New York", "Cuisine": "American", "Rating": 5, "Loyalty_Program": true, "Open_Time": "2022-11-02T09:03:19.967Z"},
            {"id": "restaurant2", "Name": "Restaurant2", "City": "New York", "Cuisine": "American", "Rating": 10, "Loyalty_Program": true, "Open_Time": "2022-11-02T09:03:19.967Z"}
        ], "message": "success"}),
        )
        .header("link", "</catalogs/restaurants/items?cursor=c2tpcDoy>; rel=\"next\""),
        ("/catalogs/restaurants/items", "cursor=c2tpcDoy") => Reply::json(
            200,
            json!({"items": [
            {"id": "restaurant3", "Name": "Restaurant3", "City": "Boston", "Cuisine": "Italian", "Rating": "n/a", "Loyalty_Program": false, "Open_Time": "2022-11-02T09:03:19.967Z"}
        ], "message": "success"}),
        )
        .header("link", "</catalogs/restaurants/items?cursor=c2tpcDow>; rel=\"prev\""),
        _ => Reply::unexpected("not a documented Braze call", r),
    }
}

fn braze_creds(key: &str) -> Value {
    json!({"api_key": key, "instance": "https://dashboard-03.braze.com"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn braze_credentials_tables_and_failures() {
    let mock = MockProvider::start(braze);
    let app = app_with("BRAZE", &mock).await;
    let api = app.api("acme", "manager");
    let test = |creds: Value| {
        let api = &api;
        async move { api.post("/connections/BRAZE/test/", json!({"credentials": creds})).await }
    };

    let r = test(braze_creds("braze-good")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let steps = |r: &gateway_testkit::Resp| -> Vec<(String, String)> {
        r.body["steps"]
            .as_array()
            .or_else(|| r.body["error_data"]["steps"].as_array())
            .unwrap()
            .iter()
            .map(|s| (s["name"].as_str().unwrap().to_owned(), s["outcome"].as_str().unwrap().to_owned()))
            .collect()
    };
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    // No table yet: the key is proven Braze's; user writes cannot be checked read-only.
    assert_eq!(steps(&r), [pair("authenticate", "passed"), pair("write_user_attributes", "skipped")]);
    assert!(r.body["warnings"][0].as_str().unwrap().contains("users.track"), "{:?}", r.body);
    assert_eq!(mock.requests().last().unwrap().line(), "GET /catalogs");
    // A key without catalogs.get is still a key Braze knows (403, not 401): good for
    // user_to_items_reco tables.
    let r = test(braze_creds("braze-no-perm")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(steps(&r)[0], pair("authenticate", "passed"));

    for (key, reason, says) in [
        ("braze-wrong", "wrong_credentials", "another instance"),
        ("braze-unknown", "wrong_credentials", "does not know the API key"),
        ("braze-limited", "rate_limited", "retry in"),
        ("braze-slow", "timeout", "did not answer"),
    ] {
        let r = test(braze_creds(key)).await;
        assert_eq!((r.status, r.body["error_data"]["reason"].as_str()), (400, Some(reason)), "{key}: {:?}", r.body);
        assert!(r.body["message"].as_str().unwrap().contains(says), "{key}: {:?}", r.body);
    }

    // A provider quoting the key back: the answer (and the log) holds the mask, not the key.
    let r = test(braze_creds("braze-echo-7f3a9c")).await;
    assert_eq!(r.body["error_data"]["reason"], "wrong_credentials");
    assert!(!r.body.to_string().contains("braze-echo-7f3a9c"), "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("********"), "{:?}", r.body);

    // The instance in any documented form, stored as its REST host; anything else by name.
    let r = api.put("/connections/BRAZE/", json!({"credentials": braze_creds("braze-good")})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["credentials"]["instance"], "rest.iad-03.braze.com");
    assert_eq!(r.body["credentials"]["api_key"], "********");
    for bad in [
        "evil.com",
        "rest.iad-03.braze.com.evil.com",
        "https://127.0.0.1",
        "rest.iad-03.braze.com:8443",
        "u@rest.iad-03.braze.com",
    ] {
        let r = api.put("/connections/BRAZE/", json!({"credentials": {"api_key": "k", "instance": bad}})).await;
        assert_eq!((r.status, r.field()), (400, "credentials.instance"), "{bad}: {:?}", r.body);
    }

    // A catalog for item_to_items_reco: it exists, its fields are listed, a page sampled.
    let r =
        api.post(&format!("{}test/", table("BRAZE", "restaurants")), json!({"resource": "item_to_items_reco"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["connection_table_params"]["catalog"], "restaurants");
    let columns: Vec<&str> =
        r.body["sample"]["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(columns, ["id", "Name", "City", "Cuisine", "Rating", "Loyalty_Program", "Created_At"]);
    assert_eq!(r.body["sample"]["columns"][4]["type"], "float");
    assert_eq!(r.body["sample"]["rows"][1]["Rating"], 10);
    // Saved as answered, then tested: available.
    let saved = api.patch(&table("BRAZE", "restaurants"), r.body.clone()).await;
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    let tested = api.get(&format!("{}test/", table("BRAZE", "restaurants"))).await;
    assert_eq!(tested.body["status"], "available", "{:?}", tested.body);
    // With a catalog table stored, the key must read catalogs: one without catalogs.get is
    // told which permission to add, and is not called wrong.
    let r = test(braze_creds("braze-no-perm")).await;
    assert_eq!((r.status, r.body["error_data"]["reason"].as_str()), (400, Some("forbidden")), "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("add the catalogs.get permission"), "{:?}", r.body);
    assert_eq!(
        steps(&r),
        [pair("authenticate", "passed"), pair("read_catalogs", "forbidden"), pair("write_catalog_items", "skipped")]
    );
    // The stored good key: catalogs readable, writes unprovable: unverified, not available.
    let r = api.post("/connections/BRAZE/test/", json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(api.get("/connections/BRAZE/").await.body["status"], "unverified");

    // A catalog as an item source: its fields and a page of its items.
    let body = json!({"resource": "item", "connection_table_params": {"catalog": "restaurants"},
                      "resource_params": {"columns_mapping": {"item_id": "id"}}});
    let r = api.post(&format!("{}test/", table("BRAZE", "menu")), body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["sample"]["rows"][0]["id"], "restaurant1");
    assert_eq!(r.body["sample"]["columns"][0]["name"], "id");

    let r = api
        .post(
            &format!("{}test/", table("BRAZE", "recos")),
            json!({"resource": "item_to_items_reco", "connection_table_params": {"catalog": "nope"}}),
        )
        .await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("restaurants, my_catalog"), "{:?}", r.body);

    // A custom attribute for user_to_items_reco: its name checked, no call made.
    let before = mock.requests().len();
    let r = api
        .post(&format!("{}test/", table("BRAZE", "recommended_items")), json!({"resource": "user_to_items_reco"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("users.track")));
    assert_eq!(mock.requests().len(), before);
    for (params, field) in [
        (json!({"attribute": "$reco"}), "connection_table_params.attribute"),
        (json!({"attribute": "email"}), "connection_table_params.attribute"),
        (json!({"attribute": "has space"}), "connection_table_params.attribute"),
    ] {
        let r = api
            .patch(&table("BRAZE", "r"), json!({"resource": "user_to_items_reco", "connection_table_params": params}))
            .await;
        assert_eq!((r.status, r.field()), (400, field), "{params}: {:?}", r.body);
    }
    let r = api
        .patch(
            &table("BRAZE", "r"),
            json!({"resource": "item_to_items_reco", "connection_table_params": {"catalog": "a/b"}}),
        )
        .await;
    assert_eq!((r.status, r.field()), (400, "connection_table_params.catalog"));
    let r = api.patch(&table("BRAZE", "r"), json!({"resource": "rating"})).await;
    assert_eq!((r.status, r.field()), (400, "resource"), "Braze tables are catalogs and recommendation destinations");

    // Nothing strayed from the documented calls.
    assert!(mock.requests().iter().all(|r| r.header("authorization").is_some_and(|a| a.starts_with("Bearer "))));
}

/// A catalog's read holds its organization's slot while its pages are spooled (the second page
/// held back by Braze here), whatever the sockets buffer; a client gone mid-spool stopped the
/// read: audited `stopped`, its spill folder removed, its slot free for the next read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_left_while_its_pages_are_spooled_is_stopped_and_cleaned_up() {
    let mock = MockProvider::start(|r| {
        let reply = braze(r);
        if r.query == "cursor=c2tpcDoy" { reply.after(Duration::from_secs(20)) } else { reply }
    });
    let limits = gateway_service::LimitSettings { org_row_reads: 1, ..Default::default() };
    let app = TestApp::builder().allow_private().provider_url("BRAZE", &mock.url).limits(limits).spawn().await.unwrap();
    let api = app.api("acme", "manager");
    assert_eq!(api.put("/connections/BRAZE/", json!({"credentials": braze_creds("braze-good")})).await.status, 200);
    let body = json!({"resource": "item", "connection_table_params": {"catalog": "restaurants"},
                      "resource_params": {"columns_mapping": {"item_id": "id"}}});
    assert_eq!(api.patch(&table("BRAZE", "menu"), body).await.status, 200);
    let backend = app.api("acme", "backend");
    let rows = format!("{}rows/", table("BRAZE", "menu"));
    let spilled = || std::fs::read_dir(app.spill_dir.path()).unwrap().count();

    // The read by hand on its own connection, so that closing it is the client going away.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut held = tokio::net::TcpStream::connect(&host).await.unwrap();
    let ask = format!(
        "GET {rows} HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {}\r\n\r\n",
        app.token("acme", "backend")
    );
    held.write_all(ask.as_bytes()).await.unwrap();
    while !mock.requests().iter().any(|r| r.query == "cursor=c2tpcDoy") {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Answered once the first page is in: the rest is spooled while the client waits.
    let mut head = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), held.read(&mut head)).await.unwrap().unwrap();
    assert!(head[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&head[..n]));
    assert_eq!(spilled(), 1, "the read spools its pages in a folder of its own");
    let second = backend.get(&rows).await;
    assert_eq!((second.status, second.error_name()), (429, "TOO_MANY_REQUESTS"), "{:?}", second.body);
    // The client goes away mid-spool.
    drop(held);
    let stopped = app.api("acme", "root").audited("table.rows_read", 1).await;
    assert_eq!(stopped.len(), 1, "{stopped:?}");
    assert_eq!(stopped[0]["fields"].as_array().unwrap().last().unwrap(), "stopped", "{stopped:?}");
    for _ in 0..50 {
        if spilled() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(spilled(), 0, "the spill folder of a read stopped is removed");
    // The slot is free again: a read of the first page only (the held-back page not asked).
    let (status, _, body) = backend.get_raw(&format!("{rows}?max_rows=2"), None).await;
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(body.unwrap().to_vec()).unwrap().lines().count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_braze_catalog_is_validated_page_by_page() {
    let mock = MockProvider::start(braze);
    let app = app_validating("BRAZE", &mock).await;
    let api = app.api("acme", "manager");
    assert_eq!(api.put("/connections/BRAZE/", json!({"credentials": braze_creds("braze-good")})).await.status, 200);
    let body = json!({"resource": "item", "connection_table_params": {"catalog": "restaurants"},
                      "resource_params": {"columns_mapping": {"item_id": "id"}}});
    assert_eq!(api.patch(&table("BRAZE", "menu"), body).await.status, 200);
    let done = api.validated(&table("BRAZE", "menu"), json!({}), Duration::from_secs(30)).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    // Both pages read: the cursor of the first page's Link header, sent on the instance.
    assert_eq!(
        (done["report"]["rows"].as_u64(), done["report"]["invalid_rows"].as_u64()),
        (Some(3), Some(0)),
        "{done}"
    );
    let asked: Vec<String> =
        mock.requests().iter().filter(|r| r.path.ends_with("/items")).map(|r| r.query.clone()).collect();
    // (The first: the inspection the validation keeps the schema of.)
    assert_eq!(asked, ["", "", "cursor=c2tpcDoy"]);
    // Its rows read through the gateway: both pages again, the item ids first.
    let (status, _, body) = app.api("acme", "backend").get_raw(&format!("{}rows/", table("BRAZE", "menu")), None).await;
    assert_eq!(status, 200);
    let rows: Vec<Value> =
        String::from_utf8(body.unwrap().to_vec()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.iter().all(|r| r["item_id"].is_string()), "{rows:?}");
    let asked = mock.requests().iter().filter(|r| r.path.ends_with("/items")).count();
    assert_eq!(asked, 5, "the read asked both pages");
    // A destination catalog is written, not read.
    let reco = json!({"resource": "item_to_items_reco", "connection_table_params": {"catalog": "restaurants"}});
    assert_eq!(api.patch(&table("BRAZE", "similar"), reco).await.status, 200);
    let r = api.post(&format!("{}validations/", table("BRAZE", "similar")), json!({})).await;
    assert_eq!((r.status, r.error_name()), (400, "WRONG_DATA_TYPE"), "{:?}", r.body);
}

// ---- Iterable and Iterable catalogs

/// Iterable as its API spec (<https://api.iterable.com/api/docs>) describes it: the `Api-Key`
/// header; `{"msg", "code", "params"}` errors, 401 `BadApiKey` for an unknown key and for a
/// key of the wrong type (`params.apiKeyType`, as in
/// <https://github.com/Iterable/swift-sdk/issues/480>); catalog answers wrapped in `params`
/// (as Iterable's own client reads them). Keys: `it-good`, `it-mobile`, `it-limited`.
fn iterable(r: &Recorded) -> Reply {
    if r.method != "GET" {
        return Reply::unexpected("Iterable reads are GETs", r);
    }
    match r.header("api-key") {
        Some("it-good") => {}
        Some("it-mobile") => {
            return Reply::json(
                401,
                json!({"msg": "Disabled API key or insufficient privileges", "code": "BadApiKey",
                "params": {"ip": "127.0.0.1", "endpoint": r.path, "apiKeyIdentifier": "abc", "apiKeyType": "Mobile"}}),
            );
        }
        Some("it-limited") => return Reply::text(429, "Too Many Requests"),
        _ => return Reply::json(401, json!({"msg": "Invalid API key", "code": "BadApiKey", "params": null})),
    }
    let ok = |body: Value| Reply::json(200, body);
    let wrapped = |params: Value| Reply::json(200, json!({"msg": "", "code": "Success", "params": params}));
    match (r.path.as_str(), r.query.as_str()) {
        // GetListsResponse: {"lists": [ListDetails]}.
        ("/api/lists", "") => ok(json!({"lists": [
            {"id": 12345, "name": "Newsletter", "description": "weekly", "createdAt": 1700000000000i64, "listType": "Standard"},
            {"id": 777, "name": "VIP", "createdAt": 1700000000000i64, "listType": "Dynamic"}
        ]})),
        // `produces: ["text/plain"]` (api-docs.json): one identifier a line; a client asking
        // for JSON only is refused as a strict server would (406).
        ("/api/lists/previewUsers", "listId=12345&preferUserId=true&size=10") => match r.header("accept") {
            Some(a) if a.contains("text/plain") || a.contains("*/*") => {
                Reply::text(200, "u-1\nann@example.com\r\nu-3\n")
            }
            _ => Reply::text(406, "Not Acceptable"),
        },
        // The whole list, `produces: ["text/plain"]` as previewUsers: one identifier a line.
        ("/api/lists/getUsers", "listId=12345&preferUserId=true") => match r.header("accept") {
            Some(a) if a.contains("text/plain") => Reply::text(200, "u-1\nann@example.com\r\nu-3\n\nu-1\n"),
            _ => Reply::text(406, "Not Acceptable"),
        },
        ("/api/users/getFields", "") => {
            ok(json!({"fields": {"email": "string", "firstName": "string", "recommended_items": "string"}}))
        }
        ("/api/catalogs", "page=1&pageSize=1") => {
            wrapped(json!({"catalogNames": [{"name": "restaurants"}], "totalCatalogsCount": 3}))
        }
        ("/api/catalogs/restaurants/fieldMappings", "") => wrapped(
            json!({"definedMappings": {"isVegetarianFriendly": "boolean", "price": "double"}, "undefinedFields": ["name", "recentlyUpdated"]}),
        ),
        ("/api/catalogs/restaurants/items", "page=1&pageSize=10") => wrapped(json!({"catalogItemsWithProperties": [
            {"catalogName": "restaurants", "itemId": "1", "size": 72, "lastModified": 1578605542000i64,
             "value": {"name": "The Duke", "isVegetarianFriendly": false, "recentlyUpdated": true, "price": 12}},
            {"catalogName": "restaurants", "itemId": "3", "size": 22, "lastModified": 1578605545000i64, "value": {"name": "Bronto King"}}
        ], "totalItemsCount": 2})),
        // Paged by `page` (from 1) and `pageSize`; `nextPageUrl` while another page follows.
        ("/api/catalogs/restaurants/items", "page=1&pageSize=100") => wrapped(json!({"catalogItemsWithProperties": [
            {"catalogName": "restaurants", "itemId": "1", "size": 72, "lastModified": 1578605542000i64, "value": {"name": "The Duke", "price": 12}},
            {"catalogName": "restaurants", "itemId": "3", "size": 22, "lastModified": 1578605545000i64, "value": {"name": "Bronto King"}}
        ], "totalItemsCount": 4, "nextPageUrl": "https://api.iterable.com/api/catalogs/restaurants/items?page=2&pageSize=100"})),
        ("/api/catalogs/restaurants/items", "page=2&pageSize=100") => wrapped(json!({"catalogItemsWithProperties": [
            {"catalogName": "restaurants", "itemId": "4", "size": 20, "lastModified": 1578605549000i64, "value": {"name": "Chez Nous", "price": "n/a"}},
            {"catalogName": "restaurants", "itemId": "1", "size": 72, "lastModified": 1578605542000i64, "value": {"name": "The Duke", "price": 12}}
        ], "totalItemsCount": 4, "previousPageUrl": "https://api.iterable.com/api/catalogs/restaurants/items?page=1&pageSize=100"})),
        // The spec's 404 "Catalog not found".
        (p, "") if p.starts_with("/api/catalogs/") && p.ends_with("/fieldMappings") => {
            Reply::json(404, json!({"msg": "Catalog not found", "code": "NotFound", "params": null}))
        }
        _ => Reply::unexpected("not a documented Iterable call", r),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iterable_lists_fields_and_catalogs() {
    let mock = MockProvider::start(iterable);
    let app = TestApp::builder()
        .allow_private()
        .provider_url("ITERABLE", &mock.url)
        .provider_url("ITERABLE_FEED", &mock.url)
        .spawn()
        .await
        .unwrap();
    let api = app.api("acme", "manager");
    for kind in ["ITERABLE", "ITERABLE_FEED"] {
        let test = |key: &str| {
            let (api, path) = (&api, format!("/connections/{kind}/test/"));
            let body = json!({"credentials": {"api_key": key, "region": "us"}});
            async move { api.post(&path, body).await }
        };
        let r = test("it-good").await;
        assert_eq!(r.status, 200, "{kind}: {:?}", r.body);
        let r = test("it-nope").await;
        assert_eq!(r.body["error_data"]["reason"], "wrong_credentials", "{kind}: {:?}", r.body);
        let r = test("it-mobile").await;
        assert!(r.body["message"].as_str().unwrap().contains("a Mobile key: use a server-side key"), "{:?}", r.body);
        let r = test("it-limited").await;
        assert_eq!(r.body["error_data"]["reason"], "rate_limited", "{kind}: {:?}", r.body);
        let r = api
            .put(&format!("/connections/{kind}/"), json!({"credentials": {"api_key": "it-good", "region": "eu"}}))
            .await;
        assert_eq!(r.status, 200);
        let r = api
            .put(
                &format!("/connections/{kind}/"),
                json!({"credentials": {"api_key": "it-good", "region": "api.iterable.com.evil.com"}}),
            )
            .await;
        assert_eq!((r.status, r.field()), (400, "credentials.region"));
        api.put(&format!("/connections/{kind}/"), json!({"credentials": {"api_key": "it-good"}})).await;
    }
    assert!(mock.requests().iter().all(|r| r.header("api-key").is_some()), "every call carries Api-Key");

    // A list as a user_id source: found by name, sampled (bounded), saved, tested.
    let r = api.post(&format!("{}test/", table("ITERABLE", "Newsletter")), json!({"resource": "user_id"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["connection_table_params"]["list_id"], 12345);
    assert_eq!(r.body["resource_params"]["columns_mapping"]["user_id"], "user_id");
    let ids: Vec<&str> =
        r.body["sample"]["rows"].as_array().unwrap().iter().map(|row| row["user_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["u-1", "ann@example.com", "u-3"]);
    assert_eq!(api.patch(&table("ITERABLE", "Newsletter"), r.body.clone()).await.status, 200);
    assert_eq!(api.get(&format!("{}test/", table("ITERABLE", "Newsletter"))).await.body["status"], "available");
    let r = api
        .post(
            &format!("{}test/", table("ITERABLE", "gone")),
            json!({"resource": "user_id", "connection_table_params": {"list_id": 999}}),
        )
        .await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("Newsletter (12345)"));

    // A user field as a recommendation destination.
    let r = api
        .post(&format!("{}test/", table("ITERABLE", "recommended_items")), json!({"resource": "user_to_items_reco"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["warnings"][0].as_str().unwrap().contains("exists (string)"), "{:?}", r.body);
    let r = api
        .patch(&table("ITERABLE", "x"), json!({"resource": "user_id", "connection_table_params": {"list_id": "12"}}))
        .await;
    assert_eq!((r.status, r.field()), (400, "connection_table_params.list_id"));
    let r = api.patch(&table("ITERABLE", "x"), json!({"resource": "item"})).await;
    assert_eq!((r.status, r.field()), (400, "resource"));

    // A catalog as an item source: declared types, a page of items.
    let r = api.post(&format!("{}test/", table("ITERABLE_FEED", "restaurants")), json!({"resource": "item"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["resource_params"]["columns_mapping"]["item_id"], "itemId", "inferred, loosely");
    let col = |name: &str| {
        r.body["sample"]["columns"].as_array().unwrap().iter().find(|c| c["name"] == name).cloned().unwrap()
    };
    assert_eq!(col("price")["type"], "float", "the catalog's declared type");
    assert_eq!(col("isVegetarianFriendly")["type"], "boolean");
    assert_eq!(r.body["sample"]["rows"][0]["name"], "The Duke");
    assert_eq!(api.patch(&table("ITERABLE_FEED", "restaurants"), r.body.clone()).await.status, 200);
    assert_eq!(api.get(&format!("{}test/", table("ITERABLE_FEED", "restaurants"))).await.body["status"], "available");
    let r = api.post(&format!("{}test/", table("ITERABLE_FEED", "nope")), json!({"resource": "item"})).await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
    let r = api
        .patch(&table("ITERABLE_FEED", "x"), json!({"resource": "item", "connection_table_params": {"catalog": "a/b"}}))
        .await;
    assert_eq!((r.status, r.field()), (400, "connection_table_params.catalog"));
    assert!(mock.requests().iter().all(|r| !r.path.contains("getUsers")), "the unbounded getUsers is never called");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iterable_catalogs_and_lists_are_validated_whole() {
    let mock = MockProvider::start(iterable);
    let app = TestApp::builder()
        .allow_private()
        .provider_url("ITERABLE", &mock.url)
        .provider_url("ITERABLE_FEED", &mock.url)
        .validating()
        .spawn()
        .await
        .unwrap();
    let api = app.api("acme", "manager");
    for kind in ["ITERABLE", "ITERABLE_FEED"] {
        let r = api.put(&format!("/connections/{kind}/"), json!({"credentials": {"api_key": "it-good"}})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let body = json!({"resource": "item", "resource_params": {"columns_mapping": {"item_id": "itemId"}}});
    assert_eq!(api.patch(&table("ITERABLE_FEED", "restaurants"), body).await.status, 200);
    let done = api.validated(&table("ITERABLE_FEED", "restaurants"), json!({}), Duration::from_secs(30)).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    // Four items over two pages, item 1 twice.
    let report = &done["report"];
    assert_eq!((report["rows"].as_u64(), report["invalid_rows"].as_u64()), (Some(4), Some(1)), "{report}");
    assert_eq!(report["violations"][0]["rule"], "duplicate", "{report}");
    assert_eq!(report["samples"][0]["value"], "1", "{report}");
    // A list whole: getUsers streamed, one user a line, u-1 twice.
    let list = json!({"resource": "user_id", "connection_table_params": {"list_id": 12345}});
    assert_eq!(api.patch(&table("ITERABLE", "Newsletter"), list).await.status, 200);
    let done = api.validated(&table("ITERABLE", "Newsletter"), json!({}), Duration::from_secs(30)).await;
    let report = &done["report"];
    assert_eq!((report["rows"].as_u64(), report["invalid_rows"].as_u64()), (Some(4), Some(1)), "{done}");
    assert_eq!((&report["samples"][0]["rule"], &report["samples"][0]["row"]), (&json!("duplicate"), &json!(4)));
    let done = api.validated(&table("ITERABLE", "Newsletter"), json!({"max_rows": 3}), Duration::from_secs(30)).await;
    assert_eq!(
        (done["report"]["rows"].as_u64(), done["report"]["truncated"].as_bool()),
        (Some(3), Some(true)),
        "{done}"
    );
}

/// Posts each credential to `kind`'s test: `None` must pass, `Some(reason)` fail with it.
async fn credential_cases(api: &gateway_testkit::Api<'_>, kind: &str, cases: &[(Value, Option<&str>)]) {
    for (creds, reason) in cases {
        let r = api.post(&format!("/connections/{kind}/test/"), json!({"credentials": creds})).await;
        match reason {
            None => assert_eq!(r.status, 200, "{kind} {creds}: {:?}", r.body),
            Some(reason) => assert_eq!(
                (r.status, r.body["error_data"]["reason"].as_str()),
                (400, Some(*reason)),
                "{kind} {creds}: {:?}",
                r.body
            ),
        }
    }
}

// ---- Klaviyo

/// Klaviyo as <https://developers.klaviyo.com/en/reference/api_overview> and its official SDK
/// (klaviyo/klaviyo-api-python, `*_api.py`: paths, scopes, page sizes) describe it:
/// `Authorization: Klaviyo-API-Key pk_...`, the `revision` header (2026-10-15, the current GA;
/// a retired one answers 410 to a client that opted out of falling forward:
/// <https://developers.klaviyo.com/en/docs/api_versioning_and_deprecation_policy>), the
/// JSON:API media type; JSON:API errors (401 `not_authenticated`, 403 `permission_denied` for
/// a missing scope, 429 `throttled` with `Retry-After`); `page[size]` at most 10 for lists and
/// segments, 100 for profiles and catalog items. Keys and their scopes: `pk_good...` every read
/// scope, `pk_lists...` lists:read and profiles:read only (no accounts:read), `pk_noscope...`
/// none of them.
fn klaviyo(r: &Recorded) -> Reply {
    let error = |status: u16, code: &str, detail: &str| {
        Reply::json(
            status,
            json!({"errors": [{"id": "0d9e2c54", "status": status, "code": code, "title": detail, "detail": detail, "source": {"pointer": "/data/"}}]}),
        )
    };
    if r.method != "GET" || r.header("accept") != Some("application/vnd.api+json") {
        return Reply::unexpected("Klaviyo calls are GETs with the JSON:API media type", r);
    }
    match r.header("revision") {
        Some("2026-10-15") => {}
        Some(old) if old < "2024-12-02" && r.header("x-klaviyo-revision-fall-forward-opt-out") == Some("1") => {
            return error(410, "gone", "This API revision has been retired.");
        }
        _ => return Reply::unexpected("the revision is 2026-10-15, the current GA one", r),
    }
    let key = r.header("authorization").and_then(|a| a.strip_prefix("Klaviyo-API-Key ")).unwrap_or_default();
    let scopes: &[&str] = match key {
        "pk_good0123456789" => &["lists:read", "segments:read", "profiles:read", "catalogs:read", "accounts:read"],
        "pk_lists0123456789" => &["lists:read", "profiles:read"],
        "pk_noscope0123456" => &[],
        "pk_limited0123456" => {
            return error(429, "throttled", "Request was throttled. Expected available in 9 seconds.")
                .header("retry-after", "9");
        }
        "pk_slow0123456789" => return Reply::json(200, json!({"data": []})).after(Duration::from_secs(5)),
        _ => return error(401, "not_authenticated", "Missing or invalid private key."),
    };
    let size = r.param("page[size]").and_then(|s| s.parse::<u32>().ok()).unwrap_or(0);
    let (needs, max): (&[&str], u32) = match r.path.as_str() {
        "/api/lists" => (&["lists:read"], 10),
        "/api/segments" => (&["segments:read"], 10),
        p if p.starts_with("/api/lists/") && p.ends_with("/profiles") => (&["lists:read", "profiles:read"], 100),
        p if p.starts_with("/api/segments/") && p.ends_with("/profiles") => (&["segments:read", "profiles:read"], 100),
        "/api/catalog-items" => (&["catalogs:read"], 100),
        _ => return Reply::unexpected("not a documented Klaviyo call", r),
    };
    if !needs.iter().all(|n| scopes.contains(n)) {
        return error(403, "permission_denied", "You do not have permission to perform this action.");
    }
    if size == 0 || size > max {
        return error(400, "invalid", &format!("page[size] must be between 1 and {max}"));
    }
    let profile = json!({"type": "profile", "id": "01GDDKASAP8TKDDA2GRZDSVP4H", "attributes": {"email": "sarah.mason@klaviyo-demo.com", "phone_number": "+15005550006",
        "external_id": "u-42", "first_name": "Sarah", "last_name": "Mason", "location": {"city": "New York", "zip": "10017"},
        "properties": {"pseudonym": "Dr. Octopus"}, "joined_group_at": "2022-11-08T00:00:00+00:00"},
        "links": {"self": "https://a.klaviyo.com/api/profiles/01GDDKASAP8TKDDA2GRZDSVP4H/"}});
    match r.path.as_str() {
        "/api/lists" => {
            Reply::json(200, json!({"data": [{"type": "list", "id": "Y6nRLr", "attributes": {"name": "Newsletter"}}]}))
        }
        "/api/segments" => {
            Reply::json(200, json!({"data": [{"type": "segment", "id": "Ab12Cd", "attributes": {"name": "VIPs"}}]}))
        }
        // Cursor pagination (<https://developers.klaviyo.com/en/docs/api_overview#pagination>):
        // `links.next` carries the next page's `page[cursor]`; the last page has none. The
        // list's second page: a profile without an external id, and u-42 again.
        "/api/lists/Y6nRLr/profiles" if r.param("page[cursor]").as_deref() == Some("bmV4dDo6Mg") => {
            let mut anonymous = profile.clone();
            anonymous["id"] = json!("01GDDKASAP8TKDDA2GRZDSVP4I");
            anonymous["attributes"]["external_id"] = Value::Null;
            Reply::json(
                200,
                json!({"data": [anonymous, profile], "links": {"self": "https://a.klaviyo.com/api/lists/Y6nRLr/profiles/", "next": null}}),
            )
        }
        "/api/lists/Y6nRLr/profiles" => Reply::json(
            200,
            json!({"data": [profile], "links": {"self": "https://a.klaviyo.com/api/lists/Y6nRLr/profiles/",
                   "next": format!("https://a.klaviyo.com/api/lists/Y6nRLr/profiles/?page%5Bcursor%5D=bmV4dDo6Mg&page%5Bsize%5D={size}")}}),
        ),
        "/api/segments/Ab12Cd/profiles" => Reply::json(200, json!({"data": [profile]})),
        "/api/catalog-items" if r.param("page[cursor]").as_deref() == Some("Y2F0Ojoy") => Reply::json(
            200,
            json!({"data": [{"type": "catalog-item", "id": "$custom:::$default:::SKU-2",
            "attributes": {"external_id": "SKU-2", "title": "Classic Varsity Top", "price": 60.0, "url": "https://shop.example.com/p/2"}}],
            "links": {"next": null}}),
        ),
        "/api/catalog-items" => Reply::json(
            200,
            json!({"data": [{"type": "catalog-item", "id": "$custom:::$default:::SKU-1",
            "attributes": {"external_id": "SKU-1", "title": "Ocean Blue Shirt", "price": 42.5, "url": "https://shop.example.com/p/1"}}],
            "links": {"next": format!("https://a.klaviyo.com/api/catalog-items/?page%5Bcursor%5D=Y2F0Ojoy&page%5Bsize%5D={size}")}}),
        ),
        _ => error(404, "not_found", "A list with id nope does not exist."),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn klaviyo_lists_segments_catalog_items_and_scopes() {
    let mock = MockProvider::start(klaviyo);
    let app = app_with("KLAVIYO", &mock).await;
    let api = app.api("acme", "manager");
    let k = |key: &str| json!({"private_api_key": key});
    credential_cases(
        &api,
        "KLAVIYO",
        &[
            (k("pk_good0123456789"), None),
            // A key scoped to its tables' reads, without accounts:read, is a good key.
            (k("pk_lists0123456789"), None),
            (k("pk_unknown0123456"), Some("wrong_credentials")),
            (k("pk_limited0123456"), Some("rate_limited")),
            (k("pk_slow0123456789"), Some("timeout")),
        ],
    )
    .await;
    for bad in ["abc123", "pk_", "pk_has space012345", "https://a.klaviyo.com"] {
        let r = api.put("/connections/KLAVIYO/", json!({"credentials": k(bad)})).await;
        assert_eq!((r.status, r.field()), (400, "credentials.private_api_key"), "{bad}");
    }

    assert_eq!(api.put("/connections/KLAVIYO/", json!({"credentials": k("pk_good0123456789")})).await.status, 200);
    let r = api.post(&format!("{}test/", table("KLAVIYO", "subscribers")), json!({"resource": "user", "connection_table_params": {"list_id": "Y6nRLr"}, "resource_params": {"columns_mapping": {"user_id": "external_id"}}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["sample"]["rows"][0]["location.city"], "New York", "nested attributes as dotted paths");
    assert_eq!(r.body["sample"]["rows"][0]["properties.pseudonym"], "Dr. Octopus");
    assert_eq!(api.patch(&table("KLAVIYO", "subscribers"), r.body.clone()).await.status, 200);
    assert_eq!(api.get(&format!("{}test/", table("KLAVIYO", "subscribers"))).await.body["status"], "available");
    // A segment and the catalog's items as sources.
    let r = api.post(&format!("{}test/", table("KLAVIYO", "vips")), json!({"resource": "user_id", "connection_table_params": {"segment_id": "Ab12Cd"}, "resource_params": {"columns_mapping": {"user_id": "external_id"}}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["connection_table_params"]["segment_id"], "Ab12Cd");
    let r = api
        .post(
            &format!("{}test/", table("KLAVIYO", "products")),
            json!({"resource": "item", "resource_params": {"columns_mapping": {"item_id": "external_id"}}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["sample"]["rows"][0]["title"], "Ocean Blue Shirt");
    assert_eq!(api.patch(&table("KLAVIYO", "products"), r.body.clone()).await.status, 200);
    let r = api.post(&format!("{}test/", table("KLAVIYO", "nope")), json!({"resource": "user_id"})).await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
    let r =
        api.post(&format!("{}test/", table("KLAVIYO", "recommended")), json!({"resource": "user_to_items_reco"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["warnings"][0].as_str().unwrap().contains("profiles:write"));
    let r = api
        .patch(
            &table("KLAVIYO", "x"),
            json!({"resource": "user", "connection_table_params": {"list_id": "../accounts"}}),
        )
        .await;
    assert_eq!((r.status, r.field()), (400, "connection_table_params.list_id"));

    // The stored key against its tables: lists and their profiles, the catalog's items.
    let r = api.post("/connections/KLAVIYO/test/", json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let names: Vec<&str> = r.body["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["authenticate", "read_lists", "read_list_profiles", "read_catalog_items"], "{:?}", r.body);
    assert_eq!(api.get("/connections/KLAVIYO/").await.body["status"], "available", "every use checked");
    // Every list table is read, not only the first: one whose list is gone fails, named.
    let gone = json!({"resource": "user", "connection_table_params": {"list_id": "Gone99"}});
    assert_eq!(api.patch(&table("KLAVIYO", "churned"), gone).await.status, 200);
    let r = api.post("/connections/KLAVIYO/test/", json!({})).await;
    assert_eq!((r.status, r.body["error_data"]["reason"].as_str()), (400, Some("resource_not_found")), "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("table 'churned'"), "{:?}", r.body);
    assert_eq!(api.delete(&table("KLAVIYO", "churned")).await.status, 204);
    // The lists-only key: known, and told which scope its item table needs.
    let r = api.post("/connections/KLAVIYO/test/", json!({"credentials": k("pk_lists0123456789")})).await;
    assert_eq!((r.status, r.body["error_data"]["reason"].as_str()), (400, Some("forbidden")), "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("add the catalogs:read scope"), "{:?}", r.body);
    // A key without the lists scope: a list's preview is forbidden, and says which scopes.
    assert_eq!(api.put("/connections/KLAVIYO/", json!({"credentials": k("pk_noscope0123456")})).await.status, 200);
    let r = api.get(&format!("{}test/", table("KLAVIYO", "subscribers"))).await;
    assert_eq!((r.status, r.body["error_data"]["reason"].as_str()), (400, Some("forbidden")), "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("lists:read, profiles:read"));
    assert_eq!(r.body["error_data"]["status"], "wrong_credentials", "recorded on the table");
    // Every call pinned the current revision and opted out of falling forward.
    assert!(mock.requests().iter().all(|r| r.header("revision") == Some("2026-10-15")
        && r.header("x-klaviyo-revision-fall-forward-opt-out") == Some("1")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn klaviyo_lists_and_catalog_items_are_validated_page_by_page() {
    let throttled = std::sync::atomic::AtomicBool::new(false);
    let mock = MockProvider::start(move |r| {
        // The second page is throttled once (Retry-After 1): waited out, then asked again.
        if r.param("page[cursor]").is_some() && !throttled.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Reply::json(
                429,
                json!({"errors": [{"status": 429, "code": "throttled", "title": "Request was throttled."}]}),
            )
            .header("retry-after", "1");
        }
        // A segment whose next page is named on another path: refused, never followed.
        if r.path == "/api/segments/Ab12Cd/profiles" {
            return Reply::json(
                200,
                json!({"data": [], "links": {"next": "https://a.klaviyo.com/api/profiles/?page%5Bcursor%5D=eA"}}),
            );
        }
        klaviyo(r)
    });
    let app = app_validating("KLAVIYO", &mock).await;
    let api = app.api("acme", "manager");
    let k = json!({"private_api_key": "pk_good0123456789"});
    assert_eq!(api.put("/connections/KLAVIYO/", json!({"credentials": k})).await.status, 200);
    let users = json!({"resource": "user", "connection_table_params": {"list_id": "Y6nRLr"}, "resource_params": {"columns_mapping": {"user_id": "external_id"}}});
    assert_eq!(api.patch(&table("KLAVIYO", "subscribers"), users).await.status, 200);
    let wait = Duration::from_secs(30);
    let done = api.validated(&table("KLAVIYO", "subscribers"), json!({}), wait).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let report = &done["report"];
    // Three profiles over two pages: one without an external id, one repeating u-42.
    assert_eq!((report["rows"].as_u64(), report["invalid_rows"].as_u64()), (Some(3), Some(2)), "{report}");
    assert_eq!(report["fields"]["user_id"]["column"], "external_id", "{report}");
    let pages: Vec<String> = mock
        .requests()
        .iter()
        .filter(|r| r.path == "/api/lists/Y6nRLr/profiles" && r.param("page[size]").as_deref() == Some("100"))
        .map(|r| {
            format!("{}|{}", r.param("page[size]").unwrap_or_default(), r.param("page[cursor]").unwrap_or_default())
        })
        .collect();
    assert_eq!(pages, ["100|", "100|bmV4dDo6Mg", "100|bmV4dDo6Mg"], "the throttled page asked again");

    let items = json!({"resource": "item", "resource_params": {"columns_mapping": {"item_id": "external_id"}}});
    assert_eq!(api.patch(&table("KLAVIYO", "products"), items).await.status, 200);
    let done = api.validated(&table("KLAVIYO", "products"), json!({}), wait).await;
    assert_eq!(
        (done["report"]["rows"].as_u64(), done["report"]["invalid_rows"].as_u64()),
        (Some(2), Some(0)),
        "{done}"
    );
    // max_rows within the first page: truncated, the next page not asked.
    let asked = mock.requests().len();
    let done = api.validated(&table("KLAVIYO", "products"), json!({"max_rows": 1}), wait).await;
    assert_eq!(
        (done["report"]["rows"].as_u64(), done["report"]["truncated"].as_bool()),
        (Some(1), Some(true)),
        "{done}"
    );
    assert!(mock.requests()[asked..].iter().all(|r| r.param("page[cursor]").is_none()));

    let vips = json!({"resource": "user_id", "connection_table_params": {"segment_id": "Ab12Cd"}, "resource_params": {"columns_mapping": {"user_id": "external_id"}}});
    assert_eq!(api.patch(&table("KLAVIYO", "vips"), vips).await.status, 200);
    let done = api.validated(&table("KLAVIYO", "vips"), json!({}), wait).await;
    assert_eq!(done["state"], "failed", "{done}");
    assert!(done["error"]["message"].as_str().unwrap().contains("refused"), "{done}");
    assert!(!mock.requests().iter().any(|r| r.path.starts_with("/api/profiles")), "the link's path was never asked");
    // A destination is not read.
    let reco = json!({"resource": "user_to_items_reco"});
    assert_eq!(api.patch(&table("KLAVIYO", "recommended"), reco).await.status, 200);
    let r = api.post(&format!("{}validations/", table("KLAVIYO", "recommended")), json!({})).await;
    assert_eq!((r.status, r.error_name()), (400, "WRONG_DATA_TYPE"), "{:?}", r.body);
}

// ---- Sailthru

/// Sailthru as <https://getstarted.sailthru.com/developers/api-basics/technical/> describes it:
/// `api_key`, `format`, `json` and `sig` in the query, `sig` = md5 of the secret and the sorted
/// parameter values, computed here by hand from the received values (not by the gateway's
/// code); `{"error": N, "errormsg"}` errors (3 unknown key, 5 bad signature, 15 unknown list, 43
/// rate limit); `GET /list` (<https://getstarted.sailthru.com/developers/api/list/>).
fn sailthru(r: &Recorded) -> Reply {
    use md5::{Digest, Md5};
    let secret = |key: &str| match key {
        "st-good" | "st-limited" => Some("st-secret"),
        _ => None,
    };
    if r.method != "GET" || r.path != "/list" {
        return Reply::unexpected("not a documented Sailthru call", r);
    }
    let (key, json_param, sig) = (
        r.param("api_key").unwrap_or_default(),
        r.param("json").unwrap_or_default(),
        r.param("sig").unwrap_or_default(),
    );
    if r.param("format").as_deref() != Some("json") || r.params().len() != 4 {
        return Reply::unexpected("api_key, format=json, json and sig", r);
    }
    let Some(secret) = secret(&key) else {
        return Reply::json(401, json!({"error": 3, "errormsg": "Invalid API key"}));
    };
    let mut values = [key.clone(), "json".to_owned(), json_param.clone()];
    values.sort();
    let expected: String =
        Md5::digest(format!("{secret}{}", values.concat()).as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    if sig != expected {
        return Reply::json(401, json!({"error": 5, "errormsg": "Authentication failed"}));
    }
    if key == "st-limited" {
        return Reply::json(429, json!({"error": 43, "errormsg": "Too many GET requests this minute to /list API"}))
            .header("x-rate-limit-reset", &(gateway_domain::now_seconds() + 30).to_string());
    }
    let params: Value = serde_json::from_str(&json_param).unwrap_or(Value::Null);
    match params["list"].as_str() {
        None => Reply::json(
            200,
            json!({"lists": [{"list_id": "58e68f1115dd96816a8b4ab0", "name": "100List", "email_count": 100, "valid_count": 98, "create_time": "Thu, 06 Apr 2017 14:55:13 -0400", "type": "normal"}]}),
        ),
        Some("100List") => Reply::json(
            200,
            json!({"list_id": "53df0861dd52b83c368c784b", "list": "100List", "create_time": "Tue, 03 Jun 2014 14:15:09 -0400", "send_time": "Wed, 21 Jan 2015 15:01:11 -0500", "count": 100, "type": "normal", "primary": true}),
        ),
        Some(other) => Reply::json(400, json!({"errormsg": format!("Unknown list: {other}"), "error": 15})),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sailthru_signed_requests_and_lists() {
    let mock = MockProvider::start(sailthru);
    let app = app_with("SAILTHRU", &mock).await;
    let api = app.api("acme", "manager");
    let c = |key: &str, secret: &str| json!({"api_key": key, "api_secret": secret});
    credential_cases(
        &api,
        "SAILTHRU",
        &[
            (c("st-good", "st-secret"), None),
            (c("st-unknown", "st-secret"), Some("wrong_credentials")),
            (c("st-good", "not-the-secret"), Some("wrong_credentials")),
            (c("st-limited", "st-secret"), Some("rate_limited")),
        ],
    )
    .await;
    let r = api.post("/connections/SAILTHRU/test/", json!({"credentials": c("st-good", "not-the-secret")})).await;
    assert!(
        r.body["message"].as_str().unwrap().contains("api_secret"),
        "a bad signature names the secret: {:?}",
        r.body
    );

    assert_eq!(api.put("/connections/SAILTHRU/", json!({"credentials": c("st-good", "st-secret")})).await.status, 200);
    let body = json!({"resource": "user_id", "resource_params": {"columns_mapping": {"user_id": "email"}}});
    let r = api.post(&format!("{}test/", table("SAILTHRU", "100List")), body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        r.body["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("100 members")),
        "{:?}",
        r.body
    );
    assert_eq!(r.body["sample"]["rows"], json!([]), "no read-only way to sample members");
    assert_eq!(api.patch(&table("SAILTHRU", "100List"), r.body.clone()).await.status, 200);
    // Nor to read them whole: a validation is refused up front, naming what can be validated.
    let r = api.post(&format!("{}validations/", table("SAILTHRU", "100List")), json!({})).await;
    assert_eq!((r.status, r.error_name(), r.field()), (400, "WRONG_DATA_TYPE", "connection"), "{:?}", r.body);
    let message = r.body["message"].as_str().unwrap();
    assert!(message.contains("SAILTHRU tables cannot be validated") && message.contains("SHOPIFY"), "{message}");
    assert_eq!(api.get(&format!("{}test/", table("SAILTHRU", "100List"))).await.body["status"], "available");
    let r = api.post(&format!("{}test/", table("SAILTHRU", "Gone")), json!({"resource": "user_id"})).await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
    assert!(mock.requests().iter().all(|r| r.param("sig").is_some_and(|s| s.len() == 32)));
}

// ---- Sendlane

/// Sendlane as its API v2 reference (<https://sendlane.stoplight.io/docs/api-documentation>)
/// describes it: `Authorization: Bearer <token>`, `Accept: application/json`; `GET /v2/lists`
/// and `GET /v2/lists/{listId}/contacts` paginated as `{data, links, meta}`; a 401 whose body is
/// text (`Unauthorized.`), 403 for an account blocked after many errors, 429 over 240 a minute.
fn sendlane(r: &Recorded) -> Reply {
    if r.method != "GET" || r.header("accept") != Some("application/json") {
        return Reply::unexpected("Sendlane reads are GETs accepting JSON", r);
    }
    match r.header("authorization") {
        Some("Bearer sl-good") => {}
        Some("Bearer sl-blocked") => {
            return Reply::json(403, json!({"message": "Forbidden", "errors": ["An error occurred"]}));
        }
        Some("Bearer sl-limited") => {
            return Reply::json(429, json!({"message": "Too Many Attempts.", "errors": []}))
                .header("retry-after", "20");
        }
        _ => return Reply::text(401, "Unauthorized.").header("content-type", "text/html; charset=UTF-8"),
    }
    let meta = json!({"current_page": 1, "from": 1, "last_page": 1, "path": "https://api.sendlane.com/v2/lists", "per_page": 100, "to": 1, "total": 1});
    let links = json!({"first": "https://api.sendlane.com/v2/lists?page=1", "last": "https://api.sendlane.com/v2/lists?page=1", "prev": null, "next": null});
    match (r.path.as_str(), r.query.as_str()) {
        ("/v2/lists", "limit=1&page=1" | "limit=100&page=1") => Reply::json(
            200,
            json!({"data": [
            {"id": 1, "name": "Customers", "description": "all buyers", "status": "active", "created": "2024-01-01 00:00:00", "flagged": "0"}
        ], "links": links, "meta": meta}),
        ),
        ("/v2/lists/1/contacts", "limit=10&page=1") => Reply::json(
            200,
            json!({"data": [
            {"id": 11, "custom_fields": [], "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee", "phone": "+15550001",
             "lifetime_value": 120.5, "lists": [{"id": 1, "name": "Customers"}], "subscribed": true, "suppressed": false, "tags": []}
        ], "links": links, "meta": meta}),
        ),
        // Two pages of 100 at most (`links.next` on the first): the second holds a contact
        // without an email and ann@ again.
        ("/v2/lists/1/contacts", "limit=100&page=1") => Reply::json(
            200,
            json!({"data": [
            {"id": 11, "email": "ann@example.com", "first_name": "Ann", "lifetime_value": 120.5, "subscribed": true},
            {"id": 12, "email": "bob@example.com", "first_name": "Bob", "lifetime_value": 3, "subscribed": true}
        ], "links": {"first": "https://api.sendlane.com/v2/lists/1/contacts?page=1", "prev": null, "next": "https://api.sendlane.com/v2/lists/1/contacts?page=2"},
           "meta": {"current_page": 1, "last_page": 2, "per_page": 100, "total": 4}}),
        ),
        ("/v2/lists/1/contacts", "limit=100&page=2") => Reply::json(
            200,
            json!({"data": [
            {"id": 13, "email": null, "first_name": "Cy", "subscribed": false},
            {"id": 11, "email": "ann@example.com", "first_name": "Ann", "lifetime_value": 120.5, "subscribed": true}
        ], "links": {"first": "https://api.sendlane.com/v2/lists/1/contacts?page=1", "prev": "https://api.sendlane.com/v2/lists/1/contacts?page=1", "next": null},
           "meta": {"current_page": 2, "last_page": 2, "per_page": 100, "total": 4}}),
        ),
        ("/v2/lists/404/contacts", _) => {
            Reply::json(404, json!({"message": "Not Found", "errors": ["An error occurred"]}))
        }
        _ => Reply::unexpected("not a documented Sendlane call", r),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sendlane_lists_and_contacts() {
    let mock = MockProvider::start(sendlane);
    let app = app_with("SENDLANE", &mock).await;
    let api = app.api("acme", "manager");
    let t = |token: &str| json!({"api_token": token});
    credential_cases(
        &api,
        "SENDLANE",
        &[
            (t("sl-good"), None),
            (t("sl-bad"), Some("wrong_credentials")),
            (t("sl-blocked"), Some("forbidden")),
            (t("sl-limited"), Some("rate_limited")),
        ],
    )
    .await;
    let r = api.post("/connections/SENDLANE/test/", json!({"credentials": t("sl-bad")})).await;
    assert!(r.body["message"].as_str().unwrap().contains("Unauthorized."), "the text body is read: {:?}", r.body);
    let r = api.post("/connections/SENDLANE/test/", json!({"credentials": t("sl-limited")})).await;
    assert!(r.body["message"].as_str().unwrap().contains("retry in 20 s"), "{:?}", r.body);

    assert_eq!(api.put("/connections/SENDLANE/", json!({"credentials": t("sl-good")})).await.status, 200);
    let body = json!({"resource": "user", "resource_params": {"columns_mapping": {"user_id": "email"}}});
    let r = api.post(&format!("{}test/", table("SENDLANE", "Customers")), body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["connection_table_params"]["list_id"], 1, "found by name");
    assert_eq!(r.body["sample"]["rows"][0]["email"], "ann@example.com");
    assert_eq!(api.patch(&table("SENDLANE", "Customers"), r.body.clone()).await.status, 200);
    assert_eq!(api.get(&format!("{}test/", table("SENDLANE", "Customers"))).await.body["status"], "available");
    let r = api
        .post(
            &format!("{}test/", table("SENDLANE", "x")),
            json!({"resource": "user_id", "connection_table_params": {"list_id": 404}}),
        )
        .await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
    let r = api.post(&format!("{}test/", table("SENDLANE", "Nobody")), json!({"resource": "user_id"})).await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sendlane_list_is_validated_page_by_page() {
    let mock = MockProvider::start(sendlane);
    let app = app_validating("SENDLANE", &mock).await;
    let api = app.api("acme", "manager");
    assert_eq!(api.put("/connections/SENDLANE/", json!({"credentials": {"api_token": "sl-good"}})).await.status, 200);
    // Found by name as the preview finds it, then its contacts page by page.
    let body = json!({"resource": "user", "resource_params": {"columns_mapping": {"user_id": "email"}}});
    assert_eq!(api.patch(&table("SENDLANE", "Customers"), body).await.status, 200);
    let done = api.validated(&table("SENDLANE", "Customers"), json!({}), Duration::from_secs(30)).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let report = &done["report"];
    assert_eq!((report["rows"].as_u64(), report["invalid_rows"].as_u64()), (Some(4), Some(2)), "{report}");
    let rules: Vec<&str> =
        report["violations"].as_array().unwrap().iter().map(|v| v["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["missing", "duplicate"], "{report}");
    let pages: Vec<&str> = mock
        .requests()
        .iter()
        .filter(|r| r.path == "/v2/lists/1/contacts" && r.query.starts_with("limit=100"))
        .map(|r| if r.query.ends_with("page=1") { "1" } else { "2" })
        .collect();
    assert_eq!(pages, ["1", "2"]);
}

// ---- Movable Ink

/// No read-only endpoint exists: the test must say so, never "valid", and call nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn movable_ink_says_it_cannot_verify() {
    let mock = MockProvider::start(|r| Reply::unexpected("the gateway must not call Movable Ink", r));
    let app = app_with("MOVABLE_INK", &mock).await;
    let api = app.api("acme", "manager");
    let creds = json!({"access_key_id": "AKMI1234", "access_secret": "mi-secret", "endpoint_key": "abc123key"});
    let r = api.post("/connections/MOVABLE_INK/test/", json!({"credentials": creds})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["steps"][0]["outcome"], "skipped");
    assert!(r.body["warnings"][0].as_str().unwrap().contains("no read-only verification"), "{:?}", r.body);
    assert!(!r.body.to_string().contains("passed"));
    for (field, value) in
        [("endpoint_key", "a/b"), ("collector", "evil.com"), ("collector", "127.0.0.1"), ("access_key_id", "x@y")]
    {
        let mut bad = creds.clone();
        bad[field] = json!(value);
        let r = api.put("/connections/MOVABLE_INK/", json!({"credentials": bad})).await;
        assert_eq!((r.status, r.field()), (400, format!("credentials.{field}").as_str()), "{value}");
    }
    // The endpoint URL pasted whole, as partner guides say: stored as its key and collector.
    let pasted = json!({"access_key_id": "AKMI1234", "access_secret": "mi-secret",
                        "endpoint_key": "https://collector.movableink-dmz.com/behavioral/abc123key"});
    let r = api.put("/connections/MOVABLE_INK/", json!({"credentials": pasted})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let stored = app
        .store
        .get_connection(
            &gateway_domain::OrganizationId::parse("acme").unwrap(),
            gateway_domain::ConnectionKind::MovableInk,
        )
        .unwrap()
        .unwrap();
    assert_eq!(stored.credentials.expose()["endpoint_key"], "abc123key");
    assert_eq!(stored.credentials.expose()["collector"], "collector.movableink-dmz.com");
    assert_eq!(api.put("/connections/MOVABLE_INK/", json!({"credentials": creds})).await.status, 200);
    let r =
        api.post(&format!("{}test/", table("MOVABLE_INK", "recos")), json!({"resource": "user_to_items_reco"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["connection_table_params"]["event"], "recos");
    let r = api.patch(&table("MOVABLE_INK", "recos"), json!({"resource": "user"})).await;
    assert_eq!((r.status, r.field()), (400, "resource"), "destinations only");
    assert!(mock.requests().is_empty(), "no call was made");
}

async fn test(api: &gateway_testkit::Api<'_>, key: &str) -> gateway_testkit::Resp {
    api.post("/connections/BRAZE/test/", json!({"credentials": braze_creds(key)})).await
}

/// An organization's provider calls are limited: so many at once (429 while they run), so
/// many a minute (429 with Retry-After); another organization is not held up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_cannot_crowd_out_the_others() {
    let mock = MockProvider::start(braze);
    let limits =
        gateway_service::LimitSettings { global_calls: 8, org_calls: 1, org_tests_per_minute: 3, ..Default::default() };
    let app = TestApp::builder()
        .allow_private()
        .provider_url("BRAZE", &mock.url)
        .connector_timeout(Duration::from_secs(2))
        .limits(limits)
        .spawn()
        .await
        .unwrap();
    let (acme, globex) = (app.api("acme", "manager"), app.api("globex", "manager"));
    // One slow call in flight: a second one of acme's is refused, globex's goes through.
    let (slow, second, other) = tokio::join!(
        test(&acme, "braze-slow"),
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            test(&acme, "braze-good").await
        },
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            test(&globex, "braze-good").await
        }
    );
    assert_eq!(slow.body["error_data"]["reason"], "timeout", "{:?}", slow.body);
    assert_eq!((second.status, second.error_name()), (429, "TOO_MANY_REQUESTS"), "{:?}", second.body);
    assert_eq!(second.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    assert_eq!(other.status, 200, "another organization is not held up: {:?}", other.body);
    // Three tests a minute: acme has made two (the one refused above counts too), a third
    // passes, a fourth is refused with when to retry.
    assert_eq!(test(&acme, "braze-good").await.status, 200);
    let r = test(&acme, "braze-good").await;
    assert_eq!((r.status, r.error_name()), (429, "TOO_MANY_REQUESTS"), "{:?}", r.body);
    let after: u64 = r.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&after), "{after}");
}

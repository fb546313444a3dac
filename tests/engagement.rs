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
        Some("Bearer braze-limited") => {
            let reset = (gateway_domain::now_seconds() + 42).to_string();
            return Reply::json(429, json!({"message": "Rate Limited"}))
                .header("x-ratelimit-limit", "50")
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", &reset);
        }
        Some("Bearer braze-slow") => return Reply::json(200, braze_catalogs()).after(Duration::from_secs(5)),
        _ => return Reply::json(401, json!({"message": "Invalid API key"})),
    }
    match (r.path.as_str(), r.query.as_str()) {
        ("/catalogs", "") => Reply::json(200, braze_catalogs()),
        // <https://www.braze.com/docs/api/endpoints/catalogs/catalog_items/asynchronous/get_catalog_items_details_bulk/>
        ("/catalogs/restaurants/items", "") => Reply::json(
            200,
            json!({"items": [
            {"id": "restaurant1", "Name": "Restaurant1", "City": "New York", "Cuisine": "American", "Rating": 5, "Loyalty_Program": true, "Open_Time": "2022-11-02T09:03:19.967Z"},
            {"id": "restaurant2", "Name": "Restaurant2", "City": "New York", "Cuisine": "American", "Rating": 10, "Loyalty_Program": true, "Open_Time": "2022-11-02T09:03:19.967Z"}
        ], "message": "success"}),
        ),
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
    assert_eq!(
        (r.body["steps"][0]["name"].as_str(), r.body["steps"][0]["outcome"].as_str()),
        (Some("list_catalogs"), Some("passed"))
    );
    assert!(r.body["warnings"][0].as_str().unwrap().contains("no read-only check"), "{:?}", r.body);
    assert_eq!(mock.requests().last().unwrap().line(), "GET /catalogs");

    for (key, reason, says) in [
        ("braze-wrong", "wrong_credentials", "another instance"),
        ("braze-no-perm", "forbidden", "catalogs.get"),
        ("braze-limited", "rate_limited", "retry in"),
        ("braze-slow", "timeout", "did not answer"),
    ] {
        let r = test(braze_creds(key)).await;
        assert_eq!((r.status, r.body["error_data"]["reason"].as_str()), (400, Some(reason)), "{key}: {:?}", r.body);
        assert!(r.body["message"].as_str().unwrap().contains(says), "{key}: {:?}", r.body);
    }

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
    let r = api.patch(&table("BRAZE", "r"), json!({"resource": "item"})).await;
    assert_eq!((r.status, r.field()), (400, "resource"), "Braze tables are recommendation destinations");

    // Nothing strayed from the documented calls.
    assert!(mock.requests().iter().all(|r| r.header("authorization").is_some_and(|a| a.starts_with("Bearer "))));
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
        // text/plain, one identifier a line.
        ("/api/lists/previewUsers", "listId=12345&preferUserId=true&size=10") => {
            Reply::text(200, "u-1\nann@example.com\r\nu-3\n")
        }
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

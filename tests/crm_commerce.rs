//! Salesforce and Shopify against local mocks written from their references (cited beside
//! each mock): credentials valid, wrong, forbidden; the token step and the API step reported
//! apart; previews of each table kind; host rules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gateway_testkit::{MockProvider, Recorded, Reply, TestApp};
use serde_json::{Value, json};

fn table(kind: &str, name: &str) -> String {
    format!("/connections/{kind}/tables/{name}/")
}

async fn app_with(peer: &str, mock: &MockProvider) -> TestApp {
    TestApp::builder()
        .allow_private()
        .provider_url(peer, &mock.url)
        .connector_timeout(Duration::from_secs(2))
        .spawn()
        .await
        .unwrap()
}

// ---- Salesforce

/// Salesforce as documented: the client-credentials token
/// (<https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_client_credentials_flow.htm>:
/// a form with `grant_type`, `client_id`, `client_secret`; the answer's `instance_url`), OAuth2
/// errors (`invalid_client`, `invalid_grant` "no client credentials user enabled"); REST with
/// `Authorization: Bearer`, `[{"message","errorCode"}]` errors; `limits`, `sobjects`,
/// `describe` and `query` as in the REST guide's examples.
fn salesforce(r: &Recorded) -> Reply {
    let err =
        |status: u16, code: &str, message: &str| Reply::json(status, json!([{"message": message, "errorCode": code}]));
    if r.method == "POST" && r.path == "/services/oauth2/token" {
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&r.body).into_owned().collect();
        let get = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        if get("grant_type") != Some("client_credentials")
            || r.header("content-type") != Some("application/x-www-form-urlencoded")
        {
            return Reply::unexpected("the documented token request", r);
        }
        let token = match (get("client_id"), get("client_secret")) {
            (Some("sf-app"), Some("sf-secret")) => "00Dgood",
            (Some("sf-limited-perm"), Some("sf-secret")) => "00Dnolimits",
            (Some("sf-noapi"), Some("sf-secret")) => "00Dnoapi",
            (Some("sf-evil"), Some("sf-secret")) => {
                return Reply::json(
                    200,
                    json!({"access_token": "00Devil", "instance_url": "https://evil.example.com", "token_type": "Bearer", "issued_at": "1700000000000", "id": "x", "signature": "s"}),
                );
            }
            (Some("sf-nouser"), _) => {
                return Reply::json(
                    400,
                    json!({"error": "invalid_grant", "error_description": "no client credentials user enabled"}),
                );
            }
            _ => {
                return Reply::json(
                    400,
                    json!({"error": "invalid_client", "error_description": "invalid client credentials"}),
                );
            }
        };
        return Reply::json(
            200,
            json!({"access_token": token, "signature": "sig", "scope": "api", "instance_url": "https://acme.my.salesforce.com",
            "id": "https://acme.my.salesforce.com/id/00Dxx/005xx", "token_type": "Bearer", "issued_at": "1700000000000"}),
        );
    }
    let token = r.header("authorization").and_then(|a| a.strip_prefix("Bearer ")).unwrap_or_default();
    if r.method != "GET" || !r.path.starts_with("/services/data/v62.0/") {
        return Reply::unexpected("REST GETs of the pinned version", r);
    }
    match token {
        "00Dgood" | "00Dnolimits" => {}
        "00Dnoapi" => return err(403, "API_DISABLED_FOR_ORG", "API is not enabled for this Organization or Partner"),
        _ => return err(401, "INVALID_SESSION_ID", "Session expired or invalid"),
    }
    match (r.path.trim_start_matches("/services/data/v62.0"), r.query.as_str()) {
        ("/limits/", "") if token == "00Dnolimits" => {
            err(403, "INSUFFICIENT_ACCESS", "insufficient access rights on object id")
        }
        ("/limits/", "") => Reply::json(
            200,
            json!({"DailyApiRequests": {"Max": 5000, "Remaining": 4937}, "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000}}),
        ),
        ("/sobjects/", "") => Reply::json(
            200,
            json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [{"name": "Account"}, {"name": "Contact"}]}),
        ),
        ("/sobjects/Contact/describe/", "") => Reply::json(
            200,
            json!({"name": "Contact", "fields": [
            {"name": "Id", "type": "id"}, {"name": "Email", "type": "email"}, {"name": "LastName", "type": "string"},
            {"name": "Birthdate", "type": "date"}, {"name": "Photo", "type": "base64"}, {"name": "MailingAddress", "type": "address"}]}),
        ),
        ("/sobjects/Nope__c/describe/", "") => err(404, "NOT_FOUND", "The requested resource does not exist"),
        ("/query/", _) => match r.param("q").as_deref() {
            Some("SELECT Id, Email, LastName, Birthdate, MailingAddress FROM Contact LIMIT 10") => Reply::json(
                200,
                json!({"done": true, "totalSize": 2, "records": [
                {"attributes": {"type": "Contact", "url": "/services/data/v62.0/sobjects/Contact/003A"}, "Id": "003A", "Email": "ann@example.com", "LastName": "Lee", "Birthdate": "1990-02-01", "MailingAddress": {"city": "Paris"}},
                {"attributes": {"type": "Contact", "url": "/services/data/v62.0/sobjects/Contact/003B"}, "Id": "003B", "Email": "bo@example.com", "LastName": "Ray", "Birthdate": null, "MailingAddress": null}]}),
            ),
            _ => err(400, "MALFORMED_QUERY", "unexpected query"),
        },
        _ => Reply::unexpected("not a documented Salesforce call", r),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_token_api_and_sobjects() {
    let mock = MockProvider::start(salesforce);
    let app = app_with("SALESFORCE", &mock).await;
    let api = app.api("acme", "manager");
    let c = |id: &str| json!({"domain": "acme", "client_id": id, "client_secret": "sf-secret"});
    let test = |creds: Value| {
        let api = &api;
        async move { api.post("/connections/SALESFORCE/test/", json!({"credentials": creds})).await }
    };
    let r = test(c("sf-app")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["steps"][1]["message"].as_str().unwrap().contains("4937 of 5000"), "{:?}", r.body);
    let r = test(c("sf-limited-perm")).await;
    assert_eq!(r.status, 200, "falls back to the sObject list: {:?}", r.body);
    assert!(r.body["steps"][1]["message"].as_str().unwrap().contains("sobjects"), "{:?}", r.body);
    for (id, step, reason, says) in [
        ("sf-wrong", "token", "wrong_credentials", "invalid client credentials"),
        ("sf-nouser", "token", "wrong_credentials", "no client credentials user enabled"),
        ("sf-noapi", "api_access", "forbidden", "API_DISABLED_FOR_ORG"),
        ("sf-evil", "token", "wrong_specification", "instance_url"),
    ] {
        let r = test(c(id)).await;
        assert_eq!((r.status, r.body["error_data"]["reason"].as_str()), (400, Some(reason)), "{id}: {:?}", r.body);
        let message = r.body["message"].as_str().unwrap();
        assert!(message.starts_with(step) && message.contains(says), "{id}: {message}");
    }
    assert!(mock.requests().iter().all(|r| r.header("host").is_some()), "every call reached the mock");

    // The contract's own example, as written, and the host rules.
    let spec = json!({"credentials": {"domain": "fake-domain", "client_id": "fake-client_id", "client_secret": "fake-client_secret"}});
    let r = api.put("/connections/SALESFORCE/", spec).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["credentials"]["domain"], "fake-domain.my.salesforce.com");
    for bad in [
        "evil.com",
        "acme.my.salesforce.com.evil.com",
        "127.0.0.1",
        "localhost",
        "https://acme.my.salesforce.com:8443",
        "u@acme",
    ] {
        let r = api
            .put(
                "/connections/SALESFORCE/",
                json!({"credentials": {"domain": bad, "client_id": "x", "client_secret": "y"}}),
            )
            .await;
        assert_eq!((r.status, r.field()), (400, "credentials.domain"), "{bad}: {:?}", r.body);
    }

    // An sObject as a user source: describe for columns, LIMIT 10 for rows.
    assert_eq!(api.put("/connections/SALESFORCE/", json!({"credentials": c("sf-app")})).await.status, 200);
    let body = json!({"resource": "user", "resource_params": {"columns_mapping": {"user_id": "Id"}}});
    let r = api.post(&format!("{}test/", table("SALESFORCE", "Contact")), body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let columns: Vec<&str> =
        r.body["sample"]["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(columns, ["Id", "Email", "LastName", "Birthdate", "MailingAddress"], "base64 left out");
    assert_eq!(r.body["sample"]["columns"][3]["type"], "timestamp");
    assert_eq!(r.body["sample"]["rows"][0]["Email"], "ann@example.com");
    assert!(r.body["sample"]["rows"][0].get("attributes").is_none());
    assert_eq!(api.patch(&table("SALESFORCE", "Contact"), r.body.clone()).await.status, 200);
    assert_eq!(api.get(&format!("{}test/", table("SALESFORCE", "Contact"))).await.body["status"], "available");
    let r = api.post(&format!("{}test/", table("SALESFORCE", "Nope__c")), json!({"resource": "item"})).await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
    let r = api
        .patch(
            &table("SALESFORCE", "x"),
            json!({"resource": "user", "connection_table_params": {"object": "Contact WHERE Id != null"}}),
        )
        .await;
    assert_eq!((r.status, r.field()), (400, "connection_table_params.object"));
}

/// A SaaS object's schema history: an sObject whose describe gains a field and loses an
/// unmapped one between two tests keeps both schemas (added and removed, the status kept,
/// warned); a mapped field gone then fails the table naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_salesforce_objects_fields_are_kept_in_the_schema_history() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU8, Ordering};
    let stage = Arc::new(AtomicU8::new(0));
    let seen = stage.clone();
    let mock = MockProvider::start(move |r| {
        let contact = r.path.ends_with("/sobjects/Contact/describe/");
        if !contact && !r.path.ends_with("/query/") {
            return salesforce(r);
        }
        // The documented shapes, the fields as each stage has them.
        let fields: &[(&str, &str)] = match seen.load(Ordering::SeqCst) {
            0 => &[("Id", "id"), ("Email", "email"), ("Birthdate", "date")],
            1 => &[("Id", "id"), ("Email", "email"), ("Phone", "phone")],
            _ => &[("Email", "email"), ("Phone", "phone")],
        };
        if contact {
            let fields: Vec<Value> = fields.iter().map(|(n, t)| json!({"name": n, "type": t})).collect();
            return Reply::json(200, json!({"name": "Contact", "fields": fields}));
        }
        let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
        if r.param("q") != Some(format!("SELECT {} FROM Contact LIMIT 10", names.join(", "))) {
            return Reply::unexpected("a query of the described fields", r);
        }
        let record: serde_json::Map<String, Value> =
            names.iter().map(|n| ((*n).to_owned(), json!(format!("{n}-1")))).collect();
        Reply::json(200, json!({"done": true, "totalSize": 1, "records": [record]}))
    });
    let app = app_with("SALESFORCE", &mock).await;
    let api = app.api("acme", "manager");
    let creds = json!({"domain": "acme", "client_id": "sf-app", "client_secret": "sf-secret"});
    assert_eq!(api.put("/connections/SALESFORCE/", json!({"credentials": creds})).await.status, 200);
    let contact = table("SALESFORCE", "Contact");
    let body = json!({"resource": "user", "resource_params": {"columns_mapping": {"user_id": "Id"}}});
    assert_eq!(api.patch(&contact, body).await.status, 200);
    let test = || async { api.get(&format!("{contact}test/")).await };
    assert_eq!(test().await.body["status"], "available");
    let h = api.get(&format!("{contact}schema/")).await.body;
    let names: Vec<&str> =
        h["current"]["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Id", "Email", "Birthdate"], "{h}");

    stage.store(1, Ordering::SeqCst);
    let r = test().await;
    assert_eq!(r.body["status"], "available", "unmapped fields changed: {:?}", r.body);
    assert!(r.body["warnings"].to_string().contains("added Phone"), "{:?}", r.body);
    let h = api.get(&format!("{contact}schema/")).await.body;
    assert_eq!(h["history"][0]["added"], json!([{"name": "Phone", "type": "string"}]), "{h}");
    assert_eq!(h["history"][0]["removed"], json!([{"name": "Birthdate", "type": "timestamp"}]), "{h}");

    stage.store(2, Ordering::SeqCst);
    let r = test().await;
    assert_eq!((r.status, r.body["error_data"]["status"].as_str()), (400, Some("wrong_specification")), "{:?}", r.body);
    assert_eq!(r.field(), "resource_params.columns_mapping.user_id", "{:?}", r.body);
    let h = api.get(&format!("{contact}schema/")).await.body;
    assert_eq!(h["history"][0]["removed"], json!([{"name": "Id", "type": "string"}]), "{h}");
    assert_eq!(h["history"].as_array().map(Vec::len), Some(3), "{h}");
}

/// A Salesforce object validated whole, page by page as the REST guide shows query paging
/// (`done`, `nextRecordsUrl` of a query locator): every row of both pages counted by the
/// resource's rules; `max_rows` stops early and says so; a `nextRecordsUrl` that is not a
/// locator of the pinned version is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_salesforce_object_is_validated_page_by_page() {
    let mock = MockProvider::start(|r| {
        let contact = |id: Value, email: &str| json!({"attributes": {"type": "Contact", "url": "/services/data/v62.0/sobjects/Contact/x"}, "Id": id, "Email": email});
        match (r.path.trim_start_matches("/services/data/v62.0"), r.param("q").as_deref()) {
            ("/sobjects/Contact/describe/", _) => Reply::json(
                200,
                json!({"name": "Contact", "fields": [{"name": "Id", "type": "id"}, {"name": "Email", "type": "email"}]}),
            ),
            ("/sobjects/Lead/describe/", _) => {
                Reply::json(200, json!({"name": "Lead", "fields": [{"name": "Id", "type": "id"}]}))
            }
            ("/query/", Some("SELECT Id, Email FROM Contact")) => Reply::json(
                200,
                json!({"totalSize": 5, "done": false, "nextRecordsUrl": "/services/data/v62.0/query/01gD0000002HU6KIAW-3",
                       "records": [contact(json!("003A"), "a@x.io"), contact(json!("003B"), "b@x.io"), contact(json!("003C"), "c@x.io")]}),
            ),
            ("/query/01gD0000002HU6KIAW-3", None) => Reply::json(
                200,
                json!({"totalSize": 5, "done": true, "records": [contact(Value::Null, "d@x.io"), contact(json!("003A"), "e@x.io")]}),
            ),
            ("/query/", Some("SELECT Id FROM Lead")) => Reply::json(
                200,
                json!({"totalSize": 2, "done": false, "nextRecordsUrl": "https://evil.example.com/q", "records": [{"Id": "00QA"}]}),
            ),
            _ => salesforce(r),
        }
    });
    let app =
        TestApp::builder().allow_private().provider_url("SALESFORCE", &mock.url).validating().spawn().await.unwrap();
    let api = app.api("acme", "manager");
    let creds = json!({"domain": "acme", "client_id": "sf-app", "client_secret": "sf-secret"});
    assert_eq!(api.put("/connections/SALESFORCE/", json!({"credentials": creds})).await.status, 200);
    let validate = |name: &'static str, body: Value| {
        let api = &api;
        async move { api.validated(&table("SALESFORCE", name), body, Duration::from_secs(30)).await }
    };
    let mapping = json!({"resource": "user", "resource_params": {"columns_mapping": {"user_id": "Id"}}});
    assert_eq!(api.patch(&table("SALESFORCE", "Contact"), mapping.clone()).await.status, 200);
    let done = validate("Contact", json!({})).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let report = &done["report"];
    // Five rows over two pages: one without an Id, one repeating 003A.
    assert_eq!(
        (report["rows"].as_u64(), report["invalid_rows"].as_u64(), report["truncated"].as_bool()),
        (Some(5), Some(2), Some(false)),
        "{report}"
    );
    let rules: Vec<(&str, u64)> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["rule"].as_str().unwrap(), v["rows"].as_u64().unwrap()))
        .collect();
    assert_eq!(rules, [("missing", 1), ("duplicate", 1)], "{report}");
    assert_eq!(report["samples"][0]["file"], "Contact", "{report}");
    assert_eq!(report["samples"][1]["row"], 5, "{report}");

    // max_rows stops within the first page: truncated, the second page never asked for.
    let asked = mock.requests().len();
    let done = validate("Contact", json!({"max_rows": 2})).await;
    assert_eq!(
        (done["report"]["rows"].as_u64(), done["report"]["truncated"].as_bool()),
        (Some(2), Some(true)),
        "{done}"
    );
    assert!(!mock.requests()[asked..].iter().any(|r| r.path.ends_with("-3")), "the next page was not read");

    // A next page named elsewhere than a query locator: refused, never followed.
    assert_eq!(api.patch(&table("SALESFORCE", "Lead"), mapping).await.status, 200);
    let done = validate("Lead", json!({})).await;
    assert_eq!(done["state"], "failed", "{done}");
    assert!(done["error"]["message"].as_str().unwrap().contains("nextRecordsUrl"), "{done}");
    assert!(mock.requests().iter().all(|r| !r.path.contains("evil")));
}

// ---- Shopify

/// Shopify as documented today. Tokens: the client-credentials grant of a Dev Dashboard app
/// (<https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/client-credentials-grant>:
/// `POST /admin/oauth/access_token` with `client_id`, `client_secret`,
/// `grant_type=client_credentials`, as a form or as JSON, the way Shopify's Node SDK sends it;
/// `{"access_token", "scope", "expires_in": 86399}`; `shop_not_permitted` for an app of
/// another organization), or a legacy custom app's static token. `X-Shopify-Access-Token` on
/// every call; `GET /admin/oauth/access_scopes.json` (unversioned,
/// <https://shopify.dev/docs/api/admin-rest/latest/resources/accessscope>); the GraphQL Admin
/// API on the pinned version (<https://shopify.dev/docs/api/admin-graphql>), `ACCESS_DENIED`
/// naming the scope a query lacks; REST-style `{"errors": ...}` bodies for 401, 402, 423 and
/// 429 with `Retry-After: 2.0` (<https://shopify.dev/docs/api/usage/response-codes>).
///
/// Bulk queries (<https://shopify.dev/docs/api/usage/bulk-operations/queries>):
/// `bulkOperationRunQuery(query:, groupObjects:)` (the pinned version defaults `groupObjects`
/// to false: <https://shopify.dev/changelog/bulk-operations-group-objects-default-changed-to-false>),
/// polled by `bulkOperation(id:)` (2026-01 and later), a `FAILED` operation with
/// `ACCESS_DENIED` for a scope the query lacks; the finished JSONL file at a signed URL (here
/// on the mock's own host), one node a line, a nested connection's nodes naming their parent
/// in `__parentId`, right below it only when grouped.
fn shopify(r: &Recorded) -> Reply {
    let errors = |status: u16, e: &str| Reply::json(status, json!({"errors": e}));
    if let Some(file) = r.path.strip_prefix("/bulk-operation-outputs/") {
        if r.method != "GET" || r.header("x-shopify-access-token").is_some() {
            return Reply::unexpected("a signed URL is fetched as it is, without the token", r);
        }
        let product = |id: u64, title: &str| json!({"id": format!("gid://shopify/Product/{id}"), "legacyResourceId": id.to_string(), "title": title, "handle": title.to_lowercase(), "vendor": "Apple", "productType": "Cult Products", "status": "ACTIVE", "updatedAt": "2026-11-01T10:00:00Z"});
        let order = |id: u64, customer: Value| json!({"id": format!("gid://shopify/Order/{id}"), "legacyResourceId": id.to_string(), "name": "#1001", "createdAt": "2026-11-10T11:00:00-05:00", "currencyCode": "USD", "customer": customer});
        let item = |order: u64, id: u64, product: u64| json!({"legacyResourceId": id.to_string(), "quantity": 1, "product": {"legacyResourceId": product.to_string()}, "variant": {"legacyResourceId": "39072856"}, "originalUnitPriceSet": {"shopMoney": {"amount": "199.0"}}, "__parentId": format!("gid://shopify/Order/{order}")});
        let lines: Vec<Value> = match file {
            "products.jsonl" => {
                vec![product(632910392, "IPod Nano"), product(921728736, "IPod Touch"), product(632910392, "IPod Nano")]
            }
            "customers.jsonl" => vec![
                json!({"id": "gid://shopify/Customer/1073339464", "legacyResourceId": "1073339464", "email": "steve@example.com", "firstName": "Steve", "lastName": "Lastnameson", "numberOfOrders": "2", "createdAt": "2026-01-10T11:00:00Z", "updatedAt": "2026-01-10T11:00:00Z", "defaultAddress": {"city": "Montreal", "country": "Canada"}}),
            ],
            // Grouped: each order's line items right below it; the second order has no customer.
            "orders-grouped.jsonl" => vec![
                order(450789469, json!({"legacyResourceId": "207119551"})),
                item(450789469, 466157049, 632910392),
                item(450789469, 518995019, 921728736),
                order(450789470, Value::Null),
                item(450789470, 518995020, 632910392),
            ],
            // Not grouped: children anywhere, here before their orders.
            "orders.jsonl" => vec![
                item(450789469, 466157049, 632910392),
                item(450789469, 518995019, 921728736),
                order(450789469, json!({"legacyResourceId": "207119551"})),
            ],
            _ => return Reply::json(404, json!({"error": "NoSuchKey"})),
        };
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        return Reply::text(200, &body).header("content-type", "application/jsonl");
    }
    if r.method == "POST" && r.path == "/admin/oauth/access_token" {
        let body: Value = if r.header("content-type") == Some("application/json") {
            serde_json::from_slice(&r.body).unwrap_or(Value::Null)
        } else {
            let form: std::collections::HashMap<String, String> =
                url::form_urlencoded::parse(&r.body).into_owned().collect();
            json!(form)
        };
        if body["grant_type"] != "client_credentials" {
            return Reply::unexpected("the client-credentials grant", r);
        }
        return match (body["client_id"].as_str(), body["client_secret"].as_str()) {
            (Some("app-good"), Some("app-secret")) => Reply::json(
                200,
                json!({"access_token": "shpca_minted_all", "scope": "read_products,read_customers,read_orders", "expires_in": 86399}),
            ),
            // An app whose bulk queries never finish (a huge shop).
            (Some("app-stuck"), Some("app-secret")) => Reply::json(
                200,
                json!({"access_token": "shpca_minted_stuck", "scope": "read_products,read_customers,read_orders", "expires_in": 86399}),
            ),
            (Some("app-products"), Some("app-secret")) => Reply::json(
                200,
                json!({"access_token": "shpca_minted_products", "scope": "read_products", "expires_in": 86399}),
            ),
            (Some("app-foreign"), Some("app-secret")) => Reply::json(
                400,
                json!({"error": "shop_not_permitted", "error_description": "Client credentials cannot be performed on this shop."}),
            ),
            _ => Reply::json(
                400,
                json!({"error": "invalid_client", "error_description": "Client authentication failed"}),
            ),
        };
    }
    let token = r.header("x-shopify-access-token").unwrap_or_default();
    let scopes: &[&str] = match token {
        "shpat_good" | "shpca_minted_all" | "shpca_minted_stuck" => &["read_products", "read_customers", "read_orders"],
        "shpat_products_only" | "shpca_minted_products" => &["read_products"],
        "shpat_frozen" => return errors(402, "Unavailable Shop"),
        "shpat_locked" => return errors(423, "Shop is locked"),
        "shpat_busy" => {
            return errors(
                429,
                "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.",
            )
            .header("retry-after", "2.0");
        }
        _ => return errors(401, "[API] Invalid API key or access token (unrecognized login or wrong password)"),
    };
    if r.method == "GET" && r.path == "/admin/oauth/access_scopes.json" {
        let handles: Vec<Value> = scopes.iter().map(|s| json!({"handle": s})).collect();
        return Reply::json(200, json!({"access_scopes": handles}));
    }
    if r.method != "POST"
        || r.path != "/admin/api/2026-10/graphql.json"
        || r.header("content-type") != Some("application/json")
    {
        return Reply::unexpected("GraphQL Admin API POSTs of the pinned version", r);
    }
    let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    let query = body["query"].as_str().unwrap_or_default();
    let cost = json!({"requestedQueryCost": 12, "actualQueryCost": 4, "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1996, "restoreRate": 100.0}});
    let denied = |field: &str, scope: &str| {
        Reply::json(
            200,
            json!({"errors": [{"message": format!("Access denied for {field} field. Required access: `{scope}` access scope."),
            "locations": [{"line": 1, "column": 20}], "path": [field], "extensions": {"code": "ACCESS_DENIED", "documentation": "https://shopify.dev/api/usage/access-scopes"}}],
            "data": null, "extensions": {"cost": cost}}),
        )
    };
    let data = |d: Value| Reply::json(200, json!({"data": d, "extensions": {"cost": cost}}));
    if query.contains("shop {") {
        return data(
            json!({"shop": {"name": "John Smith Test Store", "myshopifyDomain": "jsmith.myshopify.com", "currencyCode": "USD"}}),
        );
    }
    if query.contains("bulkOperationRunQuery(query: $query, groupObjects: $group)") {
        let (bulk, group) = (body["variables"]["query"].as_str().unwrap_or_default(), &body["variables"]["group"]);
        if !group.is_boolean() || bulk.contains("first:") {
            return Reply::unexpected("a bulk query names whole connections, groupObjects a Boolean", r);
        }
        let file = match bulk {
            _ if token == "shpca_minted_stuck" => "stuck",
            b if b.starts_with("{ products {") => "products",
            b if b.starts_with("{ customers {") && scopes.contains(&"read_customers") => "customers",
            b if b.starts_with("{ orders {") && scopes.contains(&"read_orders") && group == true => "orders-grouped",
            b if b.starts_with("{ orders {") && scopes.contains(&"read_orders") => "orders",
            b if b.starts_with("{ customers {") || b.starts_with("{ orders {") => "denied",
            _ => return Reply::unexpected("a bulk query of one connection", r),
        };
        return data(
            json!({"bulkOperationRunQuery": {"bulkOperation": {"id": format!("gid://shopify/BulkOperation/{file}"), "status": "CREATED"}, "userErrors": []}}),
        );
    }
    if query.contains("bulkOperation(id: $id)") {
        let id = body["variables"]["id"].as_str().unwrap_or_default();
        let Some(file) = id.strip_prefix("gid://shopify/BulkOperation/") else {
            return data(json!({"bulkOperation": null}));
        };
        if file == "stuck" {
            return data(
                json!({"bulkOperation": {"id": id, "status": "RUNNING", "errorCode": null, "objectCount": "120000", "rootObjectCount": "120000", "url": null, "partialDataUrl": null}}),
            );
        }
        if file == "denied" {
            return data(
                json!({"bulkOperation": {"id": id, "status": "FAILED", "errorCode": "ACCESS_DENIED", "objectCount": "0", "rootObjectCount": "0", "url": null, "partialDataUrl": null}}),
            );
        }
        let url = format!("http://{}/bulk-operation-outputs/{file}.jsonl", r.header("host").unwrap_or_default());
        return data(
            json!({"bulkOperation": {"id": id, "status": "COMPLETED", "errorCode": null, "objectCount": "3", "rootObjectCount": "3", "url": url, "partialDataUrl": null}}),
        );
    }
    if query.contains("bulkOperationCancel(id: $id)") {
        let id = body["variables"]["id"].as_str().unwrap_or_default();
        return data(
            json!({"bulkOperationCancel": {"bulkOperation": {"id": id, "status": "CANCELING"}, "userErrors": []}}),
        );
    }
    if body["variables"]["first"] != 10 {
        return Reply::unexpected("a sample of 10", r);
    }
    if query.contains("products(") {
        return data(
            json!({"products": {"nodes": [{"id": "gid://shopify/Product/632910392", "legacyResourceId": "632910392", "title": "IPod Nano - 8GB",
            "handle": "ipod-nano", "vendor": "Apple", "productType": "Cult Products", "status": "ACTIVE", "updatedAt": "2026-11-01T10:00:00Z",
            "variants": {"nodes": [{"id": "gid://shopify/ProductVariant/808950810", "legacyResourceId": "808950810", "sku": "IPOD2008PINK", "title": "Pink", "price": "199.00", "inventoryQuantity": 10}]}}]}}),
        );
    }
    if query.contains("customers(") {
        if !scopes.contains(&"read_customers") {
            return denied("customers", "read_customers");
        }
        return data(
            json!({"customers": {"nodes": [{"id": "gid://shopify/Customer/1073339464", "legacyResourceId": "1073339464",
            "email": "steve.lastnameson@example.com", "firstName": "Steve", "lastName": "Lastnameson", "numberOfOrders": "0",
            "createdAt": "2026-01-10T11:00:00Z", "updatedAt": "2026-01-10T11:00:00Z", "defaultAddress": {"city": "Montreal", "country": "Canada"}}]}}),
        );
    }
    if query.contains("orders(") {
        if !scopes.contains(&"read_orders") {
            return denied("orders", "read_orders");
        }
        return data(
            json!({"orders": {"nodes": [{"id": "gid://shopify/Order/450789469", "legacyResourceId": "450789469", "name": "#1001",
            "createdAt": "2026-11-10T11:00:00-05:00", "currencyCode": "USD", "customer": {"legacyResourceId": "207119551"},
            "lineItems": {"nodes": [
                {"legacyResourceId": "466157049", "quantity": 1, "product": {"legacyResourceId": "632910392"}, "variant": {"legacyResourceId": "39072856"}, "originalUnitPriceSet": {"shopMoney": {"amount": "199.0"}}},
                {"legacyResourceId": "518995019", "quantity": 2, "product": {"legacyResourceId": "921728736"}, "variant": {"legacyResourceId": "49148385"}, "originalUnitPriceSet": {"shopMoney": {"amount": "199.0"}}}]}}]}}),
        );
    }
    Reply::unexpected("not a documented Shopify query", r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_objects_are_validated_by_bulk_query() {
    let mock = MockProvider::start(shopify);
    let app = TestApp::builder().allow_private().provider_url("SHOPIFY", &mock.url).validating().spawn().await.unwrap();
    let api = app.api("acme", "manager");
    let creds = |id: &str| json!({"shop": "jsmith", "client_id": id, "client_secret": "app-secret"});
    assert_eq!(api.put("/connections/SHOPIFY/", json!({"credentials": creds("app-good")})).await.status, 200);
    let wait = Duration::from_secs(30);
    // Previewed, saved as answered, validated whole.
    for (name, resource) in [("catalog", "item"), ("buyers", "user"), ("purchases", "interaction")] {
        let r = api.post(&format!("{}test/", table("SHOPIFY", name)), json!({"resource": resource})).await;
        assert_eq!(r.status, 200, "{name}: {:?}", r.body);
        assert_eq!(api.patch(&table("SHOPIFY", name), r.body.clone()).await.status, 200, "{name}");
    }
    // Three products, one of them twice (the product's variants are not read whole).
    let done = api.validated(&table("SHOPIFY", "catalog"), json!({}), wait).await;
    let report = &done["report"];
    assert_eq!((report["rows"].as_u64(), report["invalid_rows"].as_u64()), (Some(3), Some(1)), "{done}");
    assert_eq!(report["violations"][0]["rule"], "duplicate", "{report}");
    let done = api.validated(&table("SHOPIFY", "buyers"), json!({}), wait).await;
    assert_eq!(
        (done["report"]["rows"].as_u64(), done["report"]["invalid_rows"].as_u64()),
        (Some(1), Some(0)),
        "{done}"
    );
    // Orders: a row per line item, each with its order's customer and time (grouped below
    // it); the order without a customer breaks `missing`.
    let done = api.validated(&table("SHOPIFY", "purchases"), json!({}), wait).await;
    let report = &done["report"];
    assert_eq!((report["rows"].as_u64(), report["invalid_rows"].as_u64()), (Some(3), Some(1)), "{done}");
    assert_eq!(
        (&report["violations"][0]["rule"], &report["violations"][0]["field"]),
        (&json!("missing"), &json!("user_id"))
    );
    assert_eq!(report["timestamp"]["unit"], "iso8601", "{report}");
    let done = api.validated(&table("SHOPIFY", "purchases"), json!({"max_rows": 2}), wait).await;
    assert_eq!(
        (done["report"]["rows"].as_u64(), done["report"]["truncated"].as_bool()),
        (Some(2), Some(true)),
        "{done}"
    );
    // The file is fetched as signed, without the shop's token.
    assert!(
        mock.requests()
            .iter()
            .filter(|r| r.path.starts_with("/bulk-operation-outputs/"))
            .all(|r| r.header("x-shopify-access-token").is_none())
    );

    // A bulk query that runs on when its validation is cancelled: cancelled at Shopify too.
    assert_eq!(api.put("/connections/SHOPIFY/", json!({"credentials": creds("app-stuck")})).await.status, 200);
    let graphql =
        |what: &str| mock.requests().iter().filter(|r| String::from_utf8_lossy(&r.body).contains(what)).count();
    let polled = graphql("bulkOperation(id: $id)");
    let started = api.post(&format!("{}validations/", table("SHOPIFY", "catalog")), json!({})).await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    for _ in 0..100 {
        if graphql("bulkOperation(id: $id)") > polled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let at = format!("{}validations/{}/", table("SHOPIFY", "catalog"), started.body["id"].as_str().unwrap());
    assert_eq!(api.delete(&at).await.status, 204);
    for _ in 0..100 {
        if graphql("bulkOperationCancel") > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for r in mock.requests().iter().rev().take(8) {
        eprintln!("DEBUG {} {}", r.line(), String::from_utf8_lossy(&r.body).chars().take(120).collect::<String>());
    }
    eprintln!("DEBUG {:?}", api.get(&at).await.body);
    assert_eq!(graphql("bulkOperationCancel"), 1, "the running bulk query was cancelled at Shopify");

    // An app without read_customers: the bulk query fails ACCESS_DENIED, named.
    assert_eq!(api.put("/connections/SHOPIFY/", json!({"credentials": creds("app-products")})).await.status, 200);
    let done = api.validated(&table("SHOPIFY", "buyers"), json!({}), wait).await;
    assert_eq!(done["state"], "failed", "{done}");
    assert!(done["error"]["message"].as_str().unwrap().contains("add the read_customers scope"), "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_app_tokens_scopes_and_graphql_tables() {
    let mock = MockProvider::start(shopify);
    let app = app_with("SHOPIFY", &mock).await;
    let api = app.api("acme", "manager");
    let shop = "https://admin.shopify.com/store/jsmith";
    let app_creds = |id: &str| json!({"shop": shop, "client_id": id, "client_secret": "app-secret"});
    let legacy = |token: &str| json!({"shop": shop, "access_token": token});
    let mints = || mock.requests().iter().filter(|r| r.path == "/admin/oauth/access_token").count();
    let steps = |r: &gateway_testkit::Resp| -> Vec<String> {
        let list = r.body["steps"].as_array().or_else(|| r.body["error_data"]["steps"].as_array()).unwrap();
        list.iter().map(|s| format!("{}:{}", s["name"].as_str().unwrap(), s["outcome"].as_str().unwrap())).collect()
    };

    // A Dev Dashboard app: its token minted by the client-credentials grant, then cached.
    let r = api.post("/connections/SHOPIFY/test/", json!({"credentials": app_creds("app-good")})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(steps(&r), ["token:passed", "access_scopes:passed", "read_shop:passed"]);
    assert!(r.body["steps"][2]["message"].as_str().unwrap().contains("John Smith Test Store"));
    assert_eq!(mints(), 1);
    let r = api.post("/connections/SHOPIFY/test/", json!({"credentials": app_creds("app-good")})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(mints(), 1, "the 24-hour token is reused, not minted again");
    // A legacy static token still works, with a warning.
    let r = api.post("/connections/SHOPIFY/test/", json!({"credentials": legacy("shpat_good")})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["warnings"][0].as_str().unwrap().contains("legacy"), "{:?}", r.body);
    for (creds, reason, says) in [
        (legacy("shpat_bad"), "wrong_credentials", "Invalid API key"),
        (legacy("shpat_frozen"), "forbidden", "frozen"),
        (legacy("shpat_locked"), "forbidden", "locked"),
        (legacy("shpat_busy"), "rate_limited", "retry in 2 s"),
        (app_creds("app-wrong"), "wrong_credentials", "invalid_client"),
        (app_creds("app-foreign"), "wrong_specification", "shop_not_permitted"),
    ] {
        let r = api.post("/connections/SHOPIFY/test/", json!({"credentials": creds})).await;
        assert_eq!((r.status, r.body["error_data"]["reason"].as_str()), (400, Some(reason)), "{creds}: {:?}", r.body);
        assert!(r.body["message"].as_str().unwrap().contains(says), "{creds}: {:?}", r.body);
    }
    let r = api.put("/connections/SHOPIFY/", json!({"credentials": app_creds("app-good")})).await;
    assert_eq!(r.body["credentials"]["shop"], "jsmith.myshopify.com", "the admin URL normalised");
    assert_eq!(r.body["credentials"]["client_secret"], "********");
    let r = api.put("/connections/SHOPIFY/", json!({"credentials": {"shop": shop, "client_id": "app-good"}})).await;
    assert_eq!((r.status, r.field()), (400, "credentials.client_secret"));
    for bad in ["shop.example.com", "jsmith.myshopify.com.evil.com", "127.0.0.1", "localhost:8443", "u@jsmith"] {
        let r = api.put("/connections/SHOPIFY/", json!({"credentials": {"shop": bad, "access_token": "t"}})).await;
        assert_eq!((r.status, r.field()), (400, "credentials.shop"), "{bad}");
    }

    // Products (item), customers (user), orders (interaction: a row per line item), by GraphQL,
    // with the REST ids.
    for (name, resource, check) in [
        ("catalog", "item", ("item_id", json!(632910392))),
        ("buyers", "user", ("user_id", json!(1073339464))),
        ("purchases", "interaction", ("interaction_type", json!("purchase"))),
    ] {
        let r = api.post(&format!("{}test/", table("SHOPIFY", name)), json!({"resource": resource})).await;
        assert_eq!(r.status, 200, "{name}: {:?}", r.body);
        assert_eq!(r.body["sample"]["rows"][0][check.0], check.1, "{name}: {:?}", r.body);
        assert_eq!(api.patch(&table("SHOPIFY", name), r.body.clone()).await.status, 200, "{name}");
        assert_eq!(api.get(&format!("{}test/", table("SHOPIFY", name))).await.body["status"], "available", "{name}");
    }
    let r = api.post(&format!("{}test/", table("SHOPIFY", "purchases")), json!({})).await;
    assert_eq!(r.body["sample"]["rows"].as_array().unwrap().len(), 2, "one row per line item");
    assert_eq!(r.body["resource_params"]["columns_mapping"]["item_id"], "item_id");
    assert_eq!(r.body["sample"]["rows"][0]["user_id"], 207119551);
    // The stored app against its tables: every scope they need is there.
    let r = api.post("/connections/SHOPIFY/test/", json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(steps(&r).contains(&"scope_read_orders:passed".to_owned()), "{:?}", r.body);
    assert_eq!(api.get("/connections/SHOPIFY/").await.body["status"], "available");

    // An app without its tables' scopes: each one missing named by the test, before any read.
    assert_eq!(api.put("/connections/SHOPIFY/", json!({"credentials": app_creds("app-products")})).await.status, 200);
    let r = api.post("/connections/SHOPIFY/test/", json!({})).await;
    assert_eq!((r.status, r.body["error_data"]["reason"].as_str()), (400, Some("forbidden")), "{:?}", r.body);
    assert!(steps(&r).contains(&"scope_read_orders:forbidden".to_owned()), "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("add read_"), "{:?}", r.body);
    assert_eq!(api.get("/connections/SHOPIFY/").await.body["status"], "unverified", "it reads products all the same");
    let r = api.get(&format!("{}test/", table("SHOPIFY", "purchases"))).await;
    assert_eq!(r.body["error_data"]["reason"], "forbidden", "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("read_orders"), "{:?}", r.body);
    let r = api
        .patch(&table("SHOPIFY", "x"), json!({"resource": "item", "connection_table_params": {"object": "gift_cards"}}))
        .await;
    assert_eq!((r.status, r.field()), (400, "connection_table_params.object"));
}

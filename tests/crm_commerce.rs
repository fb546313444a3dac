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

// ---- Shopify

/// Shopify's Admin REST API as documented (<https://shopify.dev/docs/api/admin-rest>):
/// `X-Shopify-Access-Token`; the pinned version in the path; `{"errors": ...}` bodies for 401,
/// 402, 403 (a missing scope named), 423; 429 with `Retry-After: 2.0`. Bodies from the REST
/// reference's examples (shop, products, customers, orders).
fn shopify(r: &Recorded) -> Reply {
    let errors = |status: u16, e: &str| Reply::json(status, json!({"errors": e}));
    if r.method != "GET" || !r.path.starts_with("/admin/api/2026-07/") {
        return Reply::unexpected("Admin REST GETs of the pinned version", r);
    }
    let token = r.header("x-shopify-access-token").unwrap_or_default();
    match token {
        "shpat_good" | "shpat_products_only" => {}
        "shpat_frozen" => return errors(402, "Unavailable Shop"),
        "shpat_locked" => return errors(423, "Shop is locked"),
        "shpat_busy" => {
            return errors(
                429,
                "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.",
            )
            .header("retry-after", "2.0")
            .header("x-shopify-shop-api-call-limit", "40/40");
        }
        _ => return errors(401, "[API] Invalid API key or access token (unrecognized login or wrong password)"),
    }
    match (r.path.trim_start_matches("/admin/api/2026-07"), r.query.as_str()) {
        ("/shop.json", "") => Reply::json(
            200,
            json!({"shop": {"id": 548380009, "name": "John Smith Test Store", "email": "j.smith@example.com", "myshopify_domain": "jsmith.myshopify.com", "currency": "USD"}}),
        ),
        ("/products.json", "limit=10") => Reply::json(
            200,
            json!({"products": [{"id": 632910392, "title": "IPod Nano - 8GB", "vendor": "Apple", "product_type": "Cult Products",
            "variants": [{"id": 808950810, "price": "199.00", "sku": "IPOD2008PINK"}], "image": {"id": 850703190, "src": "https://cdn.shopify.com/ipod-nano.png"}}]}),
        ),
        ("/customers.json", "limit=10") if token == "shpat_products_only" => {
            errors(403, "[API] This action requires merchant approval for read_customers scope.")
        }
        ("/customers.json", "limit=10") => Reply::json(
            200,
            json!({"customers": [{"id": 1073339464, "email": "steve.lastnameson@example.com", "first_name": "Steve", "orders_count": 0,
            "default_address": {"city": "Montreal", "country": "Canada"}}]}),
        ),
        ("/orders.json", "limit=10&status=any") if token == "shpat_products_only" => {
            errors(403, "[API] This action requires merchant approval for read_orders scope.")
        }
        ("/orders.json", "limit=10&status=any") => Reply::json(
            200,
            json!({"orders": [{"id": 450789469, "email": "bob.norman@mail.example.com", "created_at": "2008-01-10T11:00:00-05:00",
            "currency": "USD", "customer": {"id": 207119551}, "line_items": [
                {"id": 466157049, "product_id": 632910392, "variant_id": 39072856, "quantity": 1, "price": "199.00"},
                {"id": 518995019, "product_id": 921728736, "variant_id": 49148385, "quantity": 2, "price": "199.00"}]}]}),
        ),
        _ => Reply::unexpected("not a documented Shopify call", r),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_shop_products_customers_orders() {
    let mock = MockProvider::start(shopify);
    let app = app_with("SHOPIFY", &mock).await;
    let api = app.api("acme", "manager");
    let c = |token: &str| json!({"shop": "https://admin.shopify.com/store/jsmith", "access_token": token});
    let r = api.post("/connections/SHOPIFY/test/", json!({"credentials": c("shpat_good")})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["steps"][0]["message"].as_str().unwrap().contains("John Smith Test Store"));
    for (token, reason, says) in [
        ("shpat_bad", "wrong_credentials", "Invalid API key"),
        ("shpat_frozen", "forbidden", "frozen"),
        ("shpat_locked", "forbidden", "locked"),
        ("shpat_busy", "rate_limited", "retry in 2 s"),
    ] {
        let r = api.post("/connections/SHOPIFY/test/", json!({"credentials": c(token)})).await;
        assert_eq!((r.status, r.body["error_data"]["reason"].as_str()), (400, Some(reason)), "{token}: {:?}", r.body);
        assert!(r.body["message"].as_str().unwrap().contains(says), "{token}: {:?}", r.body);
    }
    let r = api.put("/connections/SHOPIFY/", json!({"credentials": c("shpat_good")})).await;
    assert_eq!(r.body["credentials"]["shop"], "jsmith.myshopify.com", "the admin URL normalised");
    for bad in ["shop.example.com", "jsmith.myshopify.com.evil.com", "127.0.0.1", "localhost:8443", "u@jsmith"] {
        let r = api.put("/connections/SHOPIFY/", json!({"credentials": {"shop": bad, "access_token": "t"}})).await;
        assert_eq!((r.status, r.field()), (400, "credentials.shop"), "{bad}");
    }

    // Products (item), customers (user), orders (interaction: a row per line item).
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

    // A token without a table's scope: the scope is named.
    assert_eq!(api.put("/connections/SHOPIFY/", json!({"credentials": c("shpat_products_only")})).await.status, 200);
    let r = api.get(&format!("{}test/", table("SHOPIFY", "purchases"))).await;
    assert_eq!(r.body["error_data"]["reason"], "forbidden", "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("read_orders"), "{:?}", r.body);
    let r = api
        .patch(&table("SHOPIFY", "x"), json!({"resource": "item", "connection_table_params": {"object": "gift_cards"}}))
        .await;
    assert_eq!((r.status, r.field()), (400, "connection_table_params.object"));
}

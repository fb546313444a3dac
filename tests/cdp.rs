//! Segment and mParticle against local mocks written from their references (cited beside
//! each mock). Neither offers a read API for customer data: what can be proven read-only is,
//! and the rest is said.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gateway_testkit::{MockProvider, Recorded, Reply, TestApp};
use serde_json::{Value, json};

fn table(kind: &str, name: &str) -> String {
    format!("/connections/{kind}/tables/{name}/")
}

/// Segment's settings CDN as analytics-next fetches it (`GET /v1/projects/{writeKey}/settings`,
/// no auth; a key it does not know, which includes every server-side source's, is 404 `Cannot
/// GET - Invalid path or write key provided.`), and the Public API
/// (<https://docs.segmentapis.com/tag/Getting-Started>, segmentio/public-api-sdk-typescript):
/// `GET /` with a Bearer token answers its workspace; `GET /sources?pagination.count=N` its
/// sources, `writeKeys` empty for a token without Source Admin (`model/sourceV1.ts`); a bad
/// token 401 in the error envelope.
fn segment(r: &Recorded) -> Reply {
    if r.method != "GET" {
        return Reply::unexpected("Segment reads are GETs", r);
    }
    match (r.path.as_str(), r.header("authorization")) {
        ("/v1/projects/SegGoodKey12345/settings", None) => Reply::json(
            200,
            json!({
            "integrations": {"Segment.io": {"apiKey": "SegGoodKey12345", "apiHost": "api.segment.io/v1"}},
            "plan": {"track": {"__default": {"enabled": true, "integrations": {}}}}, "edgeFunction": {}}),
        ),
        ("/v1/projects/SegSlowKey12345/settings", None) => Reply::json(200, json!({})).after(Duration::from_secs(5)),
        (p, None) if p.starts_with("/v1/projects/") && p.ends_with("/settings") => {
            Reply::text(404, "Cannot GET - Invalid path or write key provided.")
        }
        ("/", Some("Bearer sgp_good")) => Reply::json(
            200,
            json!({"data": {"workspace": {"id": "9aQ1Lj62S4bomZKLF4DPqW", "name": "Acme Prod", "slug": "acme-prod"}}}),
        ),
        ("/", Some("Bearer sgp_limited")) => Reply::json(
            429,
            json!({"errors": [{"type": "RequestError", "message": "Too many requests", "status": 429}]}),
        )
        .header("x-ratelimit-reset", &(gateway_domain::now_seconds() + 15).to_string()),
        ("/", Some("Bearer sgp_nokeys")) => Reply::json(
            200,
            json!({"data": {"workspace": {"id": "9aQ1Lj62S4bomZKLF4DPqW", "name": "Acme Prod", "slug": "acme-prod"}}}),
        ),
        ("/sources", Some(auth @ ("Bearer sgp_good" | "Bearer sgp_nokeys")))
            if r.param("pagination.count").is_some_and(|c| c.parse::<u32>().is_ok_and(|c| (1..=1000).contains(&c))) =>
        {
            let keys = if auth == "Bearer sgp_good" { json!(["SegGoodKey12345"]) } else { json!([]) };
            Reply::json(
                200,
                json!({"data": {"sources": [
                {"id": "qQEHquLrjRDN9j1ByrmAzp", "slug": "http-api-prod", "name": "HTTP API (prod)", "enabled": true,
                 "writeKeys": keys, "metadata": {"id": "xRXCP7B1ZL", "slug": "http-api", "name": "HTTP API"}}
            ], "pagination": {"current": "MA==", "totalEntries": 1}}}),
            )
        }
        ("/", Some(_)) => Reply::json(401, json!({"errors": [{"type": "unauthorized", "message": "Unauthorized"}]})),
        _ => Reply::unexpected("not a documented Segment call", r),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_write_key_token_and_destinations() {
    let mock = MockProvider::start(segment);
    let app = TestApp::builder()
        .allow_private()
        .provider_url("SEGMENT", &mock.url)
        .provider_url("SEGMENT_PUBLIC_API", &mock.url)
        .connector_timeout(Duration::from_secs(2))
        .spawn()
        .await
        .unwrap();
    let api = app.api("acme", "manager");
    let test = |creds: Value| {
        let api = &api;
        async move { api.post("/connections/SEGMENT/test/", json!({"credentials": creds})).await }
    };
    let r = test(json!({"write_key": "SegGoodKey12345"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["steps"][0]["outcome"], "passed", "the CDN knows the key: {:?}", r.body);
    let r = test(json!({"write_key": "SegGoodKey12345", "public_api_token": "sgp_good"})).await;
    assert!(r.body["steps"][0]["message"].as_str().unwrap().contains("Acme Prod"), "{:?}", r.body);
    assert!(r.body["steps"][1]["message"].as_str().unwrap().contains("GET /sources"), "{:?}", r.body);
    // A key the CDN does not know may be a server source's: not called wrong, said unverifiable.
    let r = test(json!({"write_key": "SegServer12345"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["steps"][0]["outcome"], "skipped", "{:?}", r.body);
    assert!(r.body["warnings"][0].as_str().unwrap().contains("cannot be verified"), "{:?}", r.body);
    // A token without Source Admin sees no write keys: unverifiable, told how to fix it.
    let r = test(json!({"write_key": "SegGoodKey12345", "public_api_token": "sgp_nokeys"})).await;
    assert_eq!((r.status, r.body["steps"][1]["outcome"].as_str()), (200, Some("skipped")), "{:?}", r.body);
    for (creds, reason, step) in [
        (json!({"write_key": "SegUnknown12345", "public_api_token": "sgp_good"}), "wrong_credentials", "write_key"),
        (
            json!({"write_key": "SegGoodKey12345", "public_api_token": "sgp_bad"}),
            "wrong_credentials",
            "public_api_token",
        ),
        (
            json!({"write_key": "SegGoodKey12345", "public_api_token": "sgp_limited"}),
            "rate_limited",
            "public_api_token",
        ),
        (json!({"write_key": "SegSlowKey12345"}), "timeout", ""),
    ] {
        let r = test(creds.clone()).await;
        assert_eq!((r.status, r.body["error_data"]["reason"].as_str()), (400, Some(reason)), "{creds}: {:?}", r.body);
        if !step.is_empty() {
            assert!(r.body["message"].as_str().unwrap().starts_with(step), "the failing step is named: {:?}", r.body);
        }
    }
    for bad in ["../../x", "key with space", "k@127.0.0.1"] {
        let r = api.put("/connections/SEGMENT/", json!({"credentials": {"write_key": bad}})).await;
        assert_eq!((r.status, r.field()), (400, "credentials.write_key"), "{bad}");
    }
    let r = api
        .put(
            "/connections/SEGMENT/",
            json!({"credentials": {"write_key": "SegGoodKey12345"}, "metadata": {"realtime": {"batch_size": 100}}}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["metadata"]["realtime"]["batch_size"], 100, "metadata holds real-time settings");

    let r = api
        .post(&format!("{}test/", table("SEGMENT", "recommended_items")), json!({"resource": "user_to_items_reco"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["connection_table_params"]["trait"], "recommended_items");
    assert_eq!(api.patch(&table("SEGMENT", "recommended_items"), r.body.clone()).await.status, 200);
    assert_eq!(api.get(&format!("{}test/", table("SEGMENT", "recommended_items"))).await.body["status"], "available");
    let r = api
        .post(
            &format!("{}test/", table("SEGMENT", "similar")),
            json!({"resource": "item_to_items_reco", "connection_table_params": {"event": "Similar Items"}}),
        )
        .await;
    assert_eq!(r.body["connection_table_params"]["event"], "Similar Items", "{:?}", r.body);
    let r = api.patch(&table("SEGMENT", "x"), json!({"resource": "user"})).await;
    assert_eq!((r.status, r.field()), (400, "resource"));
}

/// mParticle's Platform API (<https://docs.mparticle.com/developers/apis/platform/>): a token
/// from `POST /oauth/token` with a JSON body (`client_id`, `client_secret`, `audience`
/// `https://api.mparticle.com`, `grant_type` `client_credentials`); then
/// `GET /platform/v2/workspaces/{id}/plans` with the Bearer token (a bare array).
fn mparticle(r: &Recorded) -> Reply {
    match (r.method.as_str(), r.path.as_str()) {
        ("POST", "/oauth/token") => {
            let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            if r.header("content-type") != Some("application/json")
                || body["audience"] != "https://api.mparticle.com"
                || body["grant_type"] != "client_credentials"
            {
                return Reply::unexpected("the documented token request", r);
            }
            match (body["client_id"].as_str(), body["client_secret"].as_str()) {
                (Some("mp-client"), Some("mp-client-secret")) => {
                    Reply::json(200, json!({"access_token": "mp-token-1", "expires_in": 28800, "token_type": "Bearer"}))
                }
                (Some("mp-noplans"), Some("mp-client-secret")) => {
                    Reply::json(200, json!({"access_token": "mp-token-2", "expires_in": 28800, "token_type": "Bearer"}))
                }
                _ => Reply::json(401, json!({"error": "access_denied", "error_description": "Unauthorized"})),
            }
        }
        ("GET", "/platform/v2/workspaces/1234/plans") => match r.header("authorization") {
            Some("Bearer mp-token-1") => Reply::json(
                200,
                json!([{"data_plan_id": "mobile_data_plan", "data_plan_name": "Mobile Data Plan", "version_count": 1}]),
            ),
            Some("Bearer mp-token-2") => Reply::json(403, json!({"errors": [{"message": "Forbidden"}]})),
            _ => Reply::json(401, json!({"errors": [{"message": "Unauthorized"}]})),
        },
        ("GET", p) if p.starts_with("/platform/v2/workspaces/") => {
            Reply::json(404, json!({"errors": [{"message": "Workspace not found"}]}))
        }
        _ => Reply::unexpected("not a documented mParticle call", r),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mparticle_says_what_it_cannot_check_and_checks_the_platform() {
    let mock = MockProvider::start(mparticle);
    let app = TestApp::builder()
        .allow_private()
        .provider_url("M_PARTICLE", &mock.url)
        .provider_url("M_PARTICLE_SSO", &mock.url)
        .spawn()
        .await
        .unwrap();
    let api = app.api("acme", "manager");
    let base = json!({"api_key": "us1-abc", "api_secret": "s2s-secret", "pod": "EU1"});
    let with = |id: &str, secret: &str, ws: &str| {
        let mut c = base.clone();
        c["client_id"] = json!(id);
        c["client_secret"] = json!(secret);
        c["workspace_id"] = json!(ws);
        c
    };
    let r = api.post("/connections/M_PARTICLE/test/", json!({"credentials": base})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        r.body["steps"].as_array().unwrap().iter().all(|s| s["outcome"] == "skipped"),
        "nothing claimed checked: {:?}",
        r.body
    );
    assert!(r.body["warnings"][0].as_str().unwrap().contains("POST-only"));
    assert!(mock.requests().is_empty(), "no event was sent to check the keys");

    let r = api
        .post("/connections/M_PARTICLE/test/", json!({"credentials": with("mp-client", "mp-client-secret", "1234")}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (r.body["steps"][1]["name"].as_str(), r.body["steps"][1]["outcome"].as_str()),
        (Some("platform_token"), Some("passed"))
    );
    assert_eq!(
        (r.body["steps"][2]["name"].as_str(), r.body["steps"][2]["outcome"].as_str()),
        (Some("list_data_plans"), Some("passed"))
    );
    // The token step and the API step fail apart.
    // Data Planning is a product of its own: credentials without it are valid, and told so.
    let r = api
        .post("/connections/M_PARTICLE/test/", json!({"credentials": with("mp-noplans", "mp-client-secret", "1234")}))
        .await;
    assert_eq!((r.status, r.body["steps"][2]["outcome"].as_str()), (200, Some("skipped")), "{:?}", r.body);
    assert!(r.body["warnings"][0].as_str().unwrap().contains("lack Data Planning access"), "{:?}", r.body);
    // The sending key is never proven: the stored connection is unverified, never available.
    assert_eq!(
        api.put("/connections/M_PARTICLE/", json!({"credentials": with("mp-client", "mp-client-secret", "1234")}))
            .await
            .status,
        200
    );
    assert_eq!(api.post("/connections/M_PARTICLE/test/", json!({})).await.status, 200);
    assert_eq!(api.get("/connections/M_PARTICLE/").await.body["status"], "unverified");
    for (creds, step, reason) in [
        (with("mp-wrong", "nope", "1234"), "platform_token", "wrong_credentials"),
        (with("mp-client", "mp-client-secret", "999"), "list_data_plans", "resource_not_found"),
    ] {
        let r = api.post("/connections/M_PARTICLE/test/", json!({"credentials": creds})).await;
        assert_eq!((r.status, r.body["error_data"]["reason"].as_str()), (400, Some(reason)), "{:?}", r.body);
        assert!(r.body["message"].as_str().unwrap().starts_with(step), "{:?}", r.body);
    }
    let mut half = base.clone();
    half["client_id"] = json!("mp-client");
    let r = api.put("/connections/M_PARTICLE/", json!({"credentials": half})).await;
    assert_eq!((r.status, r.field()), (400, "credentials.client_secret"));
    let mut bad = base.clone();
    bad["pod"] = json!("s2s.evil.com");
    assert_eq!(api.put("/connections/M_PARTICLE/", json!({"credentials": bad})).await.field(), "credentials.pod");

    assert_eq!(api.put("/connections/M_PARTICLE/", json!({"credentials": base})).await.status, 200);
    let r = api
        .post(&format!("{}test/", table("M_PARTICLE", "reco_items")), json!({"resource": "user_to_items_reco"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body["warnings"][0].as_str().unwrap().contains("s2s.eu1.mparticle.com"), "{:?}", r.body);
}

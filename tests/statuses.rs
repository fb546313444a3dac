//! Statuses that stay true (issue 16): scheduled re-tests recording statuses, signed webhooks
//! delivered from the outbox on each change, the audit trail, and replicas sharing the work.
//! Time is moved by making jobs due in the database, never by waiting out an interval.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gateway_domain::{ConnectionKind, OrganizationId, TableName};
use gateway_service::ScheduleSettings;
use gateway_store::CheckPolicy;
use gateway_testkit::{Db, MockProvider, Recorded, Reply, TestApp};
use hmac::Mac;
use serde_json::{Value, json};

const SHOP: &str = "/connections/SHOPIFY/";

fn creds() -> Value {
    json!({"domain": "fake-domain", "client_id": "fake-client_id", "client_secret": "fake-client_secret"})
}

/// A gateway whose schedule runs at once: a short tick, no retry of temporary failures
/// unless `retries` says so.
fn scheduled(retries: i32) -> ScheduleSettings {
    ScheduleSettings {
        enabled: true,
        tick: Duration::from_millis(50),
        concurrency: 4,
        org_concurrency: 4,
        lease_secs: 60,
        temporary_retries: retries,
        audit_retention_days: 365,
        ..Default::default()
    }
}

/// Recomputes `Gateway-Signature` as a receiver would (HMAC-SHA256 over `t.body`) and says
/// whether it matches.
fn signed_by(secret: &str, r: &Recorded) -> bool {
    let Some(header) = r.header("gateway-signature") else { return false };
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = Some(x.to_owned()),
            Some(("v1", x)) => v1 = Some(x.to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return false };
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(&r.body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    expected == v1
}

/// Waits (bounded) until `f` holds; the bound is generous and only reached on failure.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut f: impl FnMut() -> F) {
    for _ in 0..400 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

fn events(receiver: &MockProvider) -> Vec<(Recorded, Value)> {
    receiver
        .requests()
        .into_iter()
        .map(|r| {
            let body = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
            (r, body)
        })
        .collect()
}

/// Every job due now, as if its interval had passed.
fn make_due(app: &TestApp) {
    app.store.batch_execute("UPDATE scheduled_checks SET due_at = 0").unwrap();
}

async fn scheduled_retests_record_statuses_and_signed_webhooks_tell_of_each_change(db: Db) {
    let receiver = MockProvider::start(|_| Reply::text(204, ""));
    let Some(app) = TestApp::builder().db(db).scripted().allow_private().schedule(scheduled(1)).spawn().await else {
        return;
    };
    let api = app.api("acme", "manager");
    let hook = api.put("/webhooks/ops/", json!({"url": format!("{}/hooks/gateway", receiver.url)})).await;
    assert_eq!(hook.status, 200, "{:?}", hook.body);
    let secret = hook.body["secret"].as_str().expect("the secret is shown on creation").to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");
    assert!(api.get("/webhooks/ops/").await.body.get("secret").is_none(), "the secret is shown once");

    assert_eq!(api.put(SHOP, json!({"credentials": creds()})).await.status, 200);
    let table = "/connections/SHOPIFY/tables/orders/";
    let made = api.patch(table, json!({"resource": "item", "connection_table_params": {"object": "products"}})).await;
    assert_eq!(made.body["status"], "available", "{:?}", made.body);
    assert!(api.get(SHOP).await.body.get("status").is_none(), "no status before a test");

    // The object disappears at the provider; the platform only learns of it from the schedule.
    assert_eq!(api.patch(table, json!({"connection_table_params": {"object": "missing"}})).await.status, 200);
    make_due(&app);
    eventually("the table re-tested", || async { api.get(table).await.body["status"] == "resource_not_found" }).await;
    eventually("the connection re-tested", || async { api.get(SHOP).await.body["status"] == "available" }).await;
    let conn = api.get(SHOP).await.body;
    assert!(conn["checked_timestamp"].as_i64().unwrap() > 0, "{conn}");

    let wanted = |e: &Value| e["event"] == "table.status_changed";
    eventually("the webhook hears of the table", || async { events(&receiver).iter().any(|(_, e)| wanted(e)) }).await;
    let all = events(&receiver);
    let (request, event) = all.iter().find(|(_, e)| wanted(e)).unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hooks/gateway");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(signed_by(&secret, request), "the signature verifies with the secret shown once");
    assert!(!signed_by("whsec_other", request), "and not with another");
    assert_eq!(request.header("gateway-event-id"), event["id"].as_str());
    assert_eq!(event["connection"], "SHOPIFY");
    assert_eq!(event["table"], "orders");
    assert_eq!(event["old_status"], "available");
    assert_eq!(event["new_status"], "resource_not_found");
    assert!(event["at"].as_i64().unwrap() > 0);
    eventually("the webhook hears of the connection", || async {
        events(&receiver)
            .iter()
            .any(|(_, e)| e["event"] == "connection.status_changed" && e["new_status"] == "available")
    })
    .await;

    // New credentials forget the old status; the next scheduled test records theirs.
    let mut wrong = creds();
    wrong["client_secret"] = json!("wrong-secret");
    let replaced = api.put(SHOP, json!({"credentials": wrong})).await.body;
    assert!(replaced.get("status").is_none(), "{replaced}");
    make_due(&app);
    eventually("the new credentials re-tested", || async { api.get(SHOP).await.body["status"] == "wrong_credentials" })
        .await;

    // Who did what: the caller's writes and the scheduler's findings, names only.
    let trail = api.get("/audit/?amt=64").await;
    assert_eq!(trail.status, 200, "{:?}", trail.body);
    let entries = trail.body["entries"].as_array().unwrap();
    let find = |action: &str, sub: &str| entries.iter().find(|e| e["action"] == action && e["sub"] == sub);
    let status = find("table.status", "scheduler").expect("the scheduler's finding is in the trail");
    assert_eq!(status["role"], "system");
    assert_eq!(status["target"], "SHOPIFY/orders");
    let put = find("connection.put", "tester").expect("the caller's PUT");
    assert_eq!(put["role"], "manager");
    let text = trail.body.to_string();
    assert!(text.contains("credentials.client_secret"), "the changed field is named: {text}");
    assert!(!text.contains("wrong-secret") && !text.contains("fake-client_secret"), "never a value: {text}");
    assert!(!text.contains("products") && !text.contains("\"missing\""), "nor a param's value: {text}");
    let update = find("table.update", "tester").expect("the PATCH");
    assert_eq!(update["fields"], json!(["connection_table_params.object"]));
}

#[tokio::test]
async fn scheduled_retests_record_statuses_and_signed_webhooks_tell_of_each_change_sqlite() {
    scheduled_retests_record_statuses_and_signed_webhooks_tell_of_each_change(Db::Sqlite).await;
}

#[tokio::test]
async fn scheduled_retests_record_statuses_and_signed_webhooks_tell_of_each_change_postgres() {
    scheduled_retests_record_statuses_and_signed_webhooks_tell_of_each_change(Db::Postgres).await;
}

#[tokio::test]
async fn a_temporary_failure_backs_off_and_is_recorded_only_when_it_persists() {
    let app = TestApp::builder().scripted().schedule(scheduled(2)).spawn().await.unwrap();
    let api = app.api("acme", "manager");
    assert_eq!(api.put(SHOP, json!({"credentials": creds()})).await.status, 200);
    let table = "/connections/SHOPIFY/tables/flaky/";
    // "broken": the provider answers 503, a temporary failure.
    let made = api.patch(table, json!({"resource": "item", "connection_table_params": {"object": "broken"}})).await;
    assert_eq!(made.status, 200);
    let (org, name) = (OrganizationId::parse("acme").unwrap(), TableName::parse("flaky").unwrap());
    let state = || app.store.check_state(&org, ConnectionKind::Shopify, Some(&name)).unwrap().unwrap();
    app.store.batch_execute("UPDATE scheduled_checks SET due_at = 0 WHERE name = 'flaky'").unwrap();
    eventually("a first failure counted", || async { state().failures == 1 && !state().leased }).await;
    let now = gateway_domain::now_seconds();
    assert!(state().due_at >= now + 50, "backed off a minute, not retried at once: {:?}", state());
    assert_eq!(api.get(table).await.body["status"], "available", "one 503 does not change the status");

    // It persists: the second failure in a row is recorded, and the backoff is forgotten.
    app.store.batch_execute("UPDATE scheduled_checks SET due_at = 0 WHERE name = 'flaky'").unwrap();
    eventually("the failure recorded", || async { api.get(table).await.body["status"] == "unknown_error" }).await;
    eventually("the job rescheduled", || async { state().failures == 0 && !state().leased }).await;
    assert!(state().due_at > now + 3600, "due one interval later: {:?}", state());
}

#[tokio::test]
async fn two_gateways_on_one_postgresql_check_each_due_table_once_and_take_over_a_dead_ones_lease() {
    // Replicas share the encryption key, as the operator's settings make them.
    let keys = gateway_store::Keyring::ephemeral();
    let Some(first) = TestApp::builder().db(Db::Postgres).scripted().keys(keys.clone()).spawn().await else { return };
    let api = first.api("acme", "manager");
    assert_eq!(api.put(SHOP, json!({"credentials": creds()})).await.status, 200);
    let tables = 24;
    for i in 0..tables {
        let path = format!("/connections/SHOPIFY/tables/t{i:02}/");
        // Each check takes 200 ms: long enough for the replicas' claims to overlap in time.
        let body = json!({"resource": "item", "connection_table_params": {"object": "slow"}});
        assert_eq!(api.patch(&path, body).await.status, 200);
    }
    // A replica claimed six jobs, then died: its lease (1 s) expires and another takes them.
    first.store.batch_execute("UPDATE scheduled_checks SET due_at = 0").unwrap();
    let dead = first.store.claim_checks("dead-replica", gateway_domain::now_seconds(), 1, 6, 6).unwrap();
    assert_eq!(dead.len(), 6);

    let policy = CheckPolicy { interval_secs: 3600, ..Default::default() };
    let replica = |db| {
        TestApp::builder()
            .on(db)
            .scripted()
            .keys(keys.clone())
            .schedule(scheduled(1))
            .check_policy(policy.clone())
            .spawn()
    };
    let a = replica(first.db.alias()).await.unwrap();
    let b = replica(first.db.alias()).await.unwrap();
    let expected = (tables + 1) as f64; // each table and the connection
    let checked = |app: &TestApp| {
        let text = app.gateway.render_metrics();
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
            .unwrap()
            .samples
            .into_iter()
            .filter(|s| s.metric == "gateway_scheduled_checks_total" && s.labels.get("outcome") == Some("checked"))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v) => v,
                _ => 0.0,
            })
            .sum::<f64>()
    };
    eventually("every due job checked", || async { checked(&a) + checked(&b) >= expected }).await;
    // Let both go on a while: nothing is due again for an hour, so nothing more runs.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (ca, cb) = (checked(&a), checked(&b));
    assert_eq!(ca + cb, expected, "each due check ran exactly once across the replicas ({ca} + {cb})");
    assert_eq!(first.store.due_checks(gateway_domain::now_seconds() + 1800).unwrap(), 0, "next due in about an hour");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn webhook_endpoints_are_checked_tested_and_kept_to_their_organization() {
    let ok = MockProvider::start(|_| Reply::text(200, "thanks"));
    let failing = MockProvider::start(|_| Reply::text(500, "down"));
    let app = TestApp::builder().scripted().allow_private().spawn().await.unwrap();
    let api = app.api("acme", "root");

    // Checked before stored.
    let bad = api.put("/webhooks/x/", json!({"url": "ftp://example.com/h"})).await;
    assert_eq!((bad.status, bad.error_name(), bad.field()), (400, "WRONG_DATA_TYPE", "url"));
    let bad = api.put("/webhooks/x/", json!({"url": "https://example.com", "events": ["table.deleted"]})).await;
    assert_eq!((bad.status, bad.field()), (400, "events.0"));
    let bad = api.put("/webhooks/x/", json!({"url": "https://example.com", "colour": "red"})).await;
    assert_eq!((bad.status, bad.field()), (400, "colour"));
    let bad = api.put("/webhooks/not%20an%20id/", json!({"url": "https://example.com"})).await;
    assert_eq!((bad.status, bad.field()), (400, "id"));

    let created = api.put("/webhooks/ok/", json!({"url": ok.url, "events": ["table.status_changed"]})).await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    assert_eq!(created.headers.get("cache-control").unwrap(), "no-store");
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    // Replacing keeps the secret (not shown again); rotating shows a new one.
    let again = api.put("/webhooks/ok/", json!({"url": ok.url, "description": "ops"})).await;
    assert!(again.body.get("secret").is_none(), "{:?}", again.body);
    let tested = api.post("/webhooks/ok/test/", json!({})).await;
    assert_eq!(tested.status, 200, "{:?}", tested.body);
    assert_eq!(tested.body["delivered"], true);
    let ping = ok.requests().pop().unwrap();
    assert!(signed_by(&secret, &ping));
    assert_eq!(serde_json::from_slice::<Value>(&ping.body).unwrap()["event"], "ping");
    let rotated = api.put("/webhooks/ok/", json!({"url": ok.url, "rotate_secret": true})).await;
    let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    api.post("/webhooks/ok/test/", json!({})).await;
    let ping = ok.requests().pop().unwrap();
    assert!(signed_by(&new_secret, &ping) && !signed_by(&secret, &ping), "signed with the new secret only");

    // Sealed at rest: the database never holds the secret in clear.
    let dump: Vec<String> = app
        .store
        .list_webhooks(&OrganizationId::parse("acme").unwrap())
        .unwrap()
        .iter()
        .map(|w| w.url.clone())
        .collect();
    assert_eq!(dump, vec![ok.url.clone()]);
    // The database file and its write-ahead log, where recent rows are.
    let path = app.db.url.trim_start_matches("sqlite://").to_owned();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(&ok.url), "the rows are where this test looks (the URL is stored in clear)");
    assert!(!text.contains(&new_secret[6..]) && !text.contains(&secret[6..]), "the secret is sealed in the database");

    assert_eq!(api.put("/webhooks/down/", json!({"url": failing.url})).await.status, 200);
    let refused = api.post("/webhooks/down/test/", json!({})).await;
    assert_eq!((refused.status, refused.error_name()), (400, "WRONG_DATA_TYPE"));
    assert_eq!(refused.body["error_data"]["status_code"], 500);

    // Another organization sees none of it; the platform's pipelines may not manage them.
    let other = app.api("globex", "root");
    assert_eq!(other.get("/webhooks/").await.body["webhooks"], json!([]));
    let missing = other.get("/webhooks/ok/").await;
    assert_eq!((missing.status, missing.error_name()), (404, "WEBHOOK_NOT_FOUND"));
    assert_eq!(app.api("acme", "backend").get("/webhooks/").await.status, 403);
    assert_eq!(app.api("acme", "backend").get("/audit/").await.status, 403);

    let list = api.get("/webhooks/").await.body;
    assert_eq!(list["webhooks"].as_array().unwrap().len(), 2, "{list}");
    assert_eq!(api.delete("/webhooks/ok/").await.status, 204);
    assert_eq!(api.delete("/webhooks/ok/").await.status, 404);
    let trail = api.get("/audit/").await.body.to_string();
    for action in ["webhook.put", "webhook.rotate_secret", "webhook.delete"] {
        assert!(trail.contains(action), "{action} in {trail}");
    }
    assert!(!trail.contains(&new_secret) && !trail.contains(&secret), "no secret in the trail");
}

#[tokio::test]
async fn a_private_webhook_url_is_refused_where_private_targets_are() {
    let app = TestApp::builder().scripted().spawn().await.unwrap();
    let api = app.api("acme", "manager");
    for url in [
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://localhost/x",
        "https://10.1.2.3/x",
    ] {
        let r = api.put("/webhooks/x/", json!({"url": url})).await;
        assert_eq!((r.status, r.field()), (400, "url"), "{url}: {:?}", r.body);
    }
    assert_eq!(api.get("/webhooks/x/").await.status, 404, "nothing stored");
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_the_same_event_id_until_accepted() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = calls.clone();
    let receiver = MockProvider::start(move |_| {
        if c.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Reply::text(503, "busy")
        } else {
            Reply::text(200, "")
        }
    });
    let app = TestApp::builder().scripted().allow_private().schedule(scheduled(1)).spawn().await.unwrap();
    let api = app.api("acme", "manager");
    assert_eq!(api.put("/webhooks/h/", json!({"url": receiver.url})).await.status, 200);
    assert_eq!(api.put(SHOP, json!({"credentials": creds()})).await.status, 200);
    let table = "/connections/SHOPIFY/tables/t/";
    assert_eq!(api.patch(table, json!({"resource": "item"})).await.status, 200);
    // A PATCH that changes the status is a status change too.
    assert_eq!(api.patch(table, json!({"status": "wrong_specification"})).await.status, 200);
    eventually("a first attempt", || async { !receiver.requests().is_empty() }).await;
    // The retry waits 30 s; bring it forward.
    eventually("the attempt recorded", || async {
        app.store.batch_execute("UPDATE webhook_deliveries SET next_attempt_at = 0 WHERE attempts > 0").is_ok()
            && receiver.requests().len() >= 2
    })
    .await;
    let seen = events(&receiver);
    assert_eq!(seen[0].1, seen[1].1, "the same event, body and id");
    assert_eq!(seen[0].0.header("gateway-event-id"), seen[1].0.header("gateway-event-id"));
    assert_eq!(seen[0].1["new_status"], "wrong_specification");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.requests().len(), 2, "delivered: not sent again");
    assert_eq!(app.store.pending_deliveries().unwrap(), 0);
}

#[tokio::test]
async fn a_stored_webhook_that_points_inside_is_refused_by_the_guard_when_delivering() {
    // Stored by a gateway that allowed private targets (or before a rule existed), delivered
    // by one that does not: the outbound guard refuses it, and nothing reaches the listener.
    let inside = MockProvider::start(|_| Reply::text(204, ""));
    let app = TestApp::builder().scripted().spawn().await.unwrap();
    let (org, id) = (OrganizationId::parse("acme").unwrap(), gateway_domain::WebhookId::parse("inside").unwrap());
    let put = gateway_domain::WebhookPut::from_json(json!({"url": inside.url}), &id).unwrap();
    app.store.put_webhook(&org, &id, &put, &gateway_domain::Actor::system("test")).unwrap();
    let refused = app.api("acme", "manager").post("/webhooks/inside/test/", json!({})).await;
    assert_eq!((refused.status, refused.field()), (400, "url"), "{:?}", refused.body);
    assert!(refused.body["message"].as_str().unwrap().contains("refused"), "{:?}", refused.body);
    assert!(inside.requests().is_empty(), "not one byte reached the private address");
}

async fn a_verdict_on_what_was_replaced_meanwhile_is_not_recorded_and_the_schedule_repairs_itself(db: Db) {
    let Some(app) = TestApp::builder().db(db).scripted().spawn().await else { return };
    let api = app.api("acme", "manager");
    assert_eq!(api.put(SHOP, json!({"credentials": creds()})).await.status, 200);
    let table = "/connections/SHOPIFY/tables/t/";
    assert_eq!(api.patch(table, json!({"resource": "item"})).await.status, 200);
    let (org, name, kind) =
        (OrganizationId::parse("acme").unwrap(), TableName::parse("t").unwrap(), ConnectionKind::Shopify);
    let actor = gateway_domain::Actor::system("test");

    // A test started on these params and credentials; a PATCH and a PUT land before it ends.
    let tested_table = app.store.get_table(&org, kind, &name).unwrap().unwrap();
    let tested_creds = app.store.get_connection(&org, kind).unwrap().unwrap().credentials;
    assert_eq!(api.patch(table, json!({"connection_table_params": {"object": "orders"}})).await.status, 200);
    let mut rotated = creds();
    rotated["client_secret"] = json!("rotated-secret");
    assert_eq!(api.put(SHOP, json!({"credentials": rotated})).await.status, 200);
    let status = gateway_domain::TableStatus::WrongCredentials;
    app.store.set_table_status(&org, kind, &name, Some(&tested_table), status.into(), &actor).unwrap();
    assert_eq!(api.get(table).await.body["status"], "available", "the old params' verdict is not the new ones'");
    let conn_status = gateway_domain::ConnectionStatus::WrongCredentials;
    assert_eq!(app.store.set_connection_status(&org, kind, &tested_creds, conn_status, &actor).unwrap(), None);
    assert!(api.get(SHOP).await.body.get("status").is_none(), "nor the old credentials' verdict the new ones'");
    // The same verdict on what is stored now is recorded.
    let current = app.store.get_table(&org, kind, &name).unwrap().unwrap();
    app.store.set_table_status(&org, kind, &name, Some(&current), status.into(), &actor).unwrap();
    assert_eq!(api.get(table).await.body["status"], "wrong_credentials");

    // A job lost (a replica of an older version wrote the table) and one orphaned are repaired.
    app.store.batch_execute("DELETE FROM scheduled_checks WHERE name = 't'").unwrap();
    app.store
        .batch_execute("INSERT INTO scheduled_checks (organization, connection, name, due_at, failures) VALUES ('acme', 'SHOPIFY', 'gone', 0, 0)")
        .unwrap();
    app.store.reconcile_checks().unwrap();
    assert!(app.store.check_state(&org, kind, Some(&name)).unwrap().is_some(), "the lost job is back");
    let gone = TableName::parse("gone").unwrap();
    assert!(app.store.check_state(&org, kind, Some(&gone)).unwrap().is_none(), "the orphan is removed");
    assert!(app.store.check_state(&org, kind, None).unwrap().is_some(), "the connection's job is kept");

    // A provider's Retry-After holds back every unclaimed check of that organization's
    // connection; a claimed one is left to its holder.
    app.store.batch_execute("UPDATE scheduled_checks SET due_at = 0").unwrap();
    let other = TableName::parse("u").unwrap();
    assert_eq!(api.patch("/connections/SHOPIFY/tables/u/", json!({"resource": "item"})).await.status, 200);
    app.store
        .batch_execute(
            "UPDATE scheduled_checks SET due_at = 0, lease_owner = 'live', lease_until = 9999999999 WHERE name = 'u'",
        )
        .unwrap();
    let until = gateway_domain::now_seconds() + 600;
    assert_eq!(app.store.defer_checks(&org, kind, until).unwrap(), 2, "the table's and the connection's jobs");
    assert_eq!(app.store.check_state(&org, kind, Some(&name)).unwrap().unwrap().due_at, until);
    assert_eq!(app.store.check_state(&org, kind, None).unwrap().unwrap().due_at, until);
    assert_eq!(
        app.store.check_state(&org, kind, Some(&other)).unwrap().unwrap().due_at,
        0,
        "the claimed one is its holder's"
    );
}

#[tokio::test]
async fn a_verdict_on_what_was_replaced_meanwhile_is_not_recorded_and_the_schedule_repairs_itself_sqlite() {
    a_verdict_on_what_was_replaced_meanwhile_is_not_recorded_and_the_schedule_repairs_itself(Db::Sqlite).await;
}

#[tokio::test]
async fn a_verdict_on_what_was_replaced_meanwhile_is_not_recorded_and_the_schedule_repairs_itself_postgres() {
    a_verdict_on_what_was_replaced_meanwhile_is_not_recorded_and_the_schedule_repairs_itself(Db::Postgres).await;
}

/// One tenant's connector panics inside scheduled checks and its provider hangs; another
/// tenant's re-test and webhook delivery still happen on time, and no loop restarts.
async fn a_panicking_or_hanging_tenant_does_not_stop_the_schedule_for_others(db: Db) {
    let receiver = MockProvider::start(|_| Reply::text(204, ""));
    let Some(app) = TestApp::builder().db(db).scripted().allow_private().schedule(scheduled(1)).spawn().await else {
        return;
    };
    let noisy = app.api("noisy", "manager");
    assert_eq!(noisy.put(SHOP, json!({"credentials": creds()})).await.status, 200);
    for i in 0..6 {
        let object = if i % 2 == 0 { "panic" } else { "hang" };
        let body = json!({"resource": "item", "connection_table_params": {"object": object}});
        assert_eq!(noisy.patch(&format!("/connections/SHOPIFY/tables/n{i}/"), body).await.status, 200);
    }
    let quiet = app.api("quiet", "manager");
    assert_eq!(quiet.put("/webhooks/ops/", json!({"url": format!("{}/hooks", receiver.url)})).await.status, 200);
    assert_eq!(quiet.put(SHOP, json!({"credentials": creds()})).await.status, 200);
    let table = "/connections/SHOPIFY/tables/orders/";
    let body = json!({"resource": "item", "connection_table_params": {"object": "missing"}});
    assert_eq!(quiet.patch(table, body).await.status, 200);
    // The noisy tenant's jobs are due first.
    app.store.batch_execute("UPDATE scheduled_checks SET due_at = 0 WHERE organization = 'noisy'").unwrap();
    app.store.batch_execute("UPDATE scheduled_checks SET due_at = 1 WHERE organization = 'quiet'").unwrap();
    let hanging = |i: usize| format!("/connections/SHOPIFY/tables/n{i}/");
    let before = noisy.get(&hanging(1)).await.body["status"].clone();
    eventually("the quiet tenant's table re-tested", || async {
        quiet.get(table).await.body["status"] == "resource_not_found"
    })
    .await;
    eventually("and its webhook told", || async {
        events(&receiver).iter().any(|(_, e)| e["event"] == "table.status_changed" && e["table"] == "orders")
    })
    .await;
    // On time, told by what happened rather than a clock: the quiet tenant was served while
    // the noisy tenant's hanging checks were still in flight (each is bounded by the job
    // timeout, 90 s, far past this test's waits), not after they gave up.
    for i in [1, 3, 5] {
        assert_eq!(noisy.get(&hanging(i)).await.body["status"], before, "n{i} is still being checked");
    }
    // The panic was the noisy check's own failure, recorded as such; nothing restarted.
    eventually("the panicking table recorded", || async {
        noisy.get("/connections/SHOPIFY/tables/n0/").await.body["status"] == "unknown_error"
    })
    .await;
    let metrics = app.gateway.render_metrics();
    assert!(!metrics.contains("gateway_scheduler_restarts_total{"), "{metrics}");
    assert!(metrics.contains("gateway_scheduler_heartbeat_timestamp_seconds{loop=\"checks\"}"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_or_hanging_tenant_does_not_stop_the_schedule_for_others_sqlite() {
    a_panicking_or_hanging_tenant_does_not_stop_the_schedule_for_others(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_or_hanging_tenant_does_not_stop_the_schedule_for_others_postgres() {
    a_panicking_or_hanging_tenant_does_not_stop_the_schedule_for_others(Db::Postgres).await;
}

/// `freshness_hours`: a recorded test of a source older than that warns and tells webhooks
/// `table.stale` once; the next test of fresh data tells `table.fresh`. The source's age is
/// what the provider says (the scripted connector's `modified_at`): no clock is waited on.
async fn freshness_is_told_once_per_change(db: Db) {
    let receiver = MockProvider::start(|_| Reply::text(204, ""));
    let Some(app) = TestApp::builder().db(db).scripted().allow_private().schedule(scheduled(1)).spawn().await else {
        return;
    };
    let api = app.api("acme", "manager");
    let hook = api.put("/webhooks/ops/", json!({"url": receiver.url, "events": ["table.stale", "table.fresh"]})).await;
    assert_eq!(hook.status, 200, "{:?}", hook.body);
    assert_eq!(api.put(SHOP, json!({"credentials": creds()})).await.status, 200);
    let table = "/connections/SHOPIFY/tables/products/";
    let now = gateway_domain::now_seconds();
    let params = |modified: i64| json!({"object": "products", "freshness_hours": 24, "modified_at": modified});
    let made = api.patch(table, json!({"resource": "item", "connection_table_params": params(now - 30 * 3600)})).await;
    assert_eq!(made.status, 200, "{:?}", made.body);
    let tested = api.get(&format!("{table}test/")).await;
    assert_eq!(tested.status, 200, "{:?}", tested.body);
    let warnings = tested.body["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w.as_str().unwrap().starts_with("stale: the newest data was modified 30 h ago")),
        "{warnings:?}"
    );
    assert_eq!(tested.body["status"], "available", "stale data is still readable");
    assert_eq!(tested.body["sample"]["modified_timestamp"], now - 30 * 3600);
    // Tested again, still stale: nothing more is told.
    assert_eq!(api.get(&format!("{table}test/")).await.status, 200);
    // The export resumed.
    assert_eq!(api.patch(table, json!({"connection_table_params": params(now - 3600)})).await.status, 200);
    let tested = api.get(&format!("{table}test/")).await;
    assert!(!tested.body["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().starts_with("stale")));
    eventually("two freshness events", || async { events(&receiver).len() >= 2 }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Once per change (delivered at once, in any order; the audit trail below has the order).
    let mut told: Vec<String> =
        events(&receiver).iter().map(|(_, e)| e["event"].as_str().unwrap().to_owned()).collect();
    told.sort();
    assert_eq!(told, ["table.fresh", "table.stale"], "once per change");
    let (_, first) = &events(&receiver)[0];
    assert_eq!((first["connection"].as_str(), first["table"].as_str()), (Some("SHOPIFY"), Some("products")));
    let trail = app.api("acme", "root").get("/audit/?amt=64").await;
    let freshness: Vec<Value> = trail.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "table.freshness")
        .map(|e| e["fields"].clone())
        .collect();
    assert_eq!(freshness, [json!(["fresh"]), json!(["stale"])], "newest first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freshness_is_told_once_per_change_sqlite() {
    freshness_is_told_once_per_change(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freshness_is_told_once_per_change_postgres() {
    freshness_is_told_once_per_change(Db::Postgres).await;
}

/// Schema history and drift: each recorded test keeps the columns it saw when they changed;
/// an added unmapped column is recorded and warned (still available), a mapped rating turned
/// to text and a mapped column renamed make the table `wrong_specification` naming the
/// field; webhooks hear `table.schema_changed` with names and types only; the history goes
/// with the table.
async fn schema_drift_is_kept_judged_and_told(db: Db) {
    let receiver = MockProvider::start(|_| Reply::text(204, ""));
    let Some(app) = TestApp::builder().db(db).allow_private().schedule(scheduled(1)).spawn().await else {
        return;
    };
    let api = app.api("acme", "manager");
    let hook = api.put("/webhooks/ops/", json!({"url": receiver.url, "events": ["table.schema_changed"]})).await;
    assert_eq!(hook.status, 200, "{:?}", hook.body);
    let table = "/connections/LOCAL/tables/ratings.csv/";
    let schema = format!("{table}schema/");
    let mapping = json!({"user_id": "uid", "item_id": "sku", "rating": "score"});
    let made = api.patch(table, json!({"resource": "rating", "resource_params": {"columns_mapping": mapping}})).await;
    assert_eq!(made.status, 200, "{:?}", made.body);
    assert_eq!(api.get(&schema).await.body, json!({"current": null, "history": [], "has_next": false, "next_page": 2}));
    let url = made.body["connection_table_params"]["url"].as_str().unwrap().to_owned();
    let upload = |body: &'static str| {
        let url = url.clone();
        async move {
            let r = reqwest::Client::new().put(&url).body(body).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let col = |name: &str, ty: &str| json!({"name": name, "type": ty});

    let (status, body) = upload("uid,sku,score\nu1,i1,4.5\nu2,i2,3.5\n").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("available")), "{body}");
    let first = api.get(&schema).await.body;
    assert_eq!(first["current"]["columns"], json!([col("uid", "string"), col("sku", "string"), col("score", "float")]));
    assert_eq!(first["history"][0]["added"], json!([]), "the first schema seen is no change: {first}");
    // Tested again unchanged: nothing new kept.
    assert_eq!(api.get(&format!("{table}test/")).await.status, 200);
    assert_eq!(api.get(&schema).await.body["history"].as_array().unwrap().len(), 1);

    // An unmapped column added: kept and warned, still available.
    let (status, body) = upload("uid,sku,score,note\nu1,i1,4.5,ok\n").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("available")), "{body}");
    assert!(
        body["warnings"].to_string().contains("the columns changed since the last recorded test: added note"),
        "{body}"
    );
    let h = api.get(&schema).await.body;
    assert_eq!(h["history"][0]["added"], json!([col("note", "string")]), "{h}");

    // The mapped rating turned to text: the table fails naming the field and both types.
    let (status, body) = upload("uid,sku,score,note\nu1,i1,good,ok\n").await;
    assert_eq!((status, body["error_data"]["status"].as_str()), (400, Some("wrong_specification")), "{body}");
    assert_eq!(body["error_data"]["field"], "resource_params.columns_mapping.rating", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("'rating' is mapped to column 'score', which was float and is now string"),
        "{body}"
    );
    let h = api.get(&schema).await.body;
    assert_eq!(h["history"][0]["changed"], json!([{"name": "score", "from": "float", "to": "string"}]), "{h}");
    // Tested again, the file unchanged: still failing (judged against the history, which
    // remembers the column fit), nothing new kept.
    let again = api.get(&format!("{table}test/")).await;
    assert_eq!((again.status, again.body["error_data"]["status"].as_str()), (400, Some("wrong_specification")));
    assert_eq!(api.get(&schema).await.body["history"].as_array().unwrap().len(), 3);

    // A mapped column renamed: failed naming the field, the rename kept as removed + added.
    let (status, body) = upload("uid,product_id,score,note\nu1,i1,4.5,ok\n").await;
    assert_eq!((status, body["error_data"]["status"].as_str()), (400, Some("wrong_specification")), "{body}");
    assert_eq!(body["error_data"]["field"], "resource_params.columns_mapping.item_id", "{body}");
    let h = api.get(&schema).await.body;
    assert_eq!(h["history"][0]["removed"], json!([col("sku", "string")]), "{h}");
    assert_eq!(h["history"][0]["added"], json!([col("product_id", "string")]), "{h}");
    assert_eq!(h["current"]["columns"][1], col("product_id", "string"));
    assert_eq!(api.get(table).await.body["status"], "wrong_specification");
    let page = api.get(&format!("{schema}?amt=2")).await.body;
    assert_eq!((page["history"].as_array().unwrap().len(), page["has_next"].as_bool()), (2, Some(true)), "{page}");
    assert_eq!(api.get(&format!("{schema}?page=3&amt=2")).await.body["current"], h["current"], "current on every page");

    // Told three times, names and types only.
    eventually("three schema events", || async { events(&receiver).len() >= 3 }).await;
    let told: Vec<Value> = events(&receiver).into_iter().map(|(_, e)| e).collect();
    assert!(told.iter().all(|e| e["event"] == "table.schema_changed" && e["table"] == "ratings.csv"), "{told:?}");
    assert!(
        told.iter().any(|e| e["changed"] == json!([{"name": "score", "from": "float", "to": "string"}])),
        "{told:?}"
    );
    assert!(!serde_json::to_string(&told).unwrap().contains("good"), "never a value: {told:?}");
    let trail = app.api("acme", "root").get("/audit/?amt=64").await;
    let schema_entries: Vec<&Value> =
        trail.body["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "table.schema").collect();
    assert_eq!(schema_entries.len(), 3, "{:?}", trail.body);
    // (score reads as a number again in the last file: changed back.)
    assert_eq!(
        schema_entries[0]["fields"],
        json!(["added product_id", "removed sku", "changed score"]),
        "{:?}",
        schema_entries[0]
    );

    // Gone with the table.
    assert_eq!(api.delete(table).await.status, 204);
    assert_eq!(api.get(&schema).await.status, 404);
    assert_eq!(api.patch(table, json!({"resource": "rating"})).await.status, 200);
    assert_eq!(api.get(&schema).await.body["history"], json!([]), "a new table starts a new history");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_schema_drift_is_kept_judged_and_told() {
    schema_drift_is_kept_judged_and_told(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_schema_drift_is_kept_judged_and_told() {
    schema_drift_is_kept_judged_and_told(Db::Postgres).await;
}

/// A file rewritten in the S3 peer: the schedule's re-test sees its mapped timestamp go from
/// epoch seconds to milliseconds (warned, kept in the history, told), then a mapped column
/// renamed (the table fails naming the field).
async fn a_rewritten_s3_file_drifts(db: Db) {
    let Some(peer) = gateway_testkit::S3Peer::get() else { return };
    let receiver = MockProvider::start(|_| Reply::text(204, ""));
    let Some(app) = TestApp::builder()
        .db(db)
        .allow_private()
        .provider_url("S3", &peer.endpoint)
        .schedule(scheduled(1))
        .spawn()
        .await
    else {
        return;
    };
    let api = app.api("acme", "manager");
    let hook = api.put("/webhooks/ops/", json!({"url": receiver.url, "events": ["table.schema_changed"]})).await;
    assert_eq!(hook.status, 200, "{:?}", hook.body);
    let creds = json!({"aws_access_key_id": peer.key_id, "aws_secret_access_key": peer.secret, "bucket": peer.bucket});
    assert_eq!(api.put("/connections/S3/", json!({"credentials": creds})).await.status, 200);
    let path = format!("drift-{}-{}/ratings.csv", std::process::id(), gateway_domain::now_seconds());
    let op = peer.operator();
    op.write(&path, "uid,sku,score,ts\nu1,i1,4.5,1764547200\nu2,i2,3,1764547260\n").await.unwrap();
    let table = "/connections/S3/tables/ratings/";
    let mapping = json!({"user_id": "uid", "item_id": "sku", "rating": "score", "timestamp": "ts"});
    let body = json!({"resource": "rating", "connection_table_params": {"path": path}, "resource_params": {"columns_mapping": mapping}});
    assert_eq!(api.patch(table, body).await.status, 200);
    let tested = api.get(&format!("{table}test/")).await;
    assert_eq!(tested.body["status"], "available", "{:?}", tested.body);
    assert_eq!(api.get(&format!("{table}schema/")).await.body["history"][0]["unit"], "seconds");

    op.write(&path, "uid,sku,score,ts\nu1,i1,4.5,1764547200000\nu2,i2,3,1764547260000\n").await.unwrap();
    let tested = api.get(&format!("{table}test/")).await;
    assert_eq!(tested.body["status"], "available", "a unit change warns: {:?}", tested.body);
    let warnings = tested.body["warnings"].to_string();
    assert!(
        warnings.contains("the mapped timestamp now holds milliseconds since the epoch where it held seconds"),
        "{warnings}"
    );
    let h = api.get(&format!("{table}schema/")).await.body;
    assert_eq!(h["history"][0]["timestamp_unit"], json!({"from": "seconds", "to": "milliseconds"}), "{h}");
    assert_eq!(h["history"][0]["added"], json!([]), "{h}");

    // Renamed, and found by the schedule's re-test (not a request of the customer's).
    op.write(&path, "uid,product_id,score,ts\nu1,i1,4.5,1764547200000\n").await.unwrap();
    app.store.batch_execute("UPDATE scheduled_checks SET due_at = 0").unwrap();
    eventually("the re-test to fail the table", || async {
        api.get(table).await.body["status"] == "wrong_specification"
    })
    .await;
    let h = api.get(&format!("{table}schema/")).await.body;
    assert_eq!(h["history"][0]["removed"], json!([{"name": "sku", "type": "string"}]), "{h}");
    eventually("two schema events", || async { events(&receiver).len() >= 2 }).await;
    let told: Vec<Value> = events(&receiver).into_iter().map(|(_, e)| e).collect();
    assert!(told.iter().any(|e| e["timestamp_unit"]["to"] == "milliseconds"), "{told:?}");
    assert!(told.iter().any(|e| e["removed"][0]["name"] == "sku"), "{told:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_rewritten_s3_file_drifts() {
    a_rewritten_s3_file_drifts(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_rewritten_s3_file_drifts() {
    a_rewritten_s3_file_drifts(Db::Postgres).await;
}

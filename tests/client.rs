//! The typed client (`gateway-client`) against the spawned server: every operation of the
//! OpenAPI document has its method (checked one to one), the workflow a Rust service chains
//! (create, preview, save what it answered, upload, test) runs on the domain's types, and
//! failures come back as the contract's error names.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use gateway_client::{Client, ClientError, TableBody};
use gateway_domain::{ConnectionKind, ErrorName, Paging, Resource, TableName, TableStatus};
use gateway_testkit::TestApp;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_covers_the_api_and_its_workflow() {
    let app = TestApp::builder().scripted().spawn().await.unwrap();
    let client = Client::new(&app.address, &app.token("acme", "manager")).unwrap();

    // One method per operation of the document, and no other.
    let doc = client.openapi().await.unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let covered: BTreeSet<(String, String)> =
        Client::OPERATIONS.iter().map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned())).collect();
    assert_eq!(covered, documented, "client methods and OpenAPI operations, one to one");
    for (method, path, name) in Client::OPERATIONS {
        assert_eq!(
            doc["paths"][*path][*method]["operationId"], *name,
            "{method} {path}: operationId is the method's name"
        );
    }

    assert_eq!(client.health().await.unwrap()["status"], "ok");
    assert_eq!(client.ready().await.unwrap()["status"], "ready");
    assert!(client.metrics().await.unwrap().contains("# TYPE gateway_db_pool_max_connections gauge"));

    // Connections, masked for a manager; the scripted provider's test as domain types.
    let creds =
        json!({"domain": "acme", "client_id": "c", "client_secret": "client-secret-1"}).as_object().cloned().unwrap();
    let saved = client.put_connection(ConnectionKind::Shopify, creds, None).await.unwrap();
    assert_eq!(saved.credentials["client_secret"], "********");
    let check = client.test_credentials(ConnectionKind::Shopify, None).await.unwrap();
    assert_eq!(check.steps[0].outcome, "passed");
    assert_eq!(client.list_connections().await.unwrap().connections.len(), 1);
    assert_eq!(client.get_connection(ConnectionKind::Shopify).await.unwrap().connection, ConnectionKind::Shopify);
    assert!(
        client.connection_spec(ConnectionKind::Braze).await.unwrap()["$defs"]["connection_table_params"].is_object()
    );

    // Preview, save what it answered, test it again.
    let name = TableName::parse("products").unwrap();
    let body = TableBody { resource: Some(Resource::Item), ..Default::default() };
    let preview = client.preview_table(ConnectionKind::Shopify, &name, &body).await.unwrap();
    assert_eq!(preview.table.resource_params["columns_mapping"]["item_id"], "itemId");
    assert_eq!(preview.sample.rows.len(), 3);
    client.patch_table(ConnectionKind::Shopify, &name, &TableBody::from(preview.table)).await.unwrap();
    let tested = client.test_table(ConnectionKind::Shopify, &name).await.unwrap();
    assert_eq!(tested.table.status, TableStatus::Available);

    // A LOCAL table: PATCH answers the upload URL, the file goes there, then it is tested.
    let ratings = TableName::parse("ratings.csv").unwrap();
    let local = client
        .patch_table(
            ConnectionKind::Local,
            &ratings,
            &TableBody { resource: Some(Resource::Rating), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(local.status, TableStatus::Uploading);
    let url = local.connection_table_params["url"].as_str().unwrap();
    let uploaded = client.upload(url, "user_id,item_id,rating\nu1,i1,4\n").await.unwrap();
    assert_eq!(uploaded.table.status, TableStatus::Available);

    let page = client.filter_tables(None, None, Paging::default()).await.unwrap();
    assert_eq!(page.tables.len(), 2);
    assert_eq!(client.list_tables(ConnectionKind::Shopify).await.unwrap().tables.len(), 1);

    // Failures carry the contract's error names.
    client.delete_table(ConnectionKind::Shopify, &name).await.unwrap();
    let missing = client.get_table(ConnectionKind::Shopify, &name).await.unwrap_err();
    assert_eq!(missing.name(), Some(ErrorName::TableNotFound), "{missing}");
    let err = client.delete_connection(ConnectionKind::Braze, false).await.unwrap_err();
    assert!(matches!(err, ClientError::Api { status: 404, name: Some(ErrorName::ConnectionNotFound), .. }), "{err}");
    client.delete_connection(ConnectionKind::Shopify, true).await.unwrap();

    // Webhooks and the audit trail, typed.
    let id = gateway_domain::WebhookId::parse("ops").unwrap();
    let hook = client.put_webhook(&id, serde_json::json!({"url": "https://hooks.example.com/gateway"})).await.unwrap();
    assert!(hook.secret.as_deref().is_some_and(|s| s.starts_with("whsec_")), "{hook:?}");
    assert_eq!(client.list_webhooks().await.unwrap()[0].id, id);
    assert_eq!(client.get_webhook(&id).await.unwrap().url, "https://hooks.example.com/gateway");
    client.delete_webhook(&id).await.unwrap();
    let gone = client.get_webhook(&id).await.unwrap_err();
    assert_eq!(gone.name(), Some(ErrorName::WebhookNotFound), "{gone}");
    let trail = client.audit(Paging::default()).await.unwrap();
    assert_eq!(trail.entries[0].action, "webhook.delete");
    assert!(trail.entries.iter().any(|e| e.action == "connection.delete" && e.target == "SHOPIFY"), "{trail:?}");
    let refused = Client::new(&app.address, "not-a-token").unwrap().list_connections().await.unwrap_err();
    assert_eq!(refused.name(), Some(ErrorName::Unauthorized));
}

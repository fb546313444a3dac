//! The conformance suite (`gateway_testkit::conformance`) over every connector the binary
//! registers: one parameterised test, so a provider added to the registry is checked
//! without a line here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gateway_testkit::{TestApp, conformance};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_registered_connector_conforms() {
    let app = TestApp::builder().spawn().await.unwrap();
    let kinds: Vec<_> = app.gateway.registry().kinds().collect();
    assert!(kinds.len() >= 3, "S3, GCS and LOCAL at least: {kinds:?}");
    let mut problems = Vec::new();
    for kind in kinds {
        problems.extend(conformance::check(&app, kind).await);
        problems.extend(conformance::check_refusal(kind).await);
        problems.extend(conformance::check_timeout(kind).await);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The suite can fail: a connector whose secret is not marked is caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_catches_an_unmarked_secret() {
    let careless = gateway_testkit::ScriptedConnector::with_unmarked_secret();
    let registry = gateway_connector::Registry::new().with(std::sync::Arc::new(careless)).unwrap();
    let app = TestApp::builder().registry(registry).spawn().await.unwrap();
    let problems = conformance::check(&app, gateway_domain::ConnectionKind::Shopify).await;
    assert!(problems.iter().any(|p| p.contains("looks secret but is not marked secret")), "{problems:?}");
}

//! S3 and GCS connectors against real local peers that `make test` starts: moto (enforcing
//! IAM: a bad secret really is SignatureDoesNotMatch) and fake-gcs-server, with a local token
//! endpoint that verifies the RS256 assertion with the test key's public half.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use gateway_testkit::files::{gzip, zip};
use gateway_testkit::{GcsPeer, S3Peer, TestApp, TestKey, TokenServer};
use serde_json::{Value, json};

struct Peers {
    app: TestApp,
    gcs: Option<(GcsPeer, TokenServer, TestKey)>,
}

const SA_EMAIL: &str = "loader@gateway-tests.iam.gserviceaccount.com";

/// The binary's connectors, pointed at the peers by the operator's settings
/// (`GATEWAY_OUTBOUND_ALLOW_PRIVATE`, `GATEWAY_PROVIDER_<NAME>_URL`).
async fn spawn(s3: Option<S3Peer>, gcs: Option<GcsPeer>) -> Peers {
    let gcs = gcs.map(|p| {
        let key = TestKey::generate();
        let token = TokenServer::start(&key, SA_EMAIL);
        (p, token, key)
    });
    let mut builder = TestApp::builder().allow_private();
    if let Some(p) = &s3 {
        builder = builder.provider_url("S3", &p.endpoint);
    }
    if let Some((p, t, _)) = &gcs {
        builder = builder.provider_url("GCS", &p.endpoint).provider_url("GOOGLE_OAUTH", &t.url);
    }
    Peers { app: builder.spawn().await.unwrap(), gcs }
}

/// A prefix of this test's own in the shared bucket.
fn prefix(test: &str) -> String {
    format!("{test}-{}-{}", std::process::id(), gateway_domain::now_seconds())
}

const ITEMS_CSV: &str = "item_id,title,price\n1,\"Hat, red\",9.5\n2,Scarf,10\n3,Gloves,11.25\n";
const ITEMS_TSV: &str = "item_id\ttitle\tprice\n1\tHat, red\t9.5\n2\tScarf\t10\n";
const ITEMS_JSONL: &str =
    "{\"item_id\": \"1\", \"attrs\": {\"color\": \"red\"}}\n{\"item_id\": \"2\", \"attrs\": {\"color\": \"blue\"}}\n";

fn items_parquet() -> Vec<u8> {
    use arrow_array::{Float64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    let schema = Arc::new(Schema::new(vec![
        Field::new("ITEM-ID", DataType::Utf8, false),
        Field::new("price", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(StringArray::from(vec!["a", "b", "c"])), Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0]))],
    )
    .unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(Vec::new(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.into_inner().unwrap()
}

fn s3_credentials(peer: &S3Peer, bucket: Option<&str>) -> Value {
    let mut c = json!({"aws_access_key_id": peer.key_id, "aws_secret_access_key": peer.secret});
    if let Some(b) = bucket {
        c["bucket"] = json!(b);
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_credentials_valid_wrong_forbidden_missing() {
    let Some(peer) = S3Peer::get() else { return };
    let p = spawn(Some(peer.clone()), None).await;
    let api = p.app.api("acme", "manager");
    let test = |creds: Value| {
        let api = &api;
        async move { api.post("/connections/S3/test/", json!({"credentials": creds})).await }
    };

    let r = test(s3_credentials(&peer, Some(&peer.bucket))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["steps"][0]["name"], "list_bucket");
    assert_eq!(r.body["steps"][0]["outcome"], "passed");

    let mut wrong = s3_credentials(&peer, Some(&peer.bucket));
    wrong["aws_secret_access_key"] = json!("not-the-secret-0000000000000000000000000");
    let r = test(wrong).await;
    assert_eq!(
        (r.status, r.error_name(), r.body["error_data"]["reason"].as_str()),
        (400, "WRONG_DATA_TYPE", Some("wrong_credentials"))
    );
    assert!(r.body["message"].as_str().unwrap().contains("aws_secret_access_key"), "{:?}", r.body);

    let mut unknown = s3_credentials(&peer, Some(&peer.bucket));
    unknown["aws_access_key_id"] = json!("AKIAUNKNOWN000000000");
    let r = test(unknown).await;
    assert_eq!(r.body["error_data"]["reason"], "wrong_credentials", "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("aws_access_key_id"));

    let no_s3 = json!({"aws_access_key_id": peer.no_s3_key_id, "aws_secret_access_key": peer.no_s3_secret, "bucket": peer.bucket});
    let r = test(no_s3).await;
    assert_eq!(r.body["error_data"]["reason"], "forbidden", "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("s3:ListBucket"));

    let r = test(s3_credentials(&peer, Some("gw-no-such-bucket"))).await;
    assert_eq!(r.body["error_data"]["reason"], "resource_not_found", "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("gw-no-such-bucket"));

    // No bucket: STS GetCallerIdentity, signed by us and checked by the peer.
    let r = test(s3_credentials(&peer, None)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["steps"][0]["name"], "get_caller_identity");
    assert!(r.body["steps"][0]["message"].as_str().unwrap().contains("gw-admin"), "{:?}", r.body);
    assert_eq!(r.body["steps"][1]["outcome"], "skipped");
    let mut wrong = s3_credentials(&peer, None);
    wrong["aws_secret_access_key"] = json!("not-the-secret-0000000000000000000000000");
    let r = test(wrong).await;
    assert_eq!(r.body["error_data"]["reason"], "wrong_credentials", "{:?}", r.body);

    // The spec's own example is a valid shape (its key id is an e-mail address).
    let r = api
        .put(
            "/connections/S3/",
            json!({"credentials": {"aws_access_key_id": "my-user@test.com", "aws_secret_access_key": "PasSW0rD"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["credentials"]["region"], "us-east-1", "default filled");
    assert_eq!(r.body["credentials"]["aws_secret_access_key"], "********");
    assert_eq!(r.body["credentials"]["aws_access_key_id"], "my-user@test.com", "the key id is not secret");
    let r = api
        .put(
            "/connections/S3/",
            json!({"credentials": {"aws_access_key_id": "k", "aws_secret_access_key": "s", "zone": "x"}}),
        )
        .await;
    assert_eq!((r.status, r.field()), (400, "credentials.zone"));
    let r = api.put("/connections/S3/", json!({"credentials": {"aws_access_key_id": "k"}})).await;
    assert_eq!((r.status, r.field()), (400, "credentials.aws_secret_access_key"));
    let r = api
        .put("/connections/S3/", json!({"credentials": {"aws_access_key_id": "k", "aws_secret_access_key": "s", "endpoint": "https://169.254.169.254"}}))
        .await;
    assert_eq!((r.status, r.field()), (400, "credentials.endpoint"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_previews_every_format_plain_and_compressed() {
    let Some(peer) = S3Peer::get() else { return };
    let p = spawn(Some(peer.clone()), None).await;
    let api = p.app.api("acme", "root");
    let r = api.put("/connections/S3/", json!({"credentials": s3_credentials(&peer, Some(&peer.bucket))})).await;
    assert_eq!(r.status, 200);
    let op = peer.operator();
    let dir = prefix("formats");
    let files: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("items.csv", ITEMS_CSV.as_bytes().to_vec(), "CSV", "none"),
        ("items.csv.gz", gzip(ITEMS_CSV.as_bytes()), "CSV", "gzip"),
        ("items.zip", zip(&[("items.csv", ITEMS_CSV.as_bytes())], true), "CSV", "zip"),
        ("items.tsv", ITEMS_TSV.as_bytes().to_vec(), "TSV", "none"),
        ("items.tsv.gz", gzip(ITEMS_TSV.as_bytes()), "TSV", "gzip"),
        ("items-tsv.zip", zip(&[("items.tsv", ITEMS_TSV.as_bytes())], true), "TSV", "zip"),
        ("items.jsonl", ITEMS_JSONL.as_bytes().to_vec(), "JSONL", "none"),
        ("items.jsonl.gz", gzip(ITEMS_JSONL.as_bytes()), "JSONL", "gzip"),
        ("items.jsonl.zip", zip(&[("items.jsonl", ITEMS_JSONL.as_bytes())], true), "JSONL", "zip"),
        ("items.parquet", items_parquet(), "PARQUET", "none"),
    ];
    for (name, bytes, format, compression) in files {
        let path = format!("{dir}/{name}");
        op.write(&path, bytes).await.unwrap();
        let r = api
            .post(
                "/connections/S3/tables/items/test/",
                json!({"resource": "item", "connection_table_params": {"path": path}}),
            )
            .await;
        assert_eq!(r.status, 200, "{name}: {:?}", r.body);
        let params = &r.body["connection_table_params"];
        assert_eq!(params["file_format"], format, "{name}");
        assert_eq!(params["options"]["compression"], compression, "{name}: detected");
        let mapping = &r.body["resource_params"]["columns_mapping"];
        let expected = if format == "PARQUET" { "ITEM-ID" } else { "item_id" };
        assert_eq!(mapping["item_id"], expected, "{name}: {:?}", r.body);
        assert!(!r.body["sample"]["rows"].as_array().unwrap().is_empty(), "{name}");
        if format == "CSV" {
            assert_eq!(params["options"]["delimiter"], ",");
            assert_eq!(r.body["sample"]["rows"][0]["title"], "Hat, red");
        }
        if format == "JSONL" {
            assert_eq!(r.body["sample"]["columns"][1]["name"], "attrs.color");
        }
        if format == "TSV" {
            assert_eq!(params["options"]["delimiter"], "\t");
        }
    }

    // Missing object, missing bucket: 404 naming them.
    let r = api
        .post(
            "/connections/S3/tables/items/test/",
            json!({"resource": "item", "connection_table_params": {"path": format!("{dir}/nope.csv")}}),
        )
        .await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("nope.csv"), "{:?}", r.body);
    let r = api
        .post(
            "/connections/S3/tables/items/test/",
            json!({"resource": "item", "connection_table_params": {"path": "x.csv", "bucket": "gw-missing-bucket"}}),
        )
        .await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"));
    assert!(r.body["message"].as_str().unwrap().contains("bucket 'gw-missing-bucket' does not exist"), "{:?}", r.body);

    // A declared format the content contradicts, and a required field no column has.
    let r = api.post("/connections/S3/tables/items/test/", json!({"resource": "item", "connection_table_params": {"path": format!("{dir}/items.csv"), "file_format": "PARQUET"}})).await;
    assert_eq!((r.status, r.body["error_data"]["reason"].as_str()), (400, Some("wrong_specification")), "{:?}", r.body);
    let r = api
        .post(
            "/connections/S3/tables/items/test/",
            json!({"resource": "rating", "connection_table_params": {"path": format!("{dir}/items.csv")}}),
        )
        .await;
    assert_eq!((r.status, r.field()), (400, "resource_params.columns_mapping.user_id"));

    // The stored table's test records statuses.
    let table = "/connections/S3/tables/stored/";
    api.patch(table, json!({"resource": "item", "connection_table_params": {"path": format!("{dir}/gone.csv")}})).await;
    let r = api.get(&format!("{table}test/")).await;
    assert_eq!(r.status, 404);
    assert_eq!(api.get(table).await.body["status"], "resource_not_found");
    api.patch(table, json!({"connection_table_params": {"path": format!("{dir}/items.csv.gz")}})).await;
    let r = api.get(&format!("{table}test/")).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("available")), "{:?}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_destination_probe_leaves_nothing() {
    let Some(peer) = S3Peer::get() else { return };
    let p = spawn(Some(peer.clone()), None).await;
    let api = p.app.api("acme", "root");
    api.put("/connections/S3/", json!({"credentials": s3_credentials(&peer, Some(&peer.bucket))})).await;
    let dir = prefix("recos");
    let r = api
        .post("/connections/S3/tables/recos/test/", json!({"resource": "user_to_items_reco", "connection_table_params": {"path": format!("{dir}/out/recos.csv")}}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(live_keys(&peer, &dir).await, Vec::<String>::new(), "the probe is gone");
    let no_s3 = json!({"aws_access_key_id": peer.no_s3_key_id, "aws_secret_access_key": peer.no_s3_secret, "bucket": peer.bucket});
    api.put("/connections/S3/", json!({"credentials": no_s3})).await;
    let r = api
        .post(
            "/connections/S3/tables/recos/test/",
            json!({"resource": "user_to_items_reco", "connection_table_params": {"path": "out/x.csv"}}),
        )
        .await;
    assert_eq!((r.status, r.body["error_data"]["reason"].as_str()), (400, Some("forbidden")), "{:?}", r.body);
}

/// Keys under a prefix that still exist, from moto's own view of its store (opendal's listing
/// sends `/` unencoded in the query, which moto's signature check refuses).
async fn live_keys(peer: &S3Peer, prefix: &str) -> Vec<String> {
    let data: Value =
        reqwest::get(format!("{}/moto-api/data.json", peer.endpoint)).await.unwrap().json().await.unwrap();
    data["s3"]["FakeKey"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|k| k["disposed"] != true && k["bucket_name"] == peer.bucket.as_str())
        .filter_map(|k| k["name"].as_str().filter(|n| n.starts_with(prefix)).map(str::to_owned))
        .collect()
}

fn gcs_credentials(key: &TestKey, bucket: Option<&str>) -> Value {
    let mut c = key.key_file(SA_EMAIL);
    if let Some(b) = bucket {
        c["bucket"] = json!(b);
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_credentials_and_the_spec_preview_example() {
    let Some(gcs) = GcsPeer::get() else { return };
    let p = spawn(None, Some(gcs.clone())).await;
    let (peer, tokens, key) = p.gcs.as_ref().unwrap();
    let api = p.app.api("acme", "manager");

    let r = api.post("/connections/GCS/test/", json!({"credentials": gcs_credentials(key, Some(&peer.bucket))})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body["steps"][0],
        json!({"name": "token_exchange", "outcome": "passed", "message": "the service-account key was exchanged for an access token"})
    );
    assert_eq!(r.body["steps"][1]["outcome"], "passed");

    let other = TestKey::generate();
    let r =
        api.post("/connections/GCS/test/", json!({"credentials": gcs_credentials(&other, Some(&peer.bucket))})).await;
    assert_eq!((r.status, r.body["error_data"]["reason"].as_str()), (400, Some("wrong_credentials")), "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("Invalid JWT Signature"), "{:?}", r.body);

    let r =
        api.post("/connections/GCS/test/", json!({"credentials": gcs_credentials(key, Some("gw-gcs-missing"))})).await;
    assert_eq!(r.body["error_data"]["reason"], "resource_not_found", "{:?}", r.body);

    // The key file as its JSON text.
    let as_text = json!({"service_account_key": key.key_file(SA_EMAIL).to_string(), "bucket": peer.bucket});
    let r = api.put("/connections/GCS/", json!({"credentials": as_text})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["credentials"]["client_email"], SA_EMAIL);
    assert_eq!(r.body["credentials"]["private_key"], "********");
    let r = api.put("/connections/GCS/", json!({"credentials": {"type": "service_account"}})).await;
    assert_eq!((r.status, r.field()), (400, "credentials.project_id"));

    // The spec's preview example, as written, over a zipped CSV in its bucket.
    let r = reqwest::Client::new()
        .post(format!("{}/storage/v1/b?project=gateway", peer.endpoint))
        .json(&json!({"name": "my-test-bucket"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success() || r.status() == 409);
    let spec_peer = GcsPeer { endpoint: peer.endpoint.clone(), bucket: "my-test-bucket".into() };
    spec_peer
        .put(
            "table name_test.csv",
            zip(&[("table name_test.csv", b"item_id,name,price\n1,Hat,9.5\n2,Scarf,10\n")], true),
        )
        .await;
    let r = api
        .post(
            "/connections/GCS/tables/table%20name_test.csv/test/",
            json!({
                "resource": "item",
                "connection_table_params": {"file_format": "CSV", "bucket": "my-test-bucket", "options": {"compression": "zip"}},
                "resource_params": {"columns_mapping": {}},
                "connection_table_metadata": {"description": "list of items properties in a csv file in google storage"}
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["name"], "table name_test.csv");
    assert_eq!(r.body["connection"], "GCS");
    let params = &r.body["connection_table_params"];
    assert_eq!((params["file_format"].as_str(), params["bucket"].as_str()), (Some("CSV"), Some("my-test-bucket")));
    assert_eq!(params["options"]["compression"], "zip");
    assert_eq!(params["options"]["delimiter"], ",");
    assert_eq!(params["options"]["escape"], "\\");
    assert_eq!(r.body["resource_params"]["columns_mapping"], json!({"item_id": "item_id"}));
    assert_eq!(
        r.body["connection_table_metadata"]["description"],
        "list of items properties in a csv file in google storage"
    );

    // Previews reuse the access token; a credential test always exchanges the key afresh.
    let before = tokens.granted();
    let again = api
        .post(
            "/connections/GCS/tables/table%20name_test.csv/test/",
            json!({"resource": "item", "connection_table_params": {"bucket": "my-test-bucket"}}),
        )
        .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(tokens.granted(), before, "no new exchange for a second preview");
    api.post("/connections/GCS/test/", json!({"credentials": gcs_credentials(key, None)})).await;
    assert_eq!(tokens.granted(), before + 1);

    // A missing object in an existing bucket.
    let r = api
        .post(
            "/connections/GCS/tables/t/test/",
            json!({"resource": "item", "connection_table_params": {"bucket": "my-test-bucket", "path": "nope.csv"}}),
        )
        .await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
    assert!(
        r.body["message"].as_str().unwrap().contains("object 'nope.csv' does not exist in bucket 'my-test-bucket'")
    );

    // A destination: the probe is written and deleted.
    let r = api
        .post("/connections/GCS/tables/report/test/", json!({"resource": "analytics_report", "connection_table_params": {"file_format": "dat", "path": "reports/r.dat"},
              "connection_table_metadata": {"segmentation_id": "s", "start_timestamp": 1, "end_timestamp": 2}}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(spec_peer.list("reports/").await.is_empty(), "no probe left behind");
}

/// The workflow a user chains: preview a file, save what the preview answered as is, test
/// the stored table. Every detected parameter (the CSV's line terminator included) is one the
/// gateway takes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_save_the_answer_then_test_it() {
    let Some(peer) = S3Peer::get() else { return };
    let p = spawn(Some(peer.clone()), None).await;
    let api = p.app.api("acme", "manager");
    let r = api.put("/connections/S3/", json!({"credentials": s3_credentials(&peer, Some(&peer.bucket))})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let dir = prefix("workflow");
    let crlf = ITEMS_CSV.replace('\n', "\r\n");
    for (name, bytes) in [
        ("items.csv", crlf.into_bytes()),
        ("items.csv.gz", gzip(ITEMS_CSV.as_bytes())),
        ("items.parquet", items_parquet()),
    ] {
        let path = format!("{dir}/{name}");
        peer.operator().write(&path, bytes).await.unwrap();
        let table = format!("/connections/S3/tables/{name}/");
        let preview = api
            .post(&format!("{table}test/"), json!({"resource": "item", "connection_table_params": {"path": path}}))
            .await;
        assert_eq!(preview.status, 200, "{name}: {:?}", preview.body);
        if name == "items.csv" {
            assert_eq!(preview.body["connection_table_params"]["options"]["line_terminator"], "\r\n");
        }
        let saved = api.patch(&table, preview.body.clone()).await;
        assert_eq!(saved.status, 200, "{name}: the preview's own answer was refused: {:?}", saved.body);
        assert_eq!(saved.body["connection_table_params"], preview.body["connection_table_params"], "{name}");
        assert_eq!(saved.body["resource_params"], preview.body["resource_params"], "{name}");
        let tested = api.get(&format!("{table}test/")).await;
        assert_eq!(
            (tested.status, tested.body["status"].as_str()),
            (200, Some("available")),
            "{name}: {:?}",
            tested.body
        );
        assert_eq!(api.get(&table).await.body["status"], "available");
    }
}

/// Temporary credentials (an assumed role) carry a session token: S3 checks it, and so does
/// the peer (moto answers InvalidToken for a wrong one, and does not know the key without it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_temporary_credentials_need_their_session_token() {
    let Some(peer) = S3Peer::get() else { return };
    let p = spawn(Some(peer.clone()), None).await;
    let api = p.app.api("acme", "manager");
    let Some((key, secret, token)) = peer.session.clone() else {
        gateway_testkit::skip("the S3 peer's set-up made no temporary credentials (scripts/s3_setup.py)");
        return;
    };
    let creds = json!({"aws_access_key_id": key, "aws_secret_access_key": secret, "aws_session_token": token,
                       "bucket": peer.bucket});
    let r = api.post("/connections/S3/test/", json!({"credentials": creds})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(api.put("/connections/S3/", json!({"credentials": creds})).await.status, 200);
    let masked = api.get("/connections/S3/").await;
    assert_eq!(masked.body["credentials"]["aws_session_token"], "********", "the token is a secret");

    let path = format!("{}/items.csv", prefix("session"));
    peer.operator().write(&path, ITEMS_CSV.as_bytes().to_vec()).await.unwrap();
    let r = api
        .post(
            "/connections/S3/tables/items/test/",
            json!({"resource": "item", "connection_table_params": {"path": path}}),
        )
        .await;
    assert_eq!(r.status, 200, "opendal signs with the token too: {:?}", r.body);

    for token in [None, Some("not-the-token")] {
        let mut wrong = creds.clone();
        match token {
            Some(t) => wrong["aws_session_token"] = json!(t),
            None => {
                wrong.as_object_mut().unwrap().remove("aws_session_token");
            }
        }
        let r = api.post("/connections/S3/test/", json!({"credentials": wrong})).await;
        assert_eq!(r.body["error_data"]["reason"], "wrong_credentials", "{token:?}: {:?}", r.body);
    }
}

/// A policy granting one export prefix only (no s3:ListBucket, as customers give for an export
/// folder): the bucket cannot be listed, but the connection's test checks each table's object,
/// so once its tables are added the connection is available.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_prefix_only_policy_is_tested_through_its_tables() {
    let Some(peer) = S3Peer::get() else { return };
    let Some((key, secret)) = peer.prefix_only.clone() else {
        gateway_testkit::skip("the S3 peer's set-up made no prefix-only user (scripts/s3_setup.py)");
        return;
    };
    let p = spawn(Some(peer.clone()), None).await;
    let api = p.app.api("acme", "manager");
    let creds = json!({"aws_access_key_id": key, "aws_secret_access_key": secret, "bucket": peer.bucket});
    assert_eq!(api.put("/connections/S3/", json!({"credentials": creds})).await.status, 200);
    // No tables yet: the whole bucket cannot be listed, and the message says what to do.
    let r = api.post("/connections/S3/test/", json!({})).await;
    assert_eq!(r.body["error_data"]["reason"], "forbidden", "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("add the connection's tables"), "{:?}", r.body);

    let path = format!("exports/{}/items.csv", prefix("prefix-only"));
    peer.operator().write(&path, ITEMS_CSV.as_bytes().to_vec()).await.unwrap();
    let r = api
        .patch("/connections/S3/tables/items/", json!({"resource": "item", "connection_table_params": {"path": path}}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = api.post("/connections/S3/test/", json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["steps"][0]["name"], "read_table:items", "{:?}", r.body);
    assert_eq!(api.get("/connections/S3/").await.body["status"], "available");

    // A table outside the granted prefix: its step is forbidden and names the grant.
    let outside = format!("{}/items.csv", prefix("outside"));
    peer.operator().write(&outside, ITEMS_CSV.as_bytes().to_vec()).await.unwrap();
    let r = api
        .patch(
            "/connections/S3/tables/outside/",
            json!({"resource": "item", "connection_table_params": {"path": outside}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = api.post("/connections/S3/test/", json!({})).await;
    assert_eq!(r.body["error_data"]["reason"], "forbidden", "{:?}", r.body);
    let grant = format!("allow s3:GetObject on arn:aws:s3:::{}/{outside}", peer.bucket);
    assert!(r.body["message"].as_str().unwrap().contains(&grant), "{:?}", r.body);
    assert_eq!(r.body["error_data"]["steps"][0]["outcome"], "passed", "{:?}", r.body);
    assert_eq!(api.get("/connections/S3/").await.body["status"], "unverified", "the key works, one use does not");
}

/// File sets (issue 25): a Hive-partitioned Parquet set of 50 files with `_SUCCESS` markers on
/// the S3 peer, a glob over gzip CSVs on the GCS peer, an empty match, and a prefix-only
/// policy that cannot list a set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_sets_by_prefix_and_glob() {
    let Some(peer) = S3Peer::get() else { return };
    let Some(gcs) = GcsPeer::get() else { return };
    let p = spawn(Some(peer.clone()), Some(gcs.clone())).await;
    let api = p.app.api("acme", "manager");
    let root = prefix("sets");
    let op = peer.operator();
    for day in 1..=5 {
        for part in 0..10 {
            let path = format!("{root}/ratings/dt=2026-11-0{day}/part-{part:05}.parquet");
            op.write(&path, items_parquet()).await.unwrap();
        }
        op.write(&format!("{root}/ratings/dt=2026-11-0{day}/_SUCCESS"), Vec::<u8>::new()).await.unwrap();
    }
    op.write(&format!("{root}/ratings/.hidden.parquet"), b"not parquet".to_vec()).await.unwrap();
    let creds = s3_credentials(&peer, Some(&peer.bucket));
    assert_eq!(api.put("/connections/S3/", json!({"credentials": creds})).await.status, 200);
    let pattern = format!("{root}/ratings/dt=*/part-*.parquet");
    let r = api
        .post(
            "/connections/S3/tables/ratings/test/",
            json!({"resource": "item", "connection_table_params": {"path": pattern}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let files = &r.body["sample"]["files"];
    assert_eq!((files["count"].as_u64(), files["partitions"].clone()), (Some(50), json!(["dt"])), "{files}");
    assert_eq!(files["newest"]["path"], format!("{root}/ratings/dt=2026-11-05/part-00009.parquet"));
    let dt = r.body["sample"]["columns"].as_array().unwrap().iter().find(|c| c["name"] == "dt").cloned();
    assert_eq!(dt, Some(json!({"name": "dt", "type": "timestamp"})), "a partition is a column");
    assert_eq!(r.body["sample"]["rows"][0]["dt"], "2026-11-05");
    // Every object under a prefix: the markers and the hidden file left out.
    let r = api
        .post(
            "/connections/S3/tables/ratings/test/",
            json!({"resource": "item", "connection_table_params": {"path": format!("{root}/ratings/")}}),
        )
        .await;
    assert_eq!(r.body["sample"]["files"]["count"], 50, "{:?}", r.body);
    // Saved, then tested by the connection: listing under the set's prefix.
    let table = json!({"resource": "item", "connection_table_params": {"path": pattern},
                       "resource_params": {"columns_mapping": {"item_id": "ITEM-ID"}}});
    assert_eq!(api.patch("/connections/S3/tables/ratings/", table).await.status, 200);
    assert_eq!(api.get("/connections/S3/tables/ratings/test/").await.body["status"], "available");
    let r = api.post("/connections/S3/test/", json!({})).await;
    assert_eq!((r.status, r.body["steps"][0]["name"].as_str()), (200, Some("read_table:ratings")), "{:?}", r.body);
    // No match: 404 naming the pattern.
    let none = format!("{root}/nothing/*.csv");
    let r = api
        .post(
            "/connections/S3/tables/none/test/",
            json!({"resource": "item", "connection_table_params": {"path": none}}),
        )
        .await;
    assert_eq!((r.status, r.error_name()), (404, "RESOURCE_NOT_FOUND"), "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains(&none), "{:?}", r.body);
    // A user granted objects under exports/ only, without s3:ListBucket: a set cannot be listed.
    if let Some((key, secret)) = peer.prefix_only.clone() {
        let creds = json!({"aws_access_key_id": key, "aws_secret_access_key": secret, "bucket": peer.bucket});
        assert_eq!(api.put("/connections/S3/", json!({"credentials": creds})).await.status, 200);
        let r = api.post("/connections/S3/test/", json!({})).await;
        assert_eq!(r.body["error_data"]["reason"], "forbidden", "{:?}", r.body);
        assert!(r.body["message"].as_str().unwrap().contains("allow s3:ListBucket"), "{:?}", r.body);
    }

    // GCS: a glob over gzip CSVs.
    let (gpeer, _, gkey) = p.gcs.as_ref().unwrap();
    for i in 0..3 {
        gpeer.put(&format!("{root}/daily/items-{i}.csv.gz"), gzip(ITEMS_CSV.as_bytes())).await;
    }
    gpeer.put(&format!("{root}/daily/readme.txt"), b"not matched".to_vec()).await;
    assert_eq!(
        api.put("/connections/GCS/", json!({"credentials": gcs_credentials(gkey, Some(&gpeer.bucket))})).await.status,
        200
    );
    let r = api
        .post(
            "/connections/GCS/tables/daily/test/",
            json!({"resource": "item", "connection_table_params": {"path": format!("{root}/daily/*.csv.gz")}}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["sample"]["files"]["count"], 3);
    assert_eq!(r.body["connection_table_params"]["options"]["compression"], "gzip");
    // Saved, the connection's test lists under the set's prefix (storage.objects.list).
    let saved = json!({"resource": "item", "connection_table_params": {"path": format!("{root}/daily/*.csv.gz")}});
    assert_eq!(api.patch("/connections/GCS/tables/daily/", saved).await.status, 200);
    let r = api.post("/connections/GCS/test/", json!({})).await;
    assert_eq!((r.status, r.body["steps"][1]["name"].as_str()), (200, Some("read_table:daily")), "{:?}", r.body);
    assert!(r.body["steps"][1]["message"].as_str().unwrap().contains("storage.objects.list"), "{:?}", r.body);
}

/// A file's modification time comes from the store (S3's LastModified): a preview answers
/// it, and a fresh file under `freshness_hours` is not stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_files_say_when_they_changed() {
    let Some(peer) = S3Peer::get() else { return };
    let p = spawn(Some(peer.clone()), None).await;
    let api = p.app.api("acme", "manager");
    let creds = s3_credentials(&peer, Some(&peer.bucket));
    assert_eq!(api.put("/connections/S3/", json!({"credentials": creds})).await.status, 200);
    let dir = prefix("fresh");
    let before = gateway_domain::now_seconds();
    peer.operator().write(&format!("{dir}/items.csv"), ITEMS_CSV.as_bytes().to_vec()).await.unwrap();
    for path in [format!("{dir}/items.csv"), format!("{dir}/")] {
        let body = json!({"resource": "item", "connection_table_params": {"path": path, "freshness_hours": 1}});
        let r = api.post("/connections/S3/tables/items/test/", body).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        let modified = r.body["sample"]["modified_timestamp"].as_i64().unwrap_or_default();
        assert!((before - 5..=gateway_domain::now_seconds() + 5).contains(&modified), "{path}: {:?}", r.body);
        assert!(!r.body["warnings"].to_string().contains("stale"), "{path}: {:?}", r.body);
    }
}

/// The operator's bound on a set's files (`GATEWAY_FILESET_MAX_FILES`) refuses a larger set,
/// naming the setting (the same listing serves tests and validations).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_past_the_operators_bound_is_refused_naming_it() {
    let Some(peer) = S3Peer::get() else { return };
    let app = TestApp::builder()
        .allow_private()
        .provider_url("S3", &peer.endpoint)
        .fileset_max_files(2)
        .spawn()
        .await
        .unwrap();
    let api = app.api("acme", "manager");
    assert_eq!(
        api.put("/connections/S3/", json!({"credentials": s3_credentials(&peer, Some(&peer.bucket))})).await.status,
        200
    );
    let dir = prefix("bound");
    for i in 0..3 {
        peer.operator().write(&format!("{dir}/part-{i}.csv"), ITEMS_CSV.as_bytes().to_vec()).await.unwrap();
    }
    let body = json!({"resource": "item", "connection_table_params": {"path": format!("{dir}/")}});
    let r = api.post("/connections/S3/tables/parts/test/", body.clone()).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(
        r.body["message"].as_str().unwrap().contains("more than 2 files")
            && r.body["message"].as_str().unwrap().contains("GATEWAY_FILESET_MAX_FILES"),
        "{:?}",
        r.body
    );
}

/// A set's files are compared with its newest over a bounded sample: a file with another
/// column or another type is named in `warnings`; the bytes read stay within the budget per
/// sampled file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_names_the_files_whose_columns_differ() {
    let Some(peer) = S3Peer::get() else { return };
    let p = spawn(Some(peer.clone()), None).await;
    let api = p.app.api("acme", "manager");
    assert_eq!(
        api.put("/connections/S3/", json!({"credentials": s3_credentials(&peer, Some(&peer.bucket))})).await.status,
        200
    );
    let dir = prefix("schemas");
    for i in 0..5 {
        let text = match i {
            0 => "item_id,title,price\n1,Hat,cheap\n2,Scarf,dear\n".to_owned(),
            2 => "item_id,title,price,colour\n1,Hat,9.5,red\n2,Scarf,10,blue\n".to_owned(),
            _ => ITEMS_CSV.to_owned(),
        };
        peer.operator().write(&format!("{dir}/part-{i}.csv"), text.into_bytes()).await.unwrap();
    }
    let body = json!({"resource": "item", "connection_table_params": {"path": format!("{dir}/")}});
    let r = api.post("/connections/S3/tables/parts/test/", body).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let warnings: Vec<String> =
        r.body["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap().to_owned()).collect();
    let about = |file: &str| warnings.iter().find(|w| w.starts_with(&format!("{dir}/{file}"))).cloned();
    assert!(
        about("part-0.csv").is_some_and(|w| w.contains("'price' is string there, float in the newest")),
        "{warnings:?}"
    );
    assert!(about("part-2.csv").is_some_and(|w| w.contains("extra colour")), "{warnings:?}");
    assert!(about("part-1.csv").is_none() && about("part-3.csv").is_none(), "{warnings:?}");
    assert!(r.body["sample"]["bytes_read"].as_u64().unwrap() < 5 * (1 << 20), "{:?}", r.body["sample"]);
}

//! Every rule and every resource: each failure names its field. Property tests: merging is
//! idempotent, and checking or applying never panics on arbitrary JSON.

use gateway_connector::{ConnectorError, ErrorKind, Inspection};
use gateway_domain::{
    Column, ColumnType, ConnectionKind, ErrorName, JsonObject, OrganizationId, Resource, Table, TableName, TablePatch,
    TableStatus,
};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::{apply, check, merge, problem_for, required_fields, status_for};

fn obj(v: Value) -> JsonObject {
    v.as_object().cloned().unwrap_or_default()
}

fn org() -> OrganizationId {
    OrganizationId::parse("acme").unwrap()
}

fn name() -> TableName {
    TableName::parse("t").unwrap()
}

fn table(kind: ConnectionKind, resource: Resource) -> Table {
    merge(
        &org(),
        kind,
        &name(),
        None,
        &TablePatch { resource: Some(resource), ..Default::default() },
        TableStatus::Available,
    )
    .unwrap()
}

fn with(mut t: Table, rp: Value, ctp: Value, meta: Value) -> Table {
    t.resource_params = obj(rp);
    t.connection_table_params = obj(ctp);
    t.connection_table_metadata = obj(meta);
    t
}

fn inspection(columns: &[&str], rows: Vec<Value>) -> Inspection {
    Inspection {
        columns: columns.iter().map(|c| Column { name: (*c).into(), ty: ColumnType::String }).collect(),
        rows: rows.into_iter().map(obj).collect(),
        ..Inspection::default()
    }
}

// ---- merge

#[test]
fn merge_creates_with_resource_and_default_status() {
    let p =
        merge(&org(), ConnectionKind::S3, &name(), None, &TablePatch::default(), TableStatus::Available).unwrap_err();
    assert_eq!(p.field(), Some("resource"));
    let item = TablePatch { resource: Some(Resource::Item), ..Default::default() };
    let waiting = merge(&org(), ConnectionKind::Local, &name(), None, &item, TableStatus::Uploading).unwrap();
    assert_eq!(waiting.status, TableStatus::Uploading, "the connector's initial status");
    let sent = TablePatch { status: Some(TableStatus::UnknownError), ..item };
    let given = merge(&org(), ConnectionKind::Local, &name(), None, &sent, TableStatus::Uploading).unwrap();
    assert_eq!(given.status, TableStatus::UnknownError);
}

#[test]
fn merge_is_shallow() {
    let stored = with(
        table(ConnectionKind::S3, Resource::Item),
        json!({"columns_mapping": {"item_id": "id"}}),
        json!({"file_format": "CSV", "options": {"compression": "gzip", "delimiter": ";"}}),
        json!({"description": "d"}),
    );
    let patch = TablePatch {
        connection_table_params: Some(obj(json!({"options": {"delimiter": ","}}))),
        status: Some(TableStatus::WrongSpecification),
        ..Default::default()
    };
    let merged = merge(&org(), ConnectionKind::S3, &name(), Some(&stored), &patch, TableStatus::Available).unwrap();
    assert_eq!(Value::Object(merged.connection_table_params), json!({"options": {"delimiter": ","}}));
    assert_eq!(merged.resource_params, stored.resource_params);
    assert_eq!(merged.connection_table_metadata, stored.connection_table_metadata);
    assert_eq!(merged.status, TableStatus::WrongSpecification);
    assert_eq!(merged.resource, Resource::Item);
}

// ---- check

#[test]
fn every_static_rule_names_its_field() {
    use ConnectionKind::S3;
    let cases: Vec<(Table, &str)> = vec![
        (
            with(table(S3, Resource::Item), json!({"columns_mapping": []}), json!({}), json!({})),
            "resource_params.columns_mapping",
        ),
        (
            with(table(S3, Resource::Item), json!({"columns_mapping": {"item_id": ""}}), json!({}), json!({})),
            "resource_params.columns_mapping.item_id",
        ),
        (
            with(table(S3, Resource::Item), json!({"columns_mapping": {"item_id": 1}}), json!({}), json!({})),
            "resource_params.columns_mapping.item_id",
        ),
        (
            with(table(S3, Resource::Item), json!({"columns_mapping": {" ": "x"}}), json!({}), json!({})),
            "resource_params.columns_mapping. ",
        ),
        (
            with(table(S3, Resource::UserId), json!({"whitelist_params": 3}), json!({}), json!({})),
            "resource_params.whitelist_params",
        ),
        (
            with(table(S3, Resource::AnalyticsReport), json!({}), json!({}), json!({})),
            "connection_table_metadata.segmentation_id",
        ),
        (
            with(
                table(S3, Resource::AnalyticsReport),
                json!({}),
                json!({}),
                json!({"segmentation_id": "s", "end_timestamp": 2}),
            ),
            "connection_table_metadata.start_timestamp",
        ),
        (
            with(
                table(S3, Resource::AnalyticsReport),
                json!({}),
                json!({}),
                json!({"segmentation_id": "s", "start_timestamp": "1", "end_timestamp": 2}),
            ),
            "connection_table_metadata.start_timestamp",
        ),
        (
            with(
                table(S3, Resource::AnalyticsReport),
                json!({}),
                json!({}),
                json!({"segmentation_id": "s", "start_timestamp": 2, "end_timestamp": 2}),
            ),
            "connection_table_metadata.end_timestamp",
        ),
        // The connector's own rules, read from its TableSpec.
        (
            with(table(S3, Resource::Item), json!({}), json!({"dataset": 1}), json!({})),
            "connection_table_params.dataset",
        ),
        (
            with(table(S3, Resource::Item), json!({}), json!({"bucket": "b"}), json!({})),
            "connection_table_params.bucket",
        ),
        (with(table(S3, Resource::Rating), json!({}), json!({}), json!({})), "resource"),
    ];
    let connector = SpecOnly::new();
    for (t, field) in cases {
        let p = check(&t, Some(&connector)).expect_err(field);
        assert_eq!((p.name, p.field()), (ErrorName::WrongDataType, Some(field)), "{}", p.message);
        assert!(!p.message.is_empty());
    }
}

/// A connector that only declares a table spec: `dataset` (a string), for items and reports.
struct SpecOnly {
    credentials: gateway_connector::CredentialSpec,
    tables: gateway_connector::TableSpec,
}

impl SpecOnly {
    fn new() -> SpecOnly {
        use gateway_connector::{CredentialSpec, ParamSpec, ParamType, TableSpec};
        SpecOnly {
            credentials: CredentialSpec::new(ConnectionKind::S3, Vec::new()),
            tables: TableSpec::new(
                vec![ParamSpec::new("dataset", ParamType::String, "a dataset")],
                &[Resource::Item, Resource::AnalyticsReport, Resource::UserId, Resource::User],
            ),
        }
    }
}

#[async_trait::async_trait]
impl gateway_connector::Connector for SpecOnly {
    fn kind(&self) -> ConnectionKind {
        ConnectionKind::S3
    }
    fn credential_spec(&self) -> &gateway_connector::CredentialSpec {
        &self.credentials
    }
    fn table_spec(&self) -> &gateway_connector::TableSpec {
        &self.tables
    }
    async fn test_credentials(
        &self,
        _: &gateway_domain::Credentials,
        _: &[Table],
    ) -> Result<gateway_connector::CredentialCheck, ConnectorError> {
        Err(ConnectorError::new(ErrorKind::Unknown, "not called"))
    }
    async fn inspect_table(
        &self,
        _: Option<&gateway_domain::Credentials>,
        _: &Table,
        _: usize,
    ) -> Result<Inspection, ConnectorError> {
        Err(ConnectorError::new(ErrorKind::Unknown, "not called"))
    }
}

#[test]
fn what_the_spec_shows_passes() {
    use ConnectionKind::S3;
    let ok = [
        with(
            table(S3, Resource::User),
            json!({"columns_mapping": {"user_id": "test_field_user_id"}}),
            json!({"dataset": "d"}),
            json!({"description": "d"}),
        ),
        with(
            table(S3, Resource::UserId),
            json!({"columns_mapping": {"user_id": "customerID"}, "whitelist_params": {}}),
            json!({}),
            json!({}),
        ),
        with(
            table(S3, Resource::AnalyticsReport),
            json!({"columns_mapping": {}}),
            json!({}),
            json!({"description": "segmentation with ab-test01", "segmentation_id": "segm123", "start_timestamp": 1634000000.01, "end_timestamp": 1635000000.02}),
        ),
    ];
    for t in ok {
        assert_eq!(check(&t, Some(&SpecOnly::new())), Ok(()), "{t:?}");
        assert_eq!(check(&t, None), Ok(()), "without a connector, the shared rules alone");
    }
}

// ---- apply

#[test]
fn required_fields_per_resource() {
    assert_eq!(required_fields(Resource::Item), ["item_id"]);
    assert_eq!(required_fields(Resource::User), ["user_id"]);
    assert_eq!(required_fields(Resource::UserId), ["user_id"]);
    assert_eq!(required_fields(Resource::Rating), ["user_id", "item_id", "rating"]);
    assert_eq!(required_fields(Resource::Interaction), ["user_id", "item_id", "interaction_type"]);
    assert_eq!(required_fields(Resource::UserToItemsReco), ["user_id", "item_ids"]);
    assert_eq!(required_fields(Resource::ItemToItemsReco), ["item_id", "item_ids"]);
    assert!(required_fields(Resource::AnalyticsReport).is_empty());
}

#[test]
fn every_source_resource_needs_its_fields() {
    for resource in [Resource::Item, Resource::User, Resource::UserId, Resource::Rating, Resource::Interaction] {
        let t = table(ConnectionKind::S3, resource);
        let p = apply(t.clone(), inspection(&["unrelated"], vec![])).unwrap_err();
        let first = required_fields(resource)[0];
        assert_eq!(p.field(), Some(format!("resource_params.columns_mapping.{first}").as_str()), "{resource}");
        assert_eq!(p.data["columns"], json!(["unrelated"]));
        let all: Vec<&str> = required_fields(resource).to_vec();
        let ok = apply(t, inspection(&all, vec![])).unwrap();
        let mapping = &ok.table.resource_params["columns_mapping"];
        for f in all {
            assert_eq!(mapping[f], f, "{resource}: exact name inferred");
        }
    }
}

#[test]
fn inference_is_exact_first_then_loose_and_reported() {
    let t = table(ConnectionKind::S3, Resource::Interaction);
    let p = apply(t, inspection(&["USER-ID", "user_id", "ItemId", "interactionType", "timestamp", "extra"], vec![]))
        .unwrap();
    let m = &p.table.resource_params["columns_mapping"];
    assert_eq!(m["user_id"], "user_id", "the exact name wins over a loose one");
    assert_eq!(m["item_id"], "ItemId");
    assert_eq!(m["interaction_type"], "interactionType");
    assert_eq!(m["timestamp"], "timestamp", "an optional field with the same name");
    for f in ["user_id", "item_id", "interaction_type", "timestamp"] {
        assert!(p.warnings.iter().any(|w| w.contains(&format!("columns_mapping.{f} inferred"))), "{:?}", p.warnings);
    }
    assert!(
        p.warnings.iter().any(|w| w.contains("not mapped") && w.contains("USER-ID") && w.contains("extra")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn a_given_mapping_must_name_a_column() {
    let t = with(
        table(ConnectionKind::S3, Resource::User),
        json!({"columns_mapping": {"user_id": "id", "age": "customer.age"}}),
        json!({}),
        json!({}),
    );
    let p = apply(t.clone(), inspection(&["id", "customer"], vec![])).unwrap_err();
    assert_eq!(p.field(), Some("resource_params.columns_mapping.age"));
    assert!(p.message.contains("columns found: id, customer"));
    let ok = apply(t, inspection(&["id", "customer.age"], vec![])).unwrap();
    assert!(ok.warnings.is_empty(), "{:?}", ok.warnings);
}

#[test]
fn rating_values_that_are_not_numbers_are_warned() {
    let t = table(ConnectionKind::S3, Resource::Rating);
    let rows = vec![
        json!({"user_id": "u", "item_id": "i", "rating": "4.5"}),
        json!({"user_id": "u", "item_id": "i", "rating": "five"}),
    ];
    let p = apply(t.clone(), inspection(&["user_id", "item_id", "rating"], rows)).unwrap();
    assert!(p.warnings.iter().any(|w| w.contains("not a number") && w.contains("five")), "{:?}", p.warnings);
    let rows = vec![json!({"user_id": "u", "item_id": "i", "rating": 3})];
    let p = apply(t, inspection(&["user_id", "item_id", "rating"], rows)).unwrap();
    assert!(!p.warnings.iter().any(|w| w.contains("not a number")));
}

#[test]
fn detected_defaults_fill_only_what_the_caller_left_out() {
    let t = with(
        table(ConnectionKind::Gcs, Resource::Item),
        json!({}),
        json!({"file_format": "CSV", "options": {"compression": "zip", "delimiter": ";"}}),
        json!({}),
    );
    let mut insp = inspection(&["item_id"], vec![]);
    insp.detected = obj(
        json!({"file_format": "TSV", "bucket": "b", "options": {"delimiter": ",", "escape": "\\", "header": true}}),
    );
    let p = apply(t, insp).unwrap();
    assert_eq!(
        Value::Object(p.table.connection_table_params),
        json!({"file_format": "CSV", "bucket": "b", "options": {"compression": "zip", "delimiter": ";", "escape": "\\", "header": true}})
    );
}

#[test]
fn destinations_and_samples() {
    let t = table(ConnectionKind::S3, Resource::UserToItemsReco);
    let p = apply(t, Inspection { writable: Some(true), ..Inspection::default() }).unwrap();
    assert!(p.sample.rows.is_empty() && p.warnings.is_empty());
    let rows = (0..25).map(|i| json!({"item_id": i})).collect();
    let p = apply(table(ConnectionKind::S3, Resource::Item), inspection(&["item_id"], rows)).unwrap();
    assert_eq!(p.sample.rows.len(), 10, "at most ten rows");
}

#[test]
fn outcomes_map_to_statuses_and_names() {
    use ErrorKind::*;
    let expect = [
        (WrongCredentials, TableStatus::WrongCredentials, ErrorName::WrongDataType),
        (Forbidden, TableStatus::WrongCredentials, ErrorName::WrongDataType),
        (ResourceNotFound, TableStatus::ResourceNotFound, ErrorName::ResourceNotFound),
        (WrongSpecification, TableStatus::WrongSpecification, ErrorName::WrongDataType),
        (RateLimited, TableStatus::UnknownError, ErrorName::WrongDataType),
        (Timeout, TableStatus::UnknownError, ErrorName::WrongDataType),
        (Unavailable, TableStatus::UnknownError, ErrorName::WrongDataType),
        (Unknown, TableStatus::UnknownError, ErrorName::WrongDataType),
    ];
    for (kind, status, name) in expect {
        assert_eq!(status_for(kind), status);
        let p = problem_for(&ConnectorError::new(kind, "bucket 'b' does not exist"));
        assert_eq!((p.name, p.data["reason"].as_str()), (name, Some(kind.as_str())));
        assert_eq!(p.message, "bucket 'b' does not exist");
    }
}

// ---- properties

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "[a-z_ .]{0,8}".prop_map(Value::from),
        prop::sample::select(vec!["item_id", "CSV", "zip", "options", "columns_mapping", "segmentation_id", ","])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "columns_mapping",
                    "whitelist_params",
                    "file_format",
                    "bucket",
                    "path",
                    "options",
                    "compression",
                    "delimiter",
                    "quote",
                    "escape",
                    "header",
                    "encoding",
                    "dataset",
                    "table",
                    "object",
                    "segmentation_id",
                    "start_timestamp",
                    "end_timestamp",
                    "item_id",
                    "user_id",
                    "x",
                ])
                .prop_map(str::to_owned),
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = JsonObject> {
    json_value().prop_map(|v| match v {
        Value::Object(m) => m,
        other => obj(json!({"columns_mapping": other})),
    })
}

fn kind() -> impl Strategy<Value = ConnectionKind> {
    prop::sample::select(ConnectionKind::ALL.to_vec())
}

fn resource() -> impl Strategy<Value = Resource> {
    prop::sample::select(Resource::ALL.to_vec())
}

fn patch() -> impl Strategy<Value = TablePatch> {
    (
        prop::option::of(resource()),
        prop::option::of(json_object()),
        prop::option::of(json_object()),
        prop::option::of(json_object()),
        prop::option::of(prop::sample::select(TableStatus::ALL.to_vec())),
    )
        .prop_map(|(resource, rp, ctp, meta, status)| TablePatch {
            resource,
            resource_params: rp,
            connection_table_params: ctp,
            connection_table_metadata: meta,
            status,
        })
}

proptest! {
    #[test]
    fn merging_is_idempotent(kind in kind(), first in patch(), second in patch()) {
        let org = org();
        let name = name();
        if let Ok(stored) = merge(&org, kind, &name, None, &first, TableStatus::Available) {
            let once = merge(&org, kind, &name, Some(&stored), &second, TableStatus::Available).unwrap();
            let twice = merge(&org, kind, &name, Some(&once), &second, TableStatus::Available).unwrap();
            prop_assert_eq!(once, twice);
        }
    }

    #[test]
    fn checking_and_applying_never_panic(
        kind in kind(), resource in resource(), rp in json_object(), ctp in json_object(), meta in json_object(),
        detected in json_object(), columns in prop::collection::vec("[a-zA-Z_.-]{0,6}", 0..6), rows in prop::collection::vec(json_object(), 0..3),
    ) {
        let t = with(table(kind, resource), Value::Object(rp), Value::Object(ctp), Value::Object(meta));
        let _ = check(&t, Some(&SpecOnly::new()));
        let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
        let mut insp = inspection(&cols, rows.into_iter().map(Value::Object).collect());
        insp.detected = detected;
        let _ = apply(t, insp);
    }
}

#[test]
fn freshness_is_judged_against_the_hours_given() {
    let mut t = with(table(ConnectionKind::S3, Resource::Item), json!({}), json!({"freshness_hours": 24}), json!({}));
    let now = 1_800_000_000;
    let mut warnings = Vec::new();
    assert_eq!(apply::freshness(&t, Some(now - 24 * 3600), now, &mut warnings), Some(false), "exactly 24 h: fresh");
    assert!(warnings.is_empty());
    assert_eq!(apply::freshness(&t, Some(now - 24 * 3600 - 1), now, &mut warnings), Some(true));
    assert!(warnings[0].contains("modified 24 h ago, more than freshness_hours (24)"), "{warnings:?}");
    assert_eq!(apply::freshness(&t, None, now, &mut warnings), None, "age unknown: not judged");
    t.connection_table_params.remove("freshness_hours");
    assert_eq!(apply::freshness(&t, Some(0), now, &mut warnings), None, "not watched");
}

//! `GET /openapi.json`: the API as OpenAPI 3.1, built from the domain's closed sets so the
//! enums it lists are the ones the gateway parses.

use gateway_domain::{ConnectionKind, ConnectionStatus, ErrorName, EventName, Resource, TableStatus, ValidationState};
use serde_json::{Value, json};

fn names<T: Copy>(all: &[T], f: impl Fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| f(*v)).collect()
}

fn op(summary: &str, tag: &str, params: &[&str], body: Option<(&str, bool)>, ok: (u16, &str), errors: &[u16]) -> Value {
    let mut responses = serde_json::Map::new();
    let ok_schema = if ok.1.is_empty() {
        json!({"description": "done"})
    } else {
        json!({"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", ok.1)}}}})
    };
    responses.insert(ok.0.to_string(), ok_schema);
    for code in errors.iter().chain([401, 403].iter()) {
        responses.insert(code.to_string(), json!({"$ref": "#/components/responses/Error"}));
    }
    let mut o = json!({
        "summary": summary,
        "tags": [tag],
        "parameters": params.iter().map(|p| json!({"$ref": format!("#/components/parameters/{p}")})).collect::<Vec<_>>(),
        "responses": responses,
    });
    if let Some((b, required)) = body {
        o["requestBody"] = json!({"required": required, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{b}")}}}});
    }
    o
}

/// What `TableName::parse` accepts, as an ECMA/Python regular expression: no '/', no control
/// character, no white space at either end (the length, 1 to 255, is `minLength`/`maxLength`).
/// White space is spelt out (Rust's `char::is_whitespace`): `\s` differs between regex
/// engines (JavaScript's includes U+FEFF, which the server accepts).
const NAME_PATTERN: &str = concat!(
    r"^[^/\x00-\x1f\x7f-\x9f \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
    r"([^/\x00-\x1f\x7f-\x9f]*[^/\x00-\x1f\x7f-\x9f \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?$"
);

fn nullable(values: &[&'static str]) -> Vec<Value> {
    values.iter().map(|v| Value::from(*v)).chain([Value::Null]).collect()
}

/// Every operation's `operationId`: the name of the `gateway-client` method that calls it
/// (its test holds the two lists together).
const OPERATION_IDS: &[(&str, &str, &str)] = &[
    ("get", "/healthz", "health"),
    ("get", "/readyz", "ready"),
    ("get", "/metrics", "metrics"),
    ("get", "/openapi.json", "openapi"),
    ("get", "/connections/", "list_connections"),
    ("get", "/connections/{connection}/", "get_connection"),
    ("put", "/connections/{connection}/", "put_connection"),
    ("delete", "/connections/{connection}/", "delete_connection"),
    ("post", "/connections/{connection}/test/", "test_credentials"),
    ("get", "/connections/{connection}/spec/", "connection_spec"),
    ("get", "/connections/{connection}/tables/", "list_tables"),
    ("get", "/connections/{connection}/tables/{name}/", "get_table"),
    ("patch", "/connections/{connection}/tables/{name}/", "patch_table"),
    ("delete", "/connections/{connection}/tables/{name}/", "delete_table"),
    ("post", "/connections/{connection}/tables/{name}/test/", "preview_table"),
    ("get", "/connections/{connection}/tables/{name}/test/", "test_table"),
    ("post", "/connections/{connection}/tables/{name}/validations/", "start_validation"),
    ("get", "/connections/{connection}/tables/{name}/validations/", "list_validations"),
    ("get", "/connections/{connection}/tables/{name}/validations/{id}/", "get_validation"),
    ("delete", "/connections/{connection}/tables/{name}/validations/{id}/", "cancel_validation"),
    ("get", "/connections/{connection}/tables/{name}/rows/", "read_rows"),
    ("get", "/connections/{connection}/tables/{name}/rows/splits/", "row_splits"),
    ("get", "/connections/{connection}/tables/{name}/schema/", "schema_history"),
    ("get", "/connections/{connection}/tables/{name}/files/", "list_files"),
    ("delete", "/connections/{connection}/tables/{name}/files/", "delete_files"),
    ("get", "/tables/", "filter_tables"),
    ("put", "/uploads/{token}", "upload"),
    ("get", "/webhooks/", "list_webhooks"),
    ("get", "/webhooks/{id}/", "get_webhook"),
    ("put", "/webhooks/{id}/", "put_webhook"),
    ("delete", "/webhooks/{id}/", "delete_webhook"),
    ("post", "/webhooks/{id}/test/", "test_webhook"),
    ("get", "/audit/", "audit"),
];

/// Links from what creates a resource to what reads, tests and deletes it (for generated
/// clients and stateful testing).
fn links(doc: &mut Value) {
    let link = |id: &str, params: &[&str]| {
        let parameters: serde_json::Map<String, Value> =
            params.iter().map(|p| ((*p).to_owned(), Value::from(format!("$request.path.{p}")))).collect();
        json!({"operationId": id, "parameters": parameters})
    };
    let conn = ["connection"];
    doc["paths"]["/connections/{connection}/"]["put"]["responses"]["200"]["links"] = json!({
        "GetConnection": link("get_connection", &conn),
        "TestCredentials": link("test_credentials", &conn),
        "DeleteConnection": link("delete_connection", &conn),
    });
    let table = ["connection", "name"];
    doc["paths"]["/connections/{connection}/tables/{name}/"]["patch"]["responses"]["200"]["links"] = json!({
        "GetTable": link("get_table", &table),
        "TestTable": link("test_table", &table),
        "PreviewTable": link("preview_table", &table),
        "DeleteTable": link("delete_table", &table),
    });
    let hook = ["id"];
    doc["paths"]["/webhooks/{id}/"]["put"]["responses"]["200"]["links"] = json!({
        "GetWebhook": link("get_webhook", &hook),
        "TestWebhook": link("test_webhook", &hook),
        "DeleteWebhook": link("delete_webhook", &hook),
    });
}

/// Rows through the gateway: the stored source table streamed, in four forms.
fn rows(doc: &mut Value) {
    let mut read = op(
        "Stream the stored source table's rows: its platform fields first, typed per resource (ids as text, rating a 64-bit float, timestamp epoch seconds), other columns after; rows breaking the resource's rules skipped, failing the read, or served with an _error column. The form is ?format=, else the Accept media type of highest q (q=0 refuses one) naming one; an Accept naming none is 400. 409 QUOTA_EXCEEDED: a SaaS table's pages passed the spill cap or GATEWAY_ROW_READ_MB before any row",
        "tables",
        &["anyConnection", "name"],
        None,
        (200, ""),
        &[400, 404, 409, 429, 500, 503],
    );
    let enum_param = |name: &str, values: &[&str], default: &str, about: &str| {
        json!({"name": name, "in": "query", "required": false, "description": about,
               "schema": {"type": "string", "enum": values, "default": default}})
    };
    if let Some(list) = read["parameters"].as_array_mut() {
        list.push(enum_param(
            "format",
            &["ndjson", "arrow", "csv", "parquet"],
            "ndjson",
            "the form served (else by Accept)",
        ));
        list.push(enum_param("columns", &["all", "mapped"], "all", "mapped: the platform fields only"));
        list.push(enum_param("invalid", &["skip", "fail", "include"], "skip", "what becomes of a row breaking a rule"));
        list.push(json!({"name": "max_rows", "in": "query", "required": false, "description": "rows served at most",
                         "schema": {"type": "integer", "minimum": 1}}));
        list.push(json!({"name": "split", "in": "query", "required": false,
                         "description": "one split of GET .../rows/splits/ rather than the whole table",
                         "schema": {"type": "string", "maxLength": 8192}}));
    }
    let binary = json!({"schema": {"type": "string", "format": "binary"}});
    read["responses"]["200"] = json!({"description": "the rows, streamed (a read that fails once under way is cut short)",
    "content": {
        "application/x-ndjson": {"schema": {"type": "string"}},
        "application/vnd.apache.arrow.stream": binary.clone(),
        "text/csv": {"schema": {"type": "string"}},
        "application/vnd.apache.parquet": binary,
    }});
    doc["paths"]["/connections/{connection}/tables/{name}/rows/"] = json!({"get": read});
    doc["paths"]["/connections/{connection}/tables/{name}/rows/splits/"] = json!({"get": op(
        "The table's independent parts (a file of a set, or the whole of a table read page by page), each read by ?split= of GET .../rows/, in the same columns",
        "tables",
        &["anyConnection", "name"],
        None,
        (200, "RowSplits"),
        &[400, 404, 503],
    )});
    doc["components"]["schemas"]["RowSplits"] = json!({"type": "object", "required": ["splits"], "properties": {
        "splits": {"type": "array", "items": {"type": "object", "required": ["split", "file", "bytes"], "properties": {
            "split": {"type": "string"},
            "file": {"type": ["string", "null"]},
            "bytes": {"type": ["integer", "null"], "minimum": 0}}}}}});
}

/// Whole-table validations: their paths and schemas.
fn validations(doc: &mut Value) {
    let states = names(ValidationState::ALL, ValidationState::as_str);
    let params = ["anyConnection", "name"];
    let with_id = ["anyConnection", "name", "validationId"];
    let mut start = op(
        "Validate the whole stored table against its resource's rules (202: queued; 200: the one queued or running)",
        "validations",
        &params,
        Some(("ValidationRequest", false)),
        (202, "Validation"),
        &[400, 404, 413, 501, 503],
    );
    start["responses"]["200"] = json!({"description": "the validation already queued or running for the table",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Validation"}}}});
    doc["paths"]["/connections/{connection}/tables/{name}/validations/"] = json!({
        "post": start,
        "get": op("A table's validations, newest first", "validations", &["anyConnection", "name", "page", "amt"], None, (200, "ValidationsPage"), &[400, 404, 503]),
    });
    doc["paths"]["/connections/{connection}/tables/{name}/validations/{id}/"] = json!({
        "get": op("A validation: its state, progress, and report once succeeded (error once failed)", "validations", &with_id, None, (200, "Validation"), &[400, 404, 503]),
        "delete": op("Cancel a validation (a finished one is left as it is)", "validations", &with_id, None, (204, ""), &[400, 404, 503]),
    });
    doc["components"]["parameters"]["validationId"] =
        json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "maxLength": 64}});
    let int = json!({"type": "integer", "minimum": 0});
    let schemas = &mut doc["components"]["schemas"];
    schemas["ValidationRequest"] = json!({"type": "object", "additionalProperties": false, "properties": {
        "max_errors": {"type": "integer", "minimum": 0, "maximum": gateway_domain::MAX_MAX_ERRORS, "default": gateway_domain::DEFAULT_MAX_ERRORS, "description": "samples of broken rows kept"},
        "max_rows": {"type": "integer", "minimum": 1, "description": "rows read at most (the report says truncated)"}}});
    schemas["ValidationReport"] = json!({"type": "object", "properties": {
        "rows": int, "valid_rows": int, "invalid_rows": int, "truncated": {"type": "boolean"},
        "violations": {"type": "array", "items": {"type": "object", "properties": {
            "rule": {"type": "string", "enum": gateway_domain::RULES}, "field": {"type": "string"}, "rows": int}}},
        "samples": {"type": "array", "items": {"type": "object", "properties": {
            "rule": {"type": "string", "enum": gateway_domain::RULES}, "field": {"type": "string"}, "file": {"type": "string"},
            "row": {"type": "integer", "description": "1-based data row of its file (header excluded)"},
            "value": {"type": ["string", "null"], "maxLength": 200}}}},
        "fields": {"type": "object", "description": "per platform field (through columns_mapping)", "additionalProperties": {"type": "object", "properties": {
            "column": {"type": "string"}, "type": {"type": "string"}, "nulls": int,
            "distinct": {"type": "integer", "description": "exact up to 10,000 values, a HyperLogLog estimate past it"},
            "min": {}, "max": {}}}},
        "timestamp": {"type": "object", "properties": {"unit": {"type": "string"}, "min": {"type": "string"}, "max": {"type": "string"}}},
        "files": {"type": "array", "description": "file tables: the rows of each file read, in order", "items": {"type": "object", "properties": {"file": {"type": "string"}, "rows": int}}}}});
    schemas["Validation"] = json!({"type": "object", "required": ["id", "connection", "table", "state", "created_timestamp", "progress"], "properties": {
        "id": {"type": "string"}, "connection": {"type": "string"}, "table": {"type": "string"},
        "state": {"type": "string", "enum": states},
        "created_timestamp": {"type": "integer"}, "finished_timestamp": {"type": ["integer", "null"]},
        "progress": {"type": "object", "properties": {"rows": int, "bytes_read": int, "bytes_total": int}},
        "max_errors": int, "max_rows": {"type": ["integer", "null"]},
        "report": {"$ref": "#/components/schemas/ValidationReport"},
        "error": {"type": "object", "description": "once failed: error_name, message, error_data (the contract's error shape)"}}});
    schemas["ValidationsPage"] = json!({"type": "object", "properties": {"has_next": {"type": "boolean"}, "next_page": {"type": "integer"},
        "validations": {"type": "array", "items": {"$ref": "#/components/schemas/Validation"}}}});
    schemas["Event"]["properties"]["validation"] =
        json!({"type": "string", "description": "table.validated: the validation's id"});
    schemas["Event"]["properties"]["rows"] =
        json!({"type": "integer", "description": "table.validated, succeeded: rows read"});
    schemas["Event"]["properties"]["invalid_rows"] =
        json!({"type": "integer", "description": "table.validated, succeeded: rows breaking a rule"});
}

/// Schema history: its path and schemas; the event's fields.
fn schema_history(doc: &mut Value) {
    doc["paths"]["/connections/{connection}/tables/{name}/schema/"] = json!({
        "get": op("The schemas recorded tests saw of a table, newest first (a row each time its columns changed)", "tables", &["anyConnection", "name", "page", "amt"], None, (200, "SchemaHistory"), &[400, 404, 503]),
    });
    let columns = json!({"type": "array", "items": {"$ref": "#/components/schemas/Column"}});
    let changed = json!({"type": "array", "items": {"type": "object", "required": ["name", "from", "to"], "properties": {
        "name": {"type": "string"}, "from": {"type": "string"}, "to": {"type": "string"}}}});
    let schemas = &mut doc["components"]["schemas"];
    schemas["Column"] = json!({"type": "object", "required": ["name", "type"], "properties": {"name": {"type": "string"},
        "type": {"type": "string", "enum": ["string", "integer", "float", "boolean", "timestamp", "json"]}}});
    schemas["SchemaHistory"] = json!({"type": "object", "required": ["current", "history", "has_next", "next_page"], "properties": {
        "current": {"type": ["object", "null"], "properties": {"at": {"type": "integer"}, "columns": columns}},
        "history": {"type": "array", "items": {"type": "object", "required": ["at", "columns", "added", "removed", "changed"], "properties": {
            "at": {"type": "integer"}, "columns": columns, "unit": {"type": "string", "description": "the mapped timestamp's epoch unit, as the sample showed it"},
            "added": columns, "removed": columns, "changed": changed,
            "timestamp_unit": {"type": "object", "properties": {"from": {"type": "string"}, "to": {"type": "string"}}}}}},
        "has_next": {"type": "boolean"}, "next_page": {"type": "integer"}}});
    schemas["Event"]["properties"]["added"] = json!({"description": "table.schema_changed: columns added (name, type)", "type": "array", "items": {"$ref": "#/components/schemas/Column"}});
    schemas["Event"]["properties"]["removed"] = json!({"description": "table.schema_changed: columns removed", "type": "array", "items": {"$ref": "#/components/schemas/Column"}});
    schemas["Event"]["properties"]["timestamp_unit"] = json!({"description": "table.schema_changed: the mapped timestamp's epoch unit, when it changed", "type": "object", "properties": {"from": {"type": "string"}, "to": {"type": "string"}}});
    schemas["Event"]["properties"]["changed"] = json!({"description": "table.schema_changed: columns whose type changed", "type": "array", "items": changed["items"].clone()});
}

/// A LOCAL table's uploaded files: list and delete.
fn files(doc: &mut Value) {
    doc["paths"]["/connections/{connection}/tables/{name}/files/"] = json!({
        "get": op("A LOCAL table's uploaded files by name (its one file has file null)", "tables", &["anyConnection", "name", "page", "amt"], None, (200, "UploadedFiles"), &[400, 404, 501, 503]),
        "delete": op("Delete one file of a LOCAL table's set (?file=) or every file it holds (?all=true); the table is then tested again, or uploading when empty", "tables", &["anyConnection", "name", "setFile", "allFiles"], None, (204, ""), &[400, 404, 429, 501, 503]),
    });
    doc["components"]["parameters"]["setFile"] = json!({"name": "file", "in": "query", "required": false, "description": "the file of the set to delete", "schema": {"type": "string", "minLength": 1, "maxLength": 1024}});
    doc["components"]["parameters"]["allFiles"] = json!({"name": "all", "in": "query", "required": false, "description": "true: delete every file of the table (exclusive with file)", "schema": {"type": "boolean"}});
    let int = json!({"type": "integer", "minimum": 0});
    doc["components"]["schemas"]["UploadedFiles"] = json!({"type": "object", "required": ["count", "bytes", "has_next", "next_page", "files"], "properties": {
        "count": int, "bytes": int, "has_next": {"type": "boolean"}, "next_page": {"type": "integer"},
        "files": {"type": "array", "items": {"type": "object", "required": ["file", "size", "modified_timestamp"], "properties": {
            "file": {"type": ["string", "null"]}, "size": int, "modified_timestamp": {"type": "integer"}}}}}});
}

/// The document.
pub fn document() -> Value {
    let mut doc = base();
    validations(&mut doc);
    rows(&mut doc);
    files(&mut doc);
    schema_history(&mut doc);
    for (method, path, id) in OPERATION_IDS {
        if let Some(op) = doc["paths"].get_mut(*path).and_then(|p| p.get_mut(*method)) {
            op["operationId"] = Value::from(*id);
        }
    }
    links(&mut doc);
    doc
}

fn base() -> Value {
    let kinds = names(ConnectionKind::ALL, ConnectionKind::as_str);
    let connectable: Vec<&str> = ConnectionKind::connectable().map(ConnectionKind::as_str).collect();
    let resources = names(Resource::ALL, Resource::as_str);
    let statuses = names(TableStatus::ALL, TableStatus::as_str);
    let errors = names(ErrorName::ALL, ErrorName::as_str);
    let connection_statuses = names(ConnectionStatus::ALL, ConnectionStatus::as_str);
    let events = names(EventName::ALL, EventName::as_str);
    let subscribable: Vec<&str> = events.iter().copied().filter(|e| *e != EventName::Ping.as_str()).collect();
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let object = json!({"type": "object"});
    let table_fields = json!({
        "resource": {"type": "string", "enum": resources},
        "resource_params": object, "connection_table_params": object, "connection_table_metadata": object,
        "status": {"type": "string", "enum": statuses},
    });
    // A PATCH field sent as null keeps the stored value; the read-only fields of an answer may
    // be echoed back (`name` and `connection` must then be the path's; the rest are ignored).
    let object_or_null = json!({"type": ["object", "null"]});
    let patch_fields = json!({
        "resource": {"type": ["string", "null"], "enum": nullable(&resources)},
        "resource_params": object_or_null, "connection_table_params": object_or_null, "connection_table_metadata": object_or_null,
        "status": {"type": ["string", "null"], "enum": nullable(&statuses)},
        "name": {"type": ["string", "null"], "readOnly": true, "description": "echoed from an answer: must be the path's name"},
        "connection": {"type": ["string", "null"], "readOnly": true, "description": "echoed from an answer: must be the path's connection"},
        "created_timestamp": {"readOnly": true, "description": "echoed from an answer: ignored"},
        "modified_timestamp": {"readOnly": true, "description": "echoed from an answer: ignored"},
        "warnings": {"readOnly": true, "description": "echoed from an answer: ignored"},
        "sample": {"readOnly": true, "description": "echoed from a preview: ignored"},
    });
    let mut table = table_fields.clone();
    for (k, v) in [
        ("name", json!({"type": "string"})),
        ("connection", json!({"type": "string", "enum": kinds})),
        ("created_timestamp", json!({"type": "integer"})),
        ("modified_timestamp", json!({"type": "integer"})),
        ("warnings", json!({"type": "array", "items": {"type": "string"}})),
    ] {
        table[k] = v;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Connections Gateway", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Customers' data connections and tables. See docs/api.md for what the gateway decides where the contract is silent."},
        "security": [{"bearer": []}],
        "paths": {
            "/connections/": {"get": op("List connections", "connections", &[], None, (200, "ConnectionsList"), &[503])},
            "/connections/{connection}/": {
                "get": op("Get a connection", "connections", &["connection"], None, (200, "Connection"), &[400, 404, 503]),
                "put": op("Create or replace a connection", "connections", &["connection"], Some(("ConnectionPut", true)), (200, "Connection"), &[400, 404, 413, 429, 503]),
                "delete": op("Delete a connection (?force=true deletes its tables too)", "connections", &["connection", "force"], None, (204, ""), &[400, 404, 503]),
            },
            "/connections/{connection}/test/": {"post": op("Test credentials (the stored ones without a body)", "connections", &["connection"], Some(("CredentialsTest", false)), (200, "CredentialCheck"), &[400, 404, 413, 429, 501, 503])},
            "/connections/{connection}/spec/": {"get": op("The connector's credential spec (JSON Schema)", "connections", &["connection"], None, (200, "JsonSchema"), &[400, 501])},
            "/connections/{connection}/tables/": {"get": op("List a connection's tables (deprecated: use /tables/)", "tables", &["anyConnection"], None, (200, "TablesList"), &[400, 503])},
            "/connections/{connection}/tables/{name}/": {
                "get": op("Get a table", "tables", &["anyConnection", "name"], None, (200, "Table"), &[400, 404, 503]),
                "patch": op("Create or shallow-update a table", "tables", &["anyConnection", "name"], Some(("TablePatch", true)), (200, "Table"), &[400, 404, 409, 413, 503]),
                "delete": op("Delete a table", "tables", &["anyConnection", "name"], None, (204, ""), &[400, 404, 503]),
            },
            "/connections/{connection}/tables/{name}/test/": {
                "post": op("Preview and validate (merged over the stored table; stores nothing)", "tables", &["anyConnection", "name"], Some(("TablePatch", false)), (200, "TablePreview"), &[400, 404, 413, 429, 501, 503]),
                "get": op("Test the stored table and record its status", "tables", &["anyConnection", "name"], None, (200, "TablePreview"), &[400, 404, 429, 501, 503]),
            },
            "/tables/": {"get": op("Filter tables (by page, or by the previous answer's next_cursor)", "tables", &["connectionFilter", "resourceFilter", "page", "amt", "cursor"], None, (200, "TablesPage"), &[400, 503])},
            "/uploads/{token}": {"put": {
                "summary": "Upload a LOCAL table's file (the URL PATCH answered; no bearer token)", "tags": ["tables"], "security": [],
                "parameters": [{"name": "token", "in": "path", "required": true, "schema": {"type": "string"}},
                               {"name": "file", "in": "query", "required": false, "description": "one file of the table's set, added or replaced ('/'-separated segments, none starting with '.' or '_'); without it, the table's one file. A table holds one or the other.", "schema": {"type": "string", "minLength": 1, "maxLength": 1024}}],
                "requestBody": {"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": {"200": {"description": "uploaded and available", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TablePreview"}}}},
                              "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
                              "404": {"$ref": "#/components/responses/Error"}, "413": {"$ref": "#/components/responses/Error"},
                              "429": {"$ref": "#/components/responses/Error"}}}},
            "/healthz": {"get": {"summary": "The process is up", "tags": ["health"], "security": [], "responses": {"200": {"description": "up"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics (text format 0.0.4)", "tags": ["health"], "security": [], "responses": {"200": {"description": "the metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/readyz": {"get": {"summary": "The database answers", "tags": ["health"], "security": [], "responses": {"200": {"description": "ready"}, "503": {"$ref": "#/components/responses/Error"}}}},
            "/webhooks/": {"get": op("List webhook endpoints (root, manager)", "webhooks", &[], None, (200, "WebhooksList"), &[503])},
            "/webhooks/{id}/": {
                "get": op("Get a webhook endpoint (never its secret)", "webhooks", &["webhookId"], None, (200, "Webhook"), &[400, 404, 503]),
                "put": op("Create or replace a webhook endpoint; the answer holds its signing secret when created or rotated (shown once)", "webhooks", &["webhookId"], Some(("WebhookPut", true)), (200, "Webhook"), &[400, 409, 413, 429, 503]),
                "delete": op("Delete a webhook endpoint and its pending deliveries", "webhooks", &["webhookId"], None, (204, ""), &[400, 404, 503]),
            },
            "/webhooks/{id}/test/": {"post": op("Send a signed ping event to the endpoint now", "webhooks", &["webhookId"], None, (200, "DeliveryReport"), &[400, 404, 429, 503])},
            "/audit/": {"get": op("The organization's audit trail, newest first (root, manager)", "audit", &["page", "amt"], None, (200, "AuditPage"), &[400, 503])},
            "/openapi.json": {"get": {"summary": "This document", "tags": ["health"], "security": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (HS256; claims org, role, sub, exp)"}},
            "parameters": {
                "connection": {"name": "connection", "in": "path", "required": true, "schema": {"type": "string", "enum": connectable}},
                "anyConnection": {"name": "connection", "in": "path", "required": true, "schema": {"type": "string", "enum": kinds}},
                "name": {"name": "name", "in": "path", "required": true, "description": "1 to 255 characters; no '/', no control character, no white space at either end",
                         "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": NAME_PATTERN}},
                "force": {"name": "force", "in": "query", "schema": {"type": "boolean"}},
                "connectionFilter": {"name": "connection", "in": "query", "schema": {"type": "string", "enum": kinds}},
                "resourceFilter": {"name": "resource", "in": "query", "schema": {"type": "string", "enum": resources}},
                "page": {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10_000_000, "default": 1}},
                "cursor": {"name": "cursor", "in": "query", "description": "the previous answer's next_cursor (with the same filters and amt), in place of page: the next page by a seek, as fast at the end of the list as at its start",
                           "schema": {"type": "string", "maxLength": 1024, "pattern": "^[A-Za-z0-9_-]+$"}},
                "webhookId": {"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}},
                "amt": {"name": "amt", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 64, "default": 10}},
            },
            "responses": {"Error": {"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
            "schemas": {
                "Error": {"type": "object", "required": ["error_code", "error_name", "message", "error_data"], "properties": {
                    "error_code": {"type": "integer"}, "error_name": {"type": "string", "enum": errors},
                    "message": {"type": "string"}, "error_data": object}},
                "Connection": {"type": "object", "properties": {"connection": {"type": "string", "enum": connectable}, "credentials": object, "metadata": object,
                    "status": {"type": "string", "enum": connection_statuses, "description": "what the last test of the stored credentials found; absent until one ran"},
                    "checked_timestamp": {"type": "integer", "description": "when that test ran, Unix seconds"},
                    "warnings": {"type": "array", "items": {"type": "string"}}}},
                "ConnectionsList": {"type": "object", "properties": {"connections": {"type": "array", "items": {"$ref": "#/components/schemas/Connection"}}}},
                "ConnectionPut": {"type": "object", "required": ["credentials"], "additionalProperties": false, "properties": {
                    "credentials": object, "metadata": object_or_null,
                    "connection": {"type": ["string", "null"], "readOnly": true, "description": "echoed from an answer: must be the path's connection"},
                    "status": {"readOnly": true, "description": "echoed from an answer: ignored"},
                    "checked_timestamp": {"readOnly": true, "description": "echoed from an answer: ignored"},
                    "warnings": {"readOnly": true, "description": "echoed from an answer: ignored"}}},
                "CredentialsTest": {"type": "object", "additionalProperties": false, "properties": {"credentials": object_or_null}},
                "CredentialCheck": {"type": "object", "properties": {"steps": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "outcome": {"type": "string", "enum": ["passed", "failed", "forbidden", "skipped"]}, "message": {"type": "string"}}}},
                    "warnings": {"type": "array", "items": {"type": "string"}}}},
                "JsonSchema": object,
                "TablePatch": {"type": "object", "additionalProperties": false, "properties": patch_fields},
                "Table": {"type": "object", "properties": table},
                "TablePreview": {"allOf": [{"$ref": "#/components/schemas/Table"}, {"type": "object", "properties": {"sample": {"type": "object", "properties": {
                    "columns": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "type": {"type": "string", "enum": ["string", "integer", "float", "boolean", "timestamp", "json"]}}}},
                    "rows": {"type": "array", "items": object}, "bytes_read": {"type": "integer"},
                    "files": {"type": "object", "description": "a file-set table (a path ending with / or holding a glob): what matched; the sample comes from the newest", "properties": {
                        "count": {"type": "integer"}, "bytes": {"type": "integer"},
                        "newest": {"type": "object", "properties": {"path": {"type": "string"}, "modified_timestamp": {"type": "integer"}}},
                        "oldest": {"type": "object", "properties": {"path": {"type": "string"}, "modified_timestamp": {"type": "integer"}}},
                        "partitions": {"type": "array", "items": {"type": "string"}}}}}}}}]},
                "TablesList": {"type": "object", "properties": {"tables": {"type": "array", "items": {"type": "object"}}, "warnings": {"type": "array", "items": {"type": "string"}}}},
                "Webhook": {"type": "object", "required": ["id", "url", "events", "description", "created_timestamp", "modified_timestamp"], "properties": {
                    "id": {"type": "string"}, "url": {"type": "string"},
                    "events": {"type": "array", "items": {"type": "string", "enum": subscribable}, "description": "empty: every event"},
                    "description": {"type": "string"}, "created_timestamp": {"type": "integer"}, "modified_timestamp": {"type": "integer"},
                    "secret": {"type": "string", "description": "the signing secret: only in the answer to the PUT that created the endpoint or rotated it"},
                    "warnings": strings}},
                "WebhooksList": {"type": "object", "properties": {"webhooks": {"type": "array", "items": {"$ref": "#/components/schemas/Webhook"}}}},
                "WebhookPut": {"type": "object", "required": ["url"], "additionalProperties": false, "properties": {
                    "url": {"type": "string", "format": "uri", "pattern": "^https?://", "minLength": 1, "maxLength": 2048, "description": "https:// with a public host (http:// and private hosts only where the operator allows private targets)"},
                    "events": {"type": "array", "items": {"type": "string", "enum": subscribable}},
                    "description": {"type": ["string", "null"], "maxLength": 1000},
                    "rotate_secret": {"type": "boolean"},
                    "id": {"type": "string", "readOnly": true, "description": "echoed from an answer: must be the path's id"},
                    "created_timestamp": {"readOnly": true}, "modified_timestamp": {"readOnly": true}, "warnings": {"readOnly": true}}},
                "DeliveryReport": {"type": "object", "properties": {"event_id": {"type": "string"}, "delivered": {"type": "boolean"},
                    "status_code": {"type": "integer"}, "message": {"type": "string"}}},
                "Event": {"type": "object", "description": "the body a webhook receives, signed in Gateway-Signature: t=<unix>,v1=hex(HMAC-SHA256(secret, t + '.' + body))",
                    "required": ["id", "event", "at"], "properties": {
                    "id": {"type": "string"}, "event": {"type": "string", "enum": events},
                    "connection": {"type": "string", "enum": kinds}, "table": {"type": "string"},
                    "old_status": {"type": "string"}, "new_status": {"type": "string"}, "at": {"type": "integer"}}},
                "AuditPage": {"type": "object", "properties": {"has_next": {"type": "boolean"}, "next_page": {"type": "integer"},
                    "entries": {"type": "array", "items": {"type": "object", "properties": {
                        "id": {"type": "integer"}, "at": {"type": "integer"}, "sub": {"type": "string"},
                        "role": {"type": "string", "enum": ["root", "manager", "backend", "system"]},
                        "action": {"type": "string"}, "target": {"type": "string"},
                        "fields": {"type": "array", "items": {"type": "string"}, "description": "names of the fields changed, never values"}}}}}},
                "TablesPage": {"type": "object", "properties": {"has_next": {"type": "boolean"}, "next_page": {"type": "integer"},
                    "next_cursor": {"type": "string", "description": "when has_next: send as cursor for the next page"},
                    "tables": {"type": "array", "items": {"$ref": "#/components/schemas/Table"}}}},
            }
        }
    })
}

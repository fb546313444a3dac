//! `/connections/{connection}/tables/...` and `/tables/`.

use actix_web::{HttpRequest, HttpResponse, web};
use gateway_domain::{
    Connection, ConnectionKind, ErrorName, Paging, Problem, Resource, Table, TableName, TablePatch, TablePreview,
    TableStatus, TableView, TablesList, TablesPage,
};
use gateway_preview::{Preview, SAMPLE_ROWS};
use gateway_store::TableFilter;

use super::connections::{bounded, connection_not_found, connector};
use crate::extract::{self, JsonBody};
use crate::{ApiError, AppState, Caller, db, uploads};

fn table_not_found(kind: ConnectionKind, name: &TableName) -> ApiError {
    ApiError(
        Problem::new(ErrorName::TableNotFound, format!("no table '{name}' on connection {kind}"))
            .with("connection", kind.as_str())
            .with("name", name.as_str()),
    )
}

fn path_of(path: &(String, String)) -> Result<(ConnectionKind, TableName), ApiError> {
    Ok((extract::kind(&path.0)?, extract::table_name(&path.1)?))
}

/// Deprecated: use `GET /tables/?connection=`.
pub async fn list_deprecated(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let kind = extract::kind(&path)?;
    let org = caller.org.clone();
    let tables = db(&state, move |s| s.list_tables(&org, kind)).await?;
    let successor = format!("/tables/?connection={kind}");
    Ok(HttpResponse::Ok()
        .insert_header(("Deprecation", "true"))
        .insert_header(("Link", format!("<{successor}>; rel=\"successor-version\"")))
        .json(TablesList {
            tables: tables.into_iter().map(Into::into).collect(),
            warnings: vec![format!("this endpoint is deprecated: use GET {successor}")],
        }))
}

pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (kind, name) = path_of(&path)?;
    let org = caller.org.clone();
    let n = name.clone();
    let table = db(&state, move |s| s.get_table(&org, kind, &n)).await?.ok_or_else(|| table_not_found(kind, &name))?;
    Ok(HttpResponse::Ok().json(TableView::from(table)))
}

pub async fn patch(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let (kind, name) = path_of(&path)?;
    let patch = TablePatch::from_json(body.required()?, kind, &name)?;
    let org = caller.org.clone();
    let (secret, public_url) = (state.jwt_secret.clone(), state.public_url.clone());
    let table = db(&state, move |s| {
        s.upsert_table(&org, kind, &name, |stored| {
            let mut table = gateway_preview::merge(&org, kind, &name, stored, &patch)?;
            gateway_preview::check(&table)?;
            if kind == ConnectionKind::Local {
                // The upload URL is the gateway's to make: kept while it is good, else renewed.
                let kept = stored
                    .and_then(|s| s.connection_table_params.get("url"))
                    .and_then(serde_json::Value::as_str)
                    .filter(|u| uploads::still_valid(&secret, u, &org, &name))
                    .map(str::to_owned);
                let url = match kept {
                    Some(u) => u,
                    None => format!(
                        "{public_url}/uploads/{}",
                        uploads::issue(&secret, &org, &name, uploads::UPLOAD_TTL_SECONDS)?
                    ),
                };
                table.connection_table_params.insert("url".into(), url.into());
            }
            Ok(table)
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(TableView::from(table)))
}

pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (kind, name) = path_of(&path)?;
    let org = caller.org.clone();
    let n = name.clone();
    if db(&state, move |s| s.delete_table(&org, kind, &n)).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(table_not_found(kind, &name))
    }
}

/// Loads the stored table (if any) and, for kinds that have one, the connection.
async fn load(
    state: &AppState,
    caller: &Caller,
    kind: ConnectionKind,
    name: &TableName,
) -> Result<(Option<Table>, Option<Connection>), ApiError> {
    let org = caller.org.clone();
    let n = name.clone();
    let (table, conn) = db(state, move |s| {
        let table = s.get_table(&org, kind, &n)?;
        let conn = if kind.has_connection() { s.get_connection(&org, kind)? } else { None };
        Ok((table, conn))
    })
    .await?;
    if kind.has_connection() && conn.is_none() {
        return Err(connection_not_found(kind));
    }
    Ok((table, conn))
}

/// Static checks, the connector's inspection, then defaults, mappings and warnings. A
/// failure carries the status it means for a stored table (`None`: says nothing of it).
async fn run_preview(
    state: &AppState,
    conn: Option<&Connection>,
    table: Table,
) -> Result<Preview, (ApiError, Option<TableStatus>)> {
    gateway_preview::check(&table).map_err(|p| (ApiError(p), Some(TableStatus::WrongSpecification)))?;
    let connector = connector(state, table.connection).map_err(|e| (e, None))?;
    let inspection = bounded(state, connector.inspect_table(conn.map(|c| &c.credentials), &table, SAMPLE_ROWS))
        .await
        .map_err(|e| {
        tracing::info!(connection = %table.connection, table = %table.name, reason = %e.kind, "inspection failed");
        (ApiError::from(e.clone()), Some(gateway_preview::status_for(e.kind)))
    })?;
    gateway_preview::apply(table, inspection).map_err(|p| (ApiError(p), Some(TableStatus::WrongSpecification)))
}

fn preview_body(preview: Preview) -> TablePreview {
    let mut view = TableView::from(preview.table);
    view.warnings = preview.warnings;
    TablePreview { table: view, sample: preview.sample }
}

/// Preview and validate: merges the body over the stored table and opens it. Stores nothing.
pub async fn preview(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let (kind, name) = path_of(&path)?;
    let patch = TablePatch::from_json(body.or_empty(), kind, &name)?;
    let (stored, conn) = load(&state, &caller, kind, &name).await?;
    let merged = gateway_preview::merge(&caller.org, kind, &name, stored.as_ref(), &patch)?;
    let preview = run_preview(&state, conn.as_ref(), merged).await.map_err(|(e, _)| e)?;
    Ok(HttpResponse::Ok().json(preview_body(preview)))
}

/// Tests the stored table and records the outcome as its status.
pub async fn test_stored(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (kind, name) = path_of(&path)?;
    let (stored, conn) = load(&state, &caller, kind, &name).await?;
    let table = stored.ok_or_else(|| table_not_found(kind, &name))?;
    preview_and_record(&state, conn.as_ref(), table, Vec::new()).await
}

/// Previews a stored table and records the outcome as its status; answers the preview, or
/// the failure (with the status it recorded).
pub(crate) async fn preview_and_record(
    state: &AppState,
    conn: Option<&Connection>,
    table: Table,
    mut notes: Vec<String>,
) -> Result<HttpResponse, ApiError> {
    let (org, kind, name) = (table.organization.clone(), table.connection, table.name.clone());
    let awaiting_upload = kind == ConnectionKind::Local && table.status == TableStatus::Uploading;
    let result = run_preview(state, conn, table).await;
    let status = match &result {
        Ok(_) => Some(TableStatus::Available),
        // A LOCAL table stays `uploading` until its file arrives.
        Err((_, Some(TableStatus::ResourceNotFound))) if awaiting_upload => None,
        Err((_, status)) => *status,
    };
    let recorded = match status {
        Some(status) => db(state, move |s| s.set_table_status(&org, kind, &name, status)).await?,
        None => None,
    };
    match result {
        Ok(mut preview) => {
            if let Some(stored) = recorded {
                preview.table.status = stored.status;
                preview.table.modified_timestamp = stored.modified_timestamp;
            }
            notes.append(&mut preview.warnings);
            preview.warnings = notes;
            Ok(HttpResponse::Ok().json(preview_body(preview)))
        }
        Err((mut e, _)) => {
            if let Some(status) = status {
                e.0 = e.0.with("status", status.as_str());
            }
            Err(e)
        }
    }
}

/// Filter tables: `?connection=&resource=&page=&amt=`, in (connection, name) order.
pub async fn filter(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let q = extract::query(&req, &["connection", "resource", "page", "amt"])?;
    let filter = TableFilter {
        connection: extract::param(&q, "connection").map(extract::kind).transpose()?,
        resource: extract::param(&q, "resource")
            .map(|r| r.parse::<Resource>().map_err(|e| ApiError(Problem::from(e))))
            .transpose()?,
    };
    let paging = Paging::parse(extract::param(&q, "page"), extract::param(&q, "amt"))?;
    let org = caller.org.clone();
    let (tables, has_next) = db(&state, move |s| s.filter_tables(&org, filter, paging)).await?;
    Ok(HttpResponse::Ok().json(TablesPage {
        has_next,
        next_page: paging.page() + 1,
        tables: tables.into_iter().map(TableView::from).collect(),
        warnings: Vec::new(),
    }))
}

//! `/connections/...`: list, get, put, delete, test credentials, credential spec.

use actix_web::{HttpRequest, HttpResponse, web};
use gateway_connector::outbound::check_host_fields;
use gateway_connector::{Connector, ConnectorError, ErrorKind};
use gateway_domain::{
    ConnectionKind, ConnectionPut, ConnectionsList, Credentials, CredentialsTest, ErrorName, Problem,
};
use gateway_store::ConnectionDeletion;
use serde_json::json;

use crate::extract::{self, JsonBody};
use crate::{ApiError, AppState, Caller, db, view};

pub(crate) fn connector_unavailable(kind: ConnectionKind) -> ApiError {
    ApiError(
        Problem::new(
            ErrorName::ConnectorUnavailable,
            format!("the gateway has no {kind} connector yet: connections can be stored, not tested or previewed"),
        )
        .with("connection", kind.as_str()),
    )
}

pub(crate) fn connection_not_found(kind: ConnectionKind) -> ApiError {
    ApiError(
        Problem::new(ErrorName::ConnectionNotFound, format!("no {kind} connection is stored for this organization"))
            .with("connection", kind.as_str()),
    )
}

pub(crate) fn connector(state: &AppState, kind: ConnectionKind) -> Result<std::sync::Arc<dyn Connector>, ApiError> {
    state.registry.get(kind).cloned().ok_or_else(|| connector_unavailable(kind))
}

/// Awaits a connector call within the configured timeout.
pub(crate) async fn bounded<T>(
    state: &AppState,
    fut: impl std::future::Future<Output = Result<T, ConnectorError>>,
) -> Result<T, ConnectorError> {
    let limit = state.connector_timeout;
    actix_web::rt::time::timeout(limit, fut).await.unwrap_or_else(|_| {
        Err(ConnectorError::new(
            ErrorKind::Timeout,
            format!("the provider did not answer within {} s", limit.as_secs()),
        ))
    })
}

pub async fn list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let org = caller.org.clone();
    let connections = db(&state, move |s| s.list_connections(&org)).await?;
    let connections = connections.into_iter().map(|c| view::connection(&state.registry, caller.role, c)).collect();
    Ok(HttpResponse::Ok().json(ConnectionsList { connections, warnings: Vec::new() }))
}

pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let kind = extract::connectable(&path)?;
    let org = caller.org.clone();
    let conn = db(&state, move |s| s.get_connection(&org, kind)).await?.ok_or_else(|| connection_not_found(kind))?;
    Ok(HttpResponse::Ok().json(view::connection(&state.registry, caller.role, conn)))
}

pub async fn put(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let kind = extract::connectable(&path)?;
    let put = ConnectionPut::from_json(body.required()?, kind)?;
    let connector = state.registry.get(kind).cloned();
    let spec = connector.as_ref().map(|c| c.credential_spec().clone());
    // Names in host fields must not resolve inside (a mask stands for a value already checked).
    let warnings = match &spec {
        Some(spec) => check_host_fields(spec, put.credentials.expose(), state.outbound_allow_private).await?,
        None => Vec::new(),
    };
    let org = caller.org.clone();
    let saved = db(&state, move |s| {
        s.put_connection(&org, kind, |stored| {
            let credentials = put.credentials.unmask(stored.map(|c| &c.credentials))?;
            let credentials = match &connector {
                Some(c) => Credentials::new(c.validate_credentials(credentials.expose())?),
                None => credentials,
            };
            Ok((credentials, put.metadata.unwrap_or_default()))
        })
    })
    .await?;
    tracing::info!(connection = %kind, "connection stored");
    let mut answer = view::connection(&state.registry, caller.role, saved);
    answer.warnings = warnings;
    Ok(HttpResponse::Ok().json(answer))
}

pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let kind = extract::connectable(&path)?;
    let force = extract::flag(&extract::query(&req, &["force"])?, "force")?;
    let org = caller.org.clone();
    match db(&state, move |s| s.delete_connection(&org, kind, force)).await? {
        ConnectionDeletion::Deleted { tables } => {
            tracing::info!(connection = %kind, tables, "connection deleted");
            Ok(HttpResponse::NoContent().finish())
        }
        ConnectionDeletion::NotFound => Err(connection_not_found(kind)),
        ConnectionDeletion::HasTables(n) => Err(ApiError(
            Problem::wrong_field(
                "connection",
                format!(
                    "the {kind} connection still has {n} table{}: delete {} first, or call DELETE /connections/{kind}/?force=true to delete the connection and its tables together",
                    if n == 1 { "" } else { "s" },
                    if n == 1 { "it" } else { "them" },
                ),
            )
            .with("tables", n),
        )),
    }
}

pub async fn test(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let kind = extract::connectable(&path)?;
    let request = CredentialsTest::from_json(body.or_empty())?;
    let connector = connector(&state, kind)?;
    let org = caller.org.clone();
    let stored = db(&state, move |s| s.get_connection(&org, kind)).await?;
    let credentials = match request.credentials {
        Some(given) => given.unmask(stored.as_ref().map(|c| &c.credentials))?,
        None => stored.ok_or_else(|| connection_not_found(kind))?.credentials,
    };
    let credentials = Credentials::new(connector.validate_credentials(credentials.expose())?);
    let mut host_warnings =
        check_host_fields(connector.credential_spec(), credentials.expose(), state.outbound_allow_private).await?;
    let mut check = bounded(&state, connector.test_credentials(&credentials)).await?;
    check.warnings.append(&mut host_warnings);
    if let Some(step) = check.failure() {
        let reason = step.error.unwrap_or(ErrorKind::Unknown);
        tracing::info!(connection = %kind, step = %step.name, %reason, "credential test failed");
        return Err(ApiError(
            Problem::wrong_data(format!("{}: {}", step.name, step.message))
                .with("reason", reason.as_str())
                .with("steps", serde_json::to_value(&check.steps).unwrap_or_default())
                .with("warnings", check.warnings.clone()),
        ));
    }
    Ok(HttpResponse::Ok().json(json!({"steps": check.steps, "warnings": check.warnings})))
}

pub async fn spec(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let kind = extract::connectable(&path)?;
    Ok(HttpResponse::Ok().json(connector(&state, kind)?.credential_spec().json_schema()))
}

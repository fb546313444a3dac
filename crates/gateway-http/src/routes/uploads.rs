//! `PUT /uploads/{token}`: the file of a LOCAL table, streamed into the platform's storage
//! (never held whole), then previewed; the table becomes `available`, or
//! `wrong_specification` with the reason.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use futures_util::StreamExt;
use gateway_domain::{ConnectionKind, ErrorName, Problem};

use super::tables::preview_and_record;
use crate::{ApiError, AppState, db, uploads};

pub async fn put(
    state: web::Data<AppState>,
    token: web::Path<String>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (org, name) = uploads::verify(&state.jwt_secret, &token).map_err(ApiError)?;
    let store = state.registry.uploads().cloned().ok_or_else(|| {
        ApiError::new(ErrorName::ConnectorUnavailable, "this gateway has no LOCAL storage to upload to")
    })?;
    let (o, n) = (org.clone(), name.clone());
    let table = db(&state, move |s| s.get_table(&o, ConnectionKind::Local, &n)).await?.ok_or_else(|| {
        ApiError(
            Problem::new(ErrorName::TableNotFound, format!("no LOCAL table '{name}': it was deleted"))
                .with("name", name.as_str()),
        )
    })?;
    let max = state.upload_max_bytes;
    let too_large = || {
        ApiError(
            Problem::new(ErrorName::PayloadTooLarge, format!("the file is larger than the {max}-byte upload limit"))
                .with("limit", max),
        )
    };
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let mut writer = store.open(&org, &name).await?;
    let mut total: u64 = 0;
    while let Some(chunk) = payload.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                writer.abort().await;
                return Err(ApiError(Problem::wrong_data(format!("the upload was interrupted: {e}"))));
            }
        };
        total += chunk.len() as u64;
        if total > max {
            writer.abort().await;
            return Err(too_large());
        }
        if let Err(e) = writer.write(chunk).await {
            writer.abort().await;
            return Err(e.into());
        }
    }
    let size = writer.finish().await?;
    tracing::info!(table = %name, bytes = size, "LOCAL file uploaded");
    preview_and_record(&state, None, table, vec![format!("uploaded {size} bytes")]).await
}

//! `/connections/{connection}/tables/...` and `/tables/`: HTTP <-> the table use cases of
//! `gateway-service`.

use actix_web::{HttpRequest, HttpResponse, web};
use gateway_domain::{ConnectionKind, PageCursor, Paging, Problem, Resource, TableName};

use crate::extract::{self, JsonBody};
use crate::{ApiError, AppState, Caller};

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
    let list = state.gateway.list_tables(&caller.org, kind).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Deprecation", "true"))
        .insert_header(("Link", format!("</tables/?connection={kind}>; rel=\"successor-version\"")))
        .json(list))
}

pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (kind, name) = path_of(&path)?;
    Ok(HttpResponse::Ok().json(state.gateway.get_table(&caller.org, kind, &name).await?))
}

pub async fn patch(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let (kind, name) = path_of(&path)?;
    Ok(HttpResponse::Ok()
        .json(state.gateway.patch_table(&caller.org, &caller.actor(), kind, &name, body.required()?).await?))
}

pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (kind, name) = path_of(&path)?;
    state.gateway.delete_table(&caller.org, &caller.actor(), kind, &name).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Preview and validate: stores nothing.
pub async fn preview(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let (kind, name) = path_of(&path)?;
    Ok(HttpResponse::Ok().json(state.gateway.preview_table(&caller.org, kind, &name, body.or_empty()).await?))
}

/// Tests the stored table and records the outcome as its status.
pub async fn test_stored(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (kind, name) = path_of(&path)?;
    Ok(HttpResponse::Ok().json(state.gateway.test_table(&caller.org, &caller.actor(), kind, &name).await?))
}

/// Filter tables: `?connection=&resource=&page=&amt=`, in (connection, name) order; or
/// `cursor=` (an answer's `next_cursor`) in place of `page`.
pub async fn filter(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let q = extract::query(&req, &["connection", "resource", "page", "amt", "cursor"])?;
    let connection = extract::param(&q, "connection").map(extract::kind).transpose()?;
    let resource = extract::param(&q, "resource")
        .map(|r| r.parse::<Resource>().map_err(|e| ApiError(Problem::from(e))))
        .transpose()?;
    if let Some(cursor) = extract::param(&q, "cursor") {
        if extract::param(&q, "page").is_some() {
            return Err(ApiError(Problem::wrong_field(
                "page",
                "give page or cursor, not both: the cursor already says which page it leads to",
            )));
        }
        let cursor = PageCursor::parse(cursor)?;
        let amt = Paging::parse(None, extract::param(&q, "amt"))?.amt();
        let page = state.gateway.filter_tables_after(&caller.org, connection, resource, cursor, amt).await?;
        return Ok(HttpResponse::Ok().json(page));
    }
    let paging = Paging::parse(extract::param(&q, "page"), extract::param(&q, "amt"))?;
    Ok(HttpResponse::Ok().json(state.gateway.filter_tables(&caller.org, connection, resource, paging).await?))
}

/// `POST .../validations/`: starts a validation (202), or answers the one queued or running
/// for the table (200).
pub async fn start_validation(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let (kind, name) = path_of(&path)?;
    let (view, new) = state.gateway.start_validation(&caller.org, kind, &name, body.0).await?;
    // The name percent-encoded: a header holds visible ASCII only, a table name may not.
    let location = format!("/connections/{kind}/tables/{}/validations/{}/", encode_segment(name.as_str()), view.id);
    let mut answer = if new { HttpResponse::Accepted() } else { HttpResponse::Ok() };
    Ok(answer.insert_header(("Location", location)).json(view))
}

/// A path segment percent-encoded (RFC 3986: all but the unreserved characters).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET .../validations/`: newest first, `?page=&amt=`.
pub async fn list_validations(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (kind, name) = path_of(&path)?;
    let q = extract::query(&req, &["page", "amt"])?;
    let paging = Paging::parse(extract::param(&q, "page"), extract::param(&q, "amt"))?;
    Ok(HttpResponse::Ok().json(state.gateway.list_validations(&caller.org, kind, &name, paging).await?))
}

fn validation_path(path: &(String, String, String)) -> Result<(ConnectionKind, TableName, &str), ApiError> {
    Ok((extract::kind(&path.0)?, extract::table_name(&path.1)?, path.2.as_str()))
}

pub async fn get_validation(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (kind, name, id) = validation_path(&path)?;
    Ok(HttpResponse::Ok().json(state.gateway.get_validation(&caller.org, kind, &name, id).await?))
}

/// `DELETE .../validations/{id}/`: cancels it (204; one already finished is left as it is).
pub async fn cancel_validation(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (kind, name, id) = validation_path(&path)?;
    state.gateway.cancel_validation(&caller.org, kind, &name, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET .../tables/{name}/rows/`: the stored source table's rows, streamed. `?format=`
/// (`arrow`, `ndjson`, `csv`, `parquet`) or `Accept` chooses the form (NDJSON when neither
/// names one); `?columns=all|mapped`, `?invalid=skip|fail|include`, `?max_rows=`.
pub async fn rows(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    use gateway_service::{RowColumns as Columns, RowFormat as Format, RowInvalid as Invalid};
    let (kind, name) = path_of(&path)?;
    let q = extract::query(&req, &["format", "columns", "invalid", "max_rows", "split"])?;
    let names = || Format::ALL.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ");
    let format = match extract::param(&q, "format") {
        Some(f) => Format::parse(f).ok_or_else(|| {
            ApiError(Problem::wrong_field("format", format!("'{f}' is not a format rows are served in: {}", names())))
        })?,
        None => {
            let accept = req.headers().get("accept").and_then(|v| v.to_str().ok()).unwrap_or("*/*");
            let wanted = accepted(accept);
            match wanted.iter().find_map(|m| Format::parse(m)) {
                Some(f) => f,
                None if accept.trim().is_empty() || wanted.iter().any(|m| *m == "*/*" || *m == "application/*") => {
                    Format::NdJson
                }
                None => {
                    return Err(ApiError(Problem::wrong_field(
                        "format",
                        format!("Accept names no form rows are served in: ask for one of {}", names()),
                    )));
                }
            }
        }
    };
    let columns = match extract::param(&q, "columns") {
        None | Some("all") => Columns::All,
        Some("mapped") => Columns::Mapped,
        Some(other) => {
            return Err(ApiError(Problem::wrong_field("columns", format!("'{other}' is not all or mapped"))));
        }
    };
    let invalid = match extract::param(&q, "invalid") {
        None | Some("skip") => Invalid::Skip,
        Some("fail") => Invalid::Fail,
        Some("include") => Invalid::Include,
        Some(other) => {
            return Err(ApiError(Problem::wrong_field("invalid", format!("'{other}' is not skip, fail or include"))));
        }
    };
    let max_rows = match extract::param(&q, "max_rows") {
        None => None,
        Some(m) => Some(m.parse::<u64>().ok().filter(|m| *m > 0).ok_or_else(|| {
            ApiError(Problem::wrong_field("max_rows", format!("'{m}' is not a positive whole number")))
        })?),
    };
    let split = extract::param(&q, "split").map(str::to_owned);
    let request = gateway_service::RowsRequest { format, columns, invalid, max_rows, split };
    let answer = state.gateway.read_rows(&caller.org, &caller.actor(), kind, &name, request).await?;
    Ok(HttpResponse::Ok().content_type(answer.content_type).streaming(answer.body))
}

/// The media types of an `Accept` header, most preferred first (by `q`, then in order), those
/// with `q=0` (refused) left out (RFC 9110 §12.5.1).
fn accepted(accept: &str) -> Vec<&str> {
    let mut ranked: Vec<(u16, &str)> = accept
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().filter(|m| !m.is_empty())?;
            let q = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(Some(1000), |(_, v)| {
                    v.trim().parse::<f32>().ok().map(|q| (q.clamp(0.0, 1.0) * 1000.0) as u16)
                })?;
            (q > 0).then_some((q, media))
        })
        .collect();
    ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
    ranked.into_iter().map(|(_, m)| m).collect()
}

/// `GET .../tables/{name}/rows/splits/`: the table's independent parts, for parallel readers.
pub async fn row_splits(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (kind, name) = path_of(&path)?;
    Ok(HttpResponse::Ok().json(state.gateway.row_splits(&caller.org, kind, &name).await?))
}

/// `GET .../tables/{name}/files/`: a LOCAL table's uploaded files by name, `?page=&amt=`.
pub async fn list_files(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (kind, name) = path_of(&path)?;
    let q = extract::query(&req, &["page", "amt"])?;
    let paging = Paging::parse(extract::param(&q, "page"), extract::param(&q, "amt"))?;
    Ok(HttpResponse::Ok().json(state.gateway.list_files(&caller.org, kind, &name, paging).await?))
}

/// `DELETE .../tables/{name}/files/?file=<name>` deletes one file of a LOCAL table's set;
/// `?all=true` every file it holds (204). Neither is refused: a forgotten `file` never
/// empties a table.
pub async fn delete_files(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (kind, name) = path_of(&path)?;
    let q = extract::query(&req, &["file", "all"])?;
    let (file, all) = (extract::param(&q, "file"), extract::flag(&q, "all")?);
    if file.is_some() == all {
        return Err(ApiError(gateway_domain::Problem::wrong_field(
            "file",
            "name the file to delete with ?file=<name>, or delete every file of the table with ?all=true (not both)",
        )));
    }
    state.gateway.delete_files(&caller.org, kind, &name, file, &caller.actor()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET .../tables/{name}/schema/`: the schemas recorded tests saw, newest first, `?page=&amt=`.
pub async fn schema_history(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (kind, name) = path_of(&path)?;
    let q = extract::query(&req, &["page", "amt"])?;
    let paging = Paging::parse(extract::param(&q, "page"), extract::param(&q, "amt"))?;
    Ok(HttpResponse::Ok().json(state.gateway.schema_history(&caller.org, kind, &name, paging).await?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn accept_is_ranked_by_q_and_q_zero_refuses() {
        assert_eq!(
            super::accepted("text/csv;q=0.5, application/vnd.apache.parquet"),
            ["application/vnd.apache.parquet", "text/csv"]
        );
        assert_eq!(super::accepted("application/x-ndjson;q=0, */*;q=0.1"), ["*/*"]);
        assert!(super::accepted("*/*;q=0").is_empty());
        assert_eq!(super::accepted("text/csv; charset=utf-8"), ["text/csv"]);
    }
}

//! Parsing what a request carries: a bounded JSON body, path parameters, query strings.
//! Every failure is a WRONG_DATA_TYPE (or 413) naming what was wrong.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, http::header};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use gateway_domain::{ConnectionKind, ErrorName, Problem, TableName};
use serde_json::Value;

use crate::ApiError;

/// Bodies larger than this answer 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A JSON body of at most [`BODY_LIMIT`] bytes; `None` when the body is empty.
#[derive(Debug)]
pub struct JsonBody(pub Option<Value>);

fn too_large() -> ApiError {
    ApiError(
        Problem::new(ErrorName::PayloadTooLarge, format!("the body is larger than {BODY_LIMIT} bytes"))
            .with("limit", BODY_LIMIT),
    )
}

impl FromRequest for JsonBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<JsonBody, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > BODY_LIMIT) {
                return Err(too_large());
            }
            let mut body = Vec::with_capacity(declared.unwrap_or(0));
            while let Some(chunk) = payload.next().await {
                let chunk =
                    chunk.map_err(|e| ApiError(Problem::wrong_data(format!("the body could not be read: {e}"))))?;
                if body.len() + chunk.len() > BODY_LIMIT {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(JsonBody(None));
            }
            serde_json::from_slice(&body).map(|v| JsonBody(Some(v))).map_err(|e| {
                ApiError(
                    Problem::wrong_data(format!("the body is not valid JSON: {e}"))
                        .with("line", e.line())
                        .with("column", e.column()),
                )
            })
        })
    }
}

impl JsonBody {
    /// The body, where one is required.
    pub fn required(self) -> Result<Value, ApiError> {
        self.0.ok_or_else(|| ApiError(Problem::wrong_data("a JSON body is required")))
    }

    /// The body, or an empty object.
    pub fn or_empty(self) -> Value {
        self.0.unwrap_or_else(|| Value::Object(Default::default()))
    }
}

/// `{connection}` in a path.
pub fn kind(s: &str) -> Result<ConnectionKind, ApiError> {
    s.parse::<ConnectionKind>().map_err(|e| ApiError(Problem::from(e)))
}

/// `{name}` in a path.
pub fn table_name(s: &str) -> Result<TableName, ApiError> {
    TableName::parse(s).map_err(ApiError)
}

/// The query string's parameters; any not in `allowed`, or given twice, is refused.
pub fn query(req: &HttpRequest, allowed: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError(Problem::wrong_data(format!("the query string is malformed: {e}"))))?;
    for (i, (k, _)) in pairs.iter().enumerate() {
        if !allowed.contains(&k.as_str()) {
            return Err(ApiError(
                Problem::wrong_field(
                    k.clone(),
                    format!("unknown query parameter '{k}'; allowed: {}", allowed.join(", ")),
                )
                .with("allowed", allowed.to_vec()),
            ));
        }
        if pairs[..i].iter().any(|(p, _)| p == k) {
            return Err(ApiError(Problem::wrong_field(k.clone(), format!("query parameter '{k}' is given twice"))));
        }
    }
    Ok(pairs)
}

pub fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// A boolean query parameter: true/false/1/0, absent = false.
pub fn flag(pairs: &[(String, String)], key: &str) -> Result<bool, ApiError> {
    match param(pairs, key) {
        None => Ok(false),
        Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(other) => {
            Err(ApiError(Problem::wrong_field(key, format!("'{key}' must be true or false, got '{other}'"))))
        }
    }
}

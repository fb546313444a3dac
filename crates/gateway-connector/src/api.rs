//! What every SaaS provider's client shares: a JSON API reached through the guarded outbound
//! client at the provider's origin (or the operator's peer, `GATEWAY_PROVIDER_<KIND>_URL`),
//! and the failures every provider answers alike (429 with its retry time, 5xx naming the
//! provider and its request id). Each provider's `error.rs` maps its own documented bodies
//! first.

use std::time::Duration;

use crate::{ConnectorError, ErrorKind, OutboundClient, parse_retry_after};
use reqwest::Method;
use serde_json::Value;

/// A provider's JSON read by path (a JSON pointer, `/errors/0/message`) without indexing:
/// `Null` wherever the path leads nowhere, as `value["errors"][0]` reads, minus the lint.
pub trait JsonAt {
    fn at(&self, pointer: &str) -> &Value;
}

impl JsonAt for Value {
    fn at(&self, pointer: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.pointer(pointer).unwrap_or(&NULL)
    }
}

/// A provider's API: where it is and who it is, for messages.
#[derive(Debug, Clone)]
pub struct Api {
    pub outbound: OutboundClient,
    /// Origin without a trailing slash: the provider's, or the operator's peer.
    pub origin: String,
    pub who: &'static str,
}

/// An answer, read whole under the outbound size cap.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The provider's request id, when it sent one (for support tickets).
    pub fn request_id(&self) -> Option<&str> {
        ["x-request-id", "x-amzn-requestid", "request-id", "x-braze-request-id", "cf-ray"]
            .iter()
            .find_map(|h| self.header(h))
    }
}

impl Api {
    /// The provider's origin, or the operator's peer for `kind` (`GATEWAY_PROVIDER_<KIND>_URL`).
    pub fn new(outbound: &OutboundClient, peer: &str, origin: String, who: &'static str) -> Api {
        let origin = outbound.provider_url(peer).map_or(origin, str::to_owned);
        Api { outbound: outbound.clone(), origin: origin.trim_end_matches('/').to_owned(), who }
    }

    /// A URL under the origin: `segments` are path segments (percent-encoded here, so a
    /// name from a table cannot add a segment or a query), `query` the parameters.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<reqwest::Url, ConnectorError> {
        // `.` and `..` would be dropped or climb: a name that is one is refused, not sent.
        if let Some(bad) = segments.iter().find(|s| matches!(**s, "." | "..")) {
            return Err(ConnectorError::new(
                ErrorKind::WrongSpecification,
                format!("'{bad}' cannot name a {} object", self.who),
            ));
        }
        let mut url = reqwest::Url::parse(&self.origin).map_err(|_| {
            ConnectorError::new(ErrorKind::WrongSpecification, format!("the {} origin is not a URL", self.who))
        })?;
        url.path_segments_mut()
            .map_err(|_| ConnectorError::new(ErrorKind::WrongSpecification, "the origin cannot take a path"))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Sends a request with `headers` and answers it whatever its status.
    pub async fn send(
        &self,
        method: Method,
        url: reqwest::Url,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Answer, ConnectorError> {
        let mut b = self.outbound.request(method, url);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        if let Some(body) = body {
            b = b.body(body);
        }
        let req = b.build().map_err(|_| {
            ConnectorError::new(ErrorKind::Unknown, format!("cannot build the request to {}", self.who))
        })?;
        let res = self.outbound.send(req).await.map_err(|mut e| {
            if e.kind == ErrorKind::Timeout {
                e.message = format!("{} did not answer in time", self.who);
            }
            e
        })?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = self.outbound.read_body(res).await?;
        Ok(Answer { status, headers, body })
    }

    /// A GET whose body is read as it arrives, a line at a time, each handed to `line` (its
    /// line end left out; an empty line skipped) until it answers `false` or the body ends;
    /// a line past `max_line` bytes fails the read. `timeout` bounds the whole answer (this
    /// one request's, instead of the client's). Answers `None` once read, or the answer
    /// (read whole under the size cap) when its status is not a success, for the caller's
    /// own mapping.
    pub async fn get_lines(
        &self,
        url: reqwest::Url,
        headers: &[(&str, &str)],
        timeout: Duration,
        max_line: usize,
        mut line: impl FnMut(&[u8]) -> Result<bool, ConnectorError> + Send,
    ) -> Result<Option<Answer>, ConnectorError> {
        let mut b = self.outbound.request(Method::GET, url).timeout(timeout);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b.build().map_err(|_| {
            ConnectorError::new(ErrorKind::Unknown, format!("cannot build the request to {}", self.who))
        })?;
        let mut res = self.outbound.send(req).await?;
        let status = res.status().as_u16();
        if !(200..300).contains(&status) {
            let headers = res.headers().clone();
            let body = self.outbound.read_body(res).await?;
            return Ok(Some(Answer { status, headers, body }));
        }
        let who = self.who;
        let failed = move |e: reqwest::Error| {
            let kind = if e.is_timeout() { ErrorKind::Timeout } else { ErrorKind::Unavailable };
            ConnectorError::new(kind, format!("{who}'s answer broke off while it was read"))
        };
        let mut lines = crate::paging::Lines::new(max_line, who);
        while let Some(chunk) = res.chunk().await.map_err(failed)? {
            if !lines.push(&chunk, &mut line)? {
                return Ok(None);
            }
        }
        lines.finish(&mut line)?;
        Ok(None)
    }

    pub async fn get(&self, url: reqwest::Url, headers: &[(&str, &str)]) -> Result<Answer, ConnectorError> {
        self.send(Method::GET, url, headers, None).await
    }

    /// The failures every provider answers alike; `None` for a status its own mapping decides.
    pub fn common_failure(&self, answer: &Answer, reset_header: Option<&str>) -> Option<ConnectorError> {
        let id = answer.request_id().map(|id| format!(" (request id {id})")).unwrap_or_default();
        match answer.status {
            429 => {
                let after = parse_retry_after(answer.header("retry-after"))
                    .or_else(|| reset_header.and_then(|h| reset_in(answer.header(h))));
                let when = after.map(|d| format!(": retry in {} s", d.as_secs())).unwrap_or_default();
                Some(
                    ConnectorError::new(
                        ErrorKind::RateLimited,
                        format!("{} rate-limited the request{when}{id}", self.who),
                    )
                    .retry_after(after),
                )
            }
            s if s >= 500 => Some(ConnectorError::new(
                ErrorKind::Unavailable,
                format!("{} answered {s}: it is failing or down, try again later{id}", self.who),
            )),
            _ => None,
        }
    }

    /// The catch-all for a status nothing mapped.
    pub fn unexpected(&self, answer: &Answer, what: &str) -> ConnectorError {
        let id = answer.request_id().map(|id| format!(" (request id {id})")).unwrap_or_default();
        ConnectorError::new(ErrorKind::Unknown, format!("{} answered {} to {what}{id}", self.who, answer.status))
    }
}

/// A rate-limit reset header: seconds to wait, or a Unix time in seconds (whichever it
/// plainly is), capped at an hour.
fn reset_in(value: Option<&str>) -> Option<Duration> {
    let v: i64 = value?.trim().parse().ok()?;
    let now = gateway_domain::now_seconds();
    let secs = if v > 1_000_000_000 { v - now } else { v };
    Some(Duration::from_secs(secs.clamp(0, 3600) as u64))
}

/// The text of a JSON value's field, trimmed and non-empty.
pub fn text<'a>(c: &'a gateway_domain::JsonObject, k: &str) -> Option<&'a str> {
    c.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_headers_in_seconds_or_epoch() {
        assert_eq!(reset_in(Some("30")), Some(Duration::from_secs(30)));
        let soon = (gateway_domain::now_seconds() + 20).to_string();
        let d = reset_in(Some(&soon)).unwrap();
        assert!((19..=20).contains(&d.as_secs()), "{d:?}");
        assert_eq!(reset_in(Some("99999999")), Some(Duration::from_secs(3600)));
        assert_eq!(reset_in(Some("soon")), None);
    }
}

//! What a whole read page by page ([`crate::Connector::read_pages`]) needs of every provider:
//! a pace within the provider's documented rate, its 429s waited out, and the next page's
//! cursor taken from the link a provider answers without ever following the link itself.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::{ConnectorError, ErrorKind};

/// The longest a paged read waits out one 429 (a longer `Retry-After` fails the read, saying
/// when to retry).
pub const MAX_RATE_WAIT: Duration = Duration::from_secs(120);
/// The most 429s in a row a paged read waits out on one page.
pub const MAX_RATE_WAITS: u32 = 5;
/// The wait after a 429 that says nothing of when to retry.
const DEFAULT_RATE_WAIT: Duration = Duration::from_secs(10);

/// Paces a paged read: requests at most at the provider's documented steady rate (a read
/// must not spend the customer's whole allowance, shared with their own integrations), each
/// 429 waited out (its `Retry-After`, at most [`MAX_RATE_WAIT`], at most [`MAX_RATE_WAITS`] in
/// a row) before the same page is asked again.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    last: Option<Instant>,
}

impl Pacer {
    /// At most `n` requests a minute.
    pub fn per_minute(n: u32) -> Pacer {
        Pacer { interval: Duration::from_secs(60) / n.max(1), last: None }
    }

    /// Calls `request` once its turn comes, again after each 429 it answers (within the
    /// bounds above); answers its first other outcome.
    pub async fn call<T, F, Fut>(&mut self, mut request: F) -> Result<T, ConnectorError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        let mut waits = 0;
        loop {
            if let Some(last) = self.last {
                tokio::time::sleep_until(last + self.interval).await;
            }
            self.last = Some(Instant::now());
            match request().await {
                Err(e) if wait_out(&e, &mut waits).await => {}
                other => return other,
            }
        }
    }
}

/// Waits out a 429 (`e` [`ErrorKind::RateLimited`]) as [`Pacer`] does, counting it in
/// `waits`: answers whether it waited (the request may be made again), `false` for any other
/// error, past [`MAX_RATE_WAITS`] or for a `Retry-After` past [`MAX_RATE_WAIT`].
pub async fn wait_out(e: &ConnectorError, waits: &mut u32) -> bool {
    let wait = e.retry_after.unwrap_or(DEFAULT_RATE_WAIT);
    if e.kind != ErrorKind::RateLimited || *waits >= MAX_RATE_WAITS || wait > MAX_RATE_WAIT {
        return false;
    }
    *waits += 1;
    tracing::info!(wait_secs = wait.as_secs(), waits = *waits, "a paged read was rate-limited: waiting");
    tokio::time::sleep(wait).await;
    true
}

/// The value of `param` in a next-page link a provider answered (absolute, or relative to its
/// origin), when the link names `path` (the path the read asks): the cursor is then sent on
/// the connection's own origin, the link never followed. A link elsewhere, or without the
/// parameter, is refused (`who` names the provider in the message).
pub fn cursor_of(link: &str, path: &str, param: &str, who: &str) -> Result<String, ConnectorError> {
    let refused = || {
        ConnectorError::new(
            ErrorKind::WrongSpecification,
            format!("{who} answered a next page that is not {path} with a '{param}': refused"),
        )
    };
    let base = reqwest::Url::parse("https://provider.invalid/").map_err(|_| refused())?;
    let url = base.join(link.trim()).map_err(|_| refused())?;
    if url.path().trim_end_matches('/') != path.trim_end_matches('/') {
        return Err(refused());
    }
    let cursor = url.query_pairs().find(|(k, _)| k == param).map(|(_, v)| v.into_owned()).ok_or_else(refused)?;
    if cursor.is_empty() || cursor.len() > 2048 || cursor.chars().any(char::is_control) {
        return Err(refused());
    }
    Ok(cursor)
}

/// Hands one page's rows to `sink`, at most what `max_rows` leaves of the rows `read` so far
/// (counted in). Answers whether the read stops here with rows left unread: the page went past
/// `max_rows`, or reached it with a next page (`more`) to come. An empty page naming a next
/// one is refused (a read that would never end).
pub fn deliver(
    mut rows: Vec<gateway_domain::JsonObject>,
    more: bool,
    read: &mut u64,
    max_rows: u64,
    sink: &mut (dyn crate::PageSink + Send),
) -> Result<bool, ConnectorError> {
    if rows.is_empty() && more {
        // A page of nothing that names a next one could go on forever.
        return Err(ConnectorError::new(
            ErrorKind::Unavailable,
            "the provider answered an empty page that names a next one: the read was stopped",
        ));
    }
    let left = max_rows.saturating_sub(*read);
    let n = rows.len() as u64;
    let stop = n > left || (more && n == left);
    rows.truncate(usize::try_from(left).unwrap_or(usize::MAX));
    *read += rows.len() as u64;
    sink.page(rows)?;
    Ok(stop)
}

/// A body split into lines as it arrives (`\n`, a `\r` before it dropped, empty lines
/// skipped), each at most `max` bytes, the unfinished one held between chunks and scanned
/// once.
#[derive(Debug)]
pub struct Lines {
    pending: Vec<u8>,
    /// How much of `pending` is known to hold no line end.
    scanned: usize,
    max: usize,
    who: &'static str,
}

impl Lines {
    pub fn new(max: usize, who: &'static str) -> Lines {
        Lines { pending: Vec::new(), scanned: 0, max, who }
    }

    fn too_long(&self) -> ConnectorError {
        ConnectorError::new(
            ErrorKind::WrongSpecification,
            format!("{} answered a line longer than {} bytes: refused", self.who, self.max),
        )
    }

    /// Hands each line `chunk` completes to `line`; answers `false` once `line` does.
    pub fn push(
        &mut self,
        chunk: &[u8],
        line: &mut impl FnMut(&[u8]) -> Result<bool, ConnectorError>,
    ) -> Result<bool, ConnectorError> {
        self.pending.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(at) =
            self.pending.get(start + self.scanned..).and_then(|rest| rest.iter().position(|b| *b == b'\n'))
        {
            let end = self.scanned + at;
            self.scanned = 0;
            if end > self.max {
                return Err(self.too_long());
            }
            let whole = self.pending.get(start..start + end).unwrap_or_default();
            let whole = whole.strip_suffix(b"\r").unwrap_or(whole);
            if !whole.is_empty() && !line(whole)? {
                return Ok(false);
            }
            start += end + 1;
        }
        self.pending.drain(..start);
        self.scanned = self.pending.len();
        if self.pending.len() > self.max {
            return Err(self.too_long());
        }
        Ok(true)
    }

    /// Hands the last line (one without a line end) to `line`.
    pub fn finish(self, line: &mut impl FnMut(&[u8]) -> Result<bool, ConnectorError>) -> Result<(), ConnectorError> {
        let last = self.pending.strip_suffix(b"\r").unwrap_or(&self.pending);
        if !last.is_empty() {
            line(last)?;
        }
        Ok(())
    }
}

/// The `rel="next"` target of an RFC 8288 `Link` header, if it has one.
pub fn link_next(header: &str) -> Option<&str> {
    header.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim();
                p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
            })
            .then_some(target)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_taken_only_from_a_link_to_the_path_read() {
        let c = cursor_of(
            "https://a.klaviyo.com/api/lists/Y6/profiles?page%5Bcursor%5D=bmV4dA%3D%3D&page%5Bsize%5D=100",
            "/api/lists/Y6/profiles",
            "page[cursor]",
            "Klaviyo",
        );
        assert_eq!(c.unwrap(), "bmV4dA==");
        assert_eq!(
            cursor_of("/catalogs/shoes/items?cursor=c2tpcDoxMDA=", "/catalogs/shoes/items", "cursor", "Braze").unwrap(),
            "c2tpcDoxMDA="
        );
        for bad in [
            "https://a.klaviyo.com/api/lists/OTHER/profiles?page%5Bcursor%5D=x",
            "/api/lists/Y6/profiles",
            "/api/lists/Y6/profiles?page%5Bcursor%5D=",
            "/api/lists/Y6/profiles/../../segments/Z/profiles?page%5Bcursor%5D=x",
        ] {
            let e = cursor_of(bad, "/api/lists/Y6/profiles", "page[cursor]", "Klaviyo").unwrap_err();
            assert_eq!(e.kind, ErrorKind::WrongSpecification, "{bad}");
        }
    }

    #[test]
    fn lines_are_split_whatever_the_chunks_and_bounded() {
        let body = b"a,1\r\n\nbb,22\nccc,333";
        for cut in 0..body.len() {
            let mut got: Vec<String> = Vec::new();
            let mut take = |l: &[u8]| {
                got.push(String::from_utf8_lossy(l).into_owned());
                Ok(true)
            };
            let mut lines = Lines::new(16, "P");
            let (a, b) = body.split_at(cut);
            assert!(lines.push(a, &mut take).unwrap() && lines.push(b, &mut take).unwrap());
            lines.finish(&mut take).unwrap();
            assert_eq!(got, ["a,1", "bb,22", "ccc,333"], "cut at {cut}");
        }
        // A line past the bound fails whether it ends in its chunk or not.
        let mut ok = |_: &[u8]| Ok(true);
        assert!(Lines::new(4, "P").push(b"12345\nx", &mut ok).is_err());
        assert!(Lines::new(4, "P").push(b"12345", &mut ok).is_err());
        assert!(Lines::new(4, "P").push(b"1234\n1234", &mut ok).unwrap());
        // A reader that has enough stops the split.
        let mut n = 0;
        let mut two = |_: &[u8]| {
            n += 1;
            Ok(n < 2)
        };
        assert!(!Lines::new(8, "P").push(b"a\nb\nc\n", &mut two).unwrap());
        assert_eq!(n, 2);
    }

    #[test]
    fn the_next_link_is_found_among_others() {
        let h =
            "</catalogs/r/items?cursor=c2tpcDow>; rel=\"prev\",</catalogs/r/items?cursor=c2tpcDoxMDA=>; rel=\"next\"";
        assert_eq!(link_next(h), Some("/catalogs/r/items?cursor=c2tpcDoxMDA="));
        assert_eq!(link_next("</a?cursor=x>; rel=\"prev\""), None);
        assert_eq!(link_next("garbage"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_is_waited_out_then_the_page_asked_again() {
        let mut pacer = Pacer::per_minute(60);
        let mut calls = 0;
        let started = Instant::now();
        let got = pacer
            .call(|| {
                calls += 1;
                let n = calls;
                async move {
                    if n == 1 {
                        Err(ConnectorError::new(ErrorKind::RateLimited, "slow down")
                            .retry_after(Some(Duration::from_secs(7))))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(got.unwrap(), 2);
        assert!(started.elapsed() >= Duration::from_secs(7));
        // A wait past the bound is not waited: the read fails saying when to retry.
        let e = pacer
            .call(|| async {
                Err::<(), _>(
                    ConnectorError::new(ErrorKind::RateLimited, "tomorrow")
                        .retry_after(Some(Duration::from_secs(3600))),
                )
            })
            .await
            .unwrap_err();
        assert_eq!(e.message, "tomorrow");
        // Five in a row are waited out, the sixth answered.
        let mut n = 0;
        let e = pacer
            .call(|| {
                n += 1;
                async { Err::<(), _>(ConnectorError::new(ErrorKind::RateLimited, "again")) }
            })
            .await
            .unwrap_err();
        assert_eq!((e.kind, n), (ErrorKind::RateLimited, MAX_RATE_WAITS + 1));
    }

    #[tokio::test(start_paused = true)]
    async fn requests_keep_to_the_rate() {
        let mut pacer = Pacer::per_minute(30);
        let started = Instant::now();
        for _ in 0..3 {
            pacer.call(|| async { Ok::<_, ConnectorError>(()) }).await.unwrap();
        }
        assert!(started.elapsed() >= Duration::from_secs(4), "{:?}", started.elapsed());
    }
}

//! A provider's API stood in for by an in-process HTTP server, for providers with no emulator.
//! Each test writes its handler from the provider's API reference: it sees every request as
//! sent (method, path, raw query, headers, body), answers what the documentation shows, and
//! refuses anything else with a 418 naming what was wrong, so a request that strays from the
//! documented shape fails the test. Every request is recorded for assertions afterwards.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::Value;

/// A request as the mock received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The raw query string, as sent.
    pub query: String,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The query's parameters, decoded, in order.
    pub fn params(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes()).into_owned().collect()
    }

    pub fn param(&self, key: &str) -> Option<String> {
        self.params().into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// `METHOD /path?query`, for messages.
    pub fn line(&self) -> String {
        if self.query.is_empty() {
            format!("{} {}", self.method, self.path)
        } else {
            format!("{} {}?{}", self.method, self.path, self.query)
        }
    }
}

/// What the mock answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long before answering (a slow provider).
    pub delay: Option<Duration>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            delay: None,
        }
    }

    pub fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: body.as_bytes().to_vec(),
            delay: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }

    /// The request is not what the provider's documentation describes.
    pub fn unexpected(why: &str, request: &Recorded) -> Reply {
        Reply::text(418, &format!("mock: {why}: {}", request.line()))
    }
}

type Handler = dyn Fn(&Recorded) -> Option<Reply> + Send + Sync + 'static;

/// A mock provider on 127.0.0.1, stopped when dropped.
pub struct MockProvider {
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    handle: actix_web::dev::ServerHandle,
}

impl std::fmt::Debug for MockProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockProvider").field("url", &self.url).finish_non_exhaustive()
    }
}

impl MockProvider {
    /// Serves `handler` on a free port. Call inside a Tokio runtime.
    pub fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> MockProvider {
        MockProvider::serve(None, move |r| Some(handler(r)))
    }

    /// A server in front of a real peer (an emulator that cannot refuse anything): `handler`
    /// answers what it wants to (a 403 the emulator cannot give), and every request it leaves
    /// (`None`) is passed to `upstream` as sent, its answer passed back.
    pub fn front(upstream: &str, handler: impl Fn(&Recorded) -> Option<Reply> + Send + Sync + 'static) -> MockProvider {
        MockProvider::serve(Some(upstream.trim_end_matches('/').to_owned()), handler)
    }

    fn serve(
        upstream: Option<String>,
        handler: impl Fn(&Recorded) -> Option<Reply> + Send + Sync + 'static,
    ) -> MockProvider {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://127.0.0.1:{}", listener.local_addr().expect("addr").port());
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let (seen, h) = (requests.clone(), handler.clone());
        let client = reqwest::Client::new();
        let server = HttpServer::new(move || {
            let (seen, h, upstream, client) = (seen.clone(), h.clone(), upstream.clone(), client.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (seen, h, upstream, client) = (seen.clone(), h.clone(), upstream.clone(), client.clone());
                async move {
                    let recorded = Recorded {
                        method: req.method().to_string(),
                        path: req.path().to_owned(),
                        query: req.query_string().to_owned(),
                        headers: req
                            .headers()
                            .iter()
                            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or_default().to_owned()))
                            .collect(),
                        body: body.to_vec(),
                    };
                    let answered = h(&recorded);
                    let reply = match (answered, &upstream) {
                        (Some(reply), _) => reply,
                        (None, Some(up)) => forward(&client, up, &recorded).await,
                        (None, None) => Reply::unexpected("nothing answers this", &recorded),
                    };
                    if let Ok(mut all) = seen.lock() {
                        all.push(recorded);
                    }
                    if let Some(d) = reply.delay {
                        tokio::time::sleep(d).await;
                    }
                    let mut res = HttpResponse::build(
                        actix_web::http::StatusCode::from_u16(reply.status)
                            .unwrap_or(actix_web::http::StatusCode::IM_A_TEAPOT),
                    );
                    for (k, v) in &reply.headers {
                        res.insert_header((k.as_str(), v.as_str()));
                    }
                    res.body(reply.body)
                }
            }))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        MockProvider { url, requests, handle }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// Passes a request to the peer behind a front, and its answer back.
async fn forward(client: &reqwest::Client, upstream: &str, r: &Recorded) -> Reply {
    let url =
        if r.query.is_empty() { format!("{upstream}{}", r.path) } else { format!("{upstream}{}?{}", r.path, r.query) };
    let method = reqwest::Method::from_bytes(r.method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut b = client.request(method, url).body(r.body.clone());
    for (k, v) in &r.headers {
        if !matches!(k.as_str(), "host" | "content-length") {
            b = b.header(k.as_str(), v.as_str());
        }
    }
    match b.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            let content_type = res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_owned();
            let body = res.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            Reply { status, headers: vec![("content-type".into(), content_type)], body, delay: None }
        }
        Err(e) => Reply::text(502, &format!("mock front: the peer behind it failed: {e}")),
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

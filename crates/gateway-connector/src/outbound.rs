//! The one HTTP client every connector uses to reach a provider, guarded against server-side
//! request forgery and runaway answers:
//!
//! - HTTPS only;
//! - every host resolved by our own resolver, which refuses private, loopback, link-local,
//!   CGNAT, unspecified and metadata addresses (and IPv4-mapped IPv6 forms of them) on every
//!   connection, so DNS rebinding between a check and a call does not pass; IP literals are
//!   checked before the request, since no resolver sees them;
//! - redirects followed only within the origin first called (a credential header is never
//!   sent elsewhere) and to targets that pass the same checks, at most 3;
//! - connect and total timeouts, and a cap on the size of a response body read.
//!
//! `allow_private` (the operator's `GATEWAY_OUTBOUND_ALLOW_PRIVATE=true`, for tests and
//! on-premise peers) lifts the address and HTTPS rules. Nothing a request carries can.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::{ConnectorError, ErrorKind, HostRule};

/// Whether an address is one a provider call may never reach.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

/// The IPv4 address in the low 32 bits of an IPv6 address.
fn low_v4(v6: Ipv6Addr) -> Ipv4Addr {
    let s = v6.segments();
    Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]))
}

fn forbidden_v6(v6: Ipv6Addr) -> bool {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let s = v6.segments();
    // Forms that carry an IPv4 address a router may deliver to: IPv4-compatible (::a.b.c.d,
    // deprecated), NAT64 (64:ff9b::/96 and the local-use 64:ff9b:1::/48), 6to4 (2002::/16,
    // the address in bits 16..48) and Teredo (2001::/32, the client address inverted in the
    // low 32 bits). Each is refused when its IPv4 address is; NAT64 local-use always.
    let embedded_v4_forbidden = (s[..6] == [0, 0, 0, 0, 0, 0] && forbidden_v4(low_v4(v6)))
        // IPv4-translated (::ffff:0:a.b.c.d, SIIT).
        || (s[..6] == [0, 0, 0, 0, 0xffff, 0] && forbidden_v4(low_v4(v6)))
        || (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] && forbidden_v4(low_v4(v6)))
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
        || (s[0] == 0x2002 && forbidden_v4(Ipv4Addr::from((u32::from(s[1]) << 16) | u32::from(s[2]))))
        || (s[0] == 0x2001 && s[1] == 0 && forbidden_v4(Ipv4Addr::from(!u32::from(low_v4(v6)))));
    v6.is_loopback()
        || v6.is_unspecified()
        || embedded_v4_forbidden
        || (s[0] & 0xfe00) == 0xfc00 // fc00::/7 unique local
        || (s[0] & 0xffc0) == 0xfe80 // fe80::/10 link-local
        || (s[0] & 0xffc0) == 0xfec0 // fec0::/10 site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0xdb8) // 2001:db8::/32 documentation
        || (s[0] == 0x3fff && s[1] < 0x1000) // 3fff::/20 documentation
        || (s[0] == 0x2001 && s[1] == 0x2 && s[2] == 0) // 2001:2::/48 benchmarking
        || (s[0] == 0x2001 && (0x10..0x30).contains(&s[1])) // 2001:10::/28 ORCHID, 2001:20::/28 ORCHIDv2
        || s[0] == 0x5f00 // 5f00::/16 SRv6 SIDs
        || (s[0] == 0x100 && s[1..4] == [0, 0, 0]) // 100::/64 discard
        || v6.is_multicast()
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_loopback() // 127/8
        || ip.is_link_local() // 169.254/16, cloud metadata
        || ip.is_unspecified()
        || a == 0 // 0.0.0.0/8
        || (a == 100 && (64..=127).contains(&b)) // 100.64/10 CGNAT
        || ip.is_broadcast()
        || ip.is_multicast()
        || (a == 192 && b == 0 && c == 0) // 192.0.0/24 IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // 192.0.2/24 documentation
        || (a == 198 && (18..=19).contains(&b)) // 198.18/15 benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 31 && c == 196) // AS112-v4
        || (a == 192 && b == 52 && c == 193) // AMT
        || (a == 192 && b == 175 && c == 48) // direct delegation AS112
        || a >= 240 // reserved
}

/// Why a host or URL is refused, for a message naming the field.
fn refuse(why: impl Into<String>) -> String {
    why.into()
}

/// Why the guard refused a name or an address; travels inside reqwest's and opendal's errors
/// and is found again by type, not by its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// The target is, or resolves to, an address no provider call may reach.
    #[error("{0}")]
    Refused(String),
    /// The name does not resolve (now).
    #[error("{0}")]
    Unresolvable(String),
}

/// Checks a host-bearing credential value before it is stored or used: the shape its rule
/// asks for, no credentials, port or path, no literal or well-known private address. Names
/// are resolved later, on every connection, by the client's resolver.
pub fn check_host_value(value: &str, rule: HostRule) -> Result<(), String> {
    let value = value.trim();
    match rule {
        HostRule::PublicHttps => {
            let url =
                Url::parse(value).map_err(|_| refuse("must be an https:// URL such as https://s3.example.com"))?;
            if url.scheme() != "https" {
                return Err(refuse("must use https://"));
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err(refuse("must not carry a user name or password"));
            }
            if url.port().is_some() {
                return Err(refuse("must not name a port"));
            }
            if !(url.path().is_empty() || url.path() == "/") || url.query().is_some() || url.fragment().is_some() {
                return Err(refuse("must be a bare origin, without a path or query"));
            }
            let host = url.host_str().ok_or_else(|| refuse("must name a host"))?;
            check_public_host_name(host)
        }
        HostRule::Suffixes(suffixes) => {
            if value.contains(['/', ':', '@', '?', '#', ' ']) {
                return Err(refuse("must be a bare host name, without a scheme, port, path or user"));
            }
            let host = value.to_ascii_lowercase();
            if !suffixes.iter().any(|s| host.ends_with(s) && host.len() > s.len()) {
                return Err(refuse(format!("must be a host name ending in {}", suffixes.join(" or "))));
            }
            check_public_host_name(&host)
        }
    }
}

fn check_public_host_name(host: &str) -> Result<(), String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        if is_forbidden_ip(ip) {
            return Err(refuse(format!("{host} is a private, loopback or link-local address")));
        }
        // Providers are reached by name (TLS certificates name hosts): an address is a way
        // around the host rules, not a configuration.
        return Err(refuse(format!("{host} is an IP address: give the provider's host name")));
    }
    check_public_name(bare)
}

/// Refuses a host name that only means something inside a network: a single label,
/// `localhost`, `*.internal`, `*.local`, ... (IP addresses are checked apart).
pub fn check_public_name(host: &str) -> Result<(), String> {
    let lower = host.trim_end_matches('.').to_ascii_lowercase();
    let local = ["localhost", "localdomain", "local", "internal", "home.arpa", "intranet", "lan"];
    if !lower.contains('.') || local.iter().any(|l| lower == *l || lower.ends_with(&format!(".{l}"))) {
        return Err(refuse(format!("{host} is not a public host name")));
    }
    Ok(())
}

/// Name lookups: the system resolver (`getaddrinfo`, which blocks) on a few threads of their
/// own, never the blocking threads database calls run on, each lookup bounded in time and the
/// queue bounded in length. A zone whose servers never answer holds these threads, not the
/// gateway's: lookups past the queue are refused at once.
mod dns {
    use std::net::{SocketAddr, ToSocketAddrs};
    use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
    use std::sync::{Arc, Mutex, OnceLock};
    use std::time::Duration;

    /// Threads resolving at once.
    pub const THREADS: usize = 4;
    /// Lookups waiting for a thread; more are refused.
    pub const QUEUE: usize = 64;
    /// The longest a lookup is waited for.
    pub const TIMEOUT: Duration = Duration::from_secs(5);

    type Answer = std::io::Result<Vec<SocketAddr>>;
    type Job = (String, u16, tokio::sync::oneshot::Sender<Answer>);

    fn pool() -> Option<&'static SyncSender<Job>> {
        static POOL: OnceLock<Option<SyncSender<Job>>> = OnceLock::new();
        POOL.get_or_init(|| {
            let (tx, rx) = sync_channel::<Job>(QUEUE);
            let rx: Arc<Mutex<Receiver<Job>>> = Arc::new(Mutex::new(rx));
            for i in 0..THREADS {
                let rx = rx.clone();
                let spawned = std::thread::Builder::new().name(format!("gateway-dns-{i}")).spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok((host, port, answer)) = job else { return };
                        let _ = answer.send((host.as_str(), port).to_socket_addrs().map(Iterator::collect));
                    }
                });
                if spawned.is_err() {
                    return None;
                }
            }
            Some(tx)
        })
        .as_ref()
    }

    /// Why a lookup gave no addresses.
    pub enum Failed {
        /// The resolver answered: the name does not resolve.
        Answered(std::io::Error),
        /// Too many lookups wait, or this one outlived its time.
        Busy(&'static str),
    }

    pub async fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, Failed> {
        let Some(pool) = pool() else { return Err(Failed::Busy("the gateway cannot start its name lookups")) };
        let (tx, rx) = tokio::sync::oneshot::channel();
        match pool.try_send((host.to_owned(), port, tx)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(Failed::Busy("the gateway's name lookups are all in use")),
            Err(TrySendError::Disconnected(_)) => return Err(Failed::Busy("the gateway's name lookups stopped")),
        }
        match tokio::time::timeout(TIMEOUT, rx).await {
            Ok(Ok(Ok(addrs))) => Ok(addrs),
            Ok(Ok(Err(e))) => Err(Failed::Answered(e)),
            Ok(Err(_)) => Err(Failed::Busy("the name lookup was lost")),
            Err(_) => Err(Failed::Busy("the name lookup took too long")),
        }
    }
}

/// Resolves a host name and refuses it when any address it resolves to is forbidden: a name
/// that can point inside is refused whole, not raced. The address is not named in the refusal
/// (it would tell a tenant what an inside name resolves to).
pub async fn resolve_public(host: &str, port: u16) -> Result<Vec<SocketAddr>, GuardError> {
    let addrs = match dns::lookup(host, port).await {
        Ok(addrs) => addrs,
        Err(dns::Failed::Answered(e)) => {
            return Err(GuardError::Unresolvable(format!("{host} does not resolve: {e}")));
        }
        Err(dns::Failed::Busy(why)) => {
            return Err(GuardError::Unresolvable(format!("{host} could not be looked up now ({why}): retry shortly")));
        }
    };
    if addrs.is_empty() {
        return Err(GuardError::Unresolvable(format!("{host} does not resolve")));
    }
    if addrs.iter().any(|a| is_forbidden_ip(a.ip())) {
        return Err(GuardError::Refused(format!("{host} resolves to a private, loopback or link-local address")));
    }
    Ok(addrs)
}

/// The host a host-bearing value names, for resolution.
fn host_of(value: &str, rule: HostRule) -> Option<String> {
    match rule {
        HostRule::PublicHttps => Url::parse(value.trim()).ok()?.host_str().map(str::to_owned),
        HostRule::Suffixes(_) => Some(value.trim().to_ascii_lowercase()),
    }
}

/// The network half of checking a connection's host-bearing fields (the shape was checked by
/// [`crate::CredentialSpec::validate`]): a name that resolves to a forbidden address is
/// refused naming the field; one that does not resolve now is a warning, not a refusal.
pub async fn check_host_fields(
    spec: &crate::CredentialSpec,
    credentials: &gateway_domain::JsonObject,
    allow_private: bool,
) -> Result<Vec<String>, gateway_domain::Problem> {
    let mut warnings = Vec::new();
    if allow_private {
        return Ok(warnings);
    }
    for field in spec.fields.iter().filter(|f| f.host.is_some()) {
        let (Some(rule), Some(value)) = (field.host, credentials.get(field.name).and_then(|v| v.as_str())) else {
            continue;
        };
        let Some(host) = host_of(value, rule) else { continue };
        if host.parse::<IpAddr>().is_ok() || host.starts_with('[') {
            continue; // literals were checked with the shape
        }
        match resolve_public(&host, 443).await {
            Ok(_) => {}
            Err(GuardError::Unresolvable(_)) => {
                warnings.push(format!(
                    "credentials.{}: {host} does not resolve now; calls will fail until it does",
                    field.name
                ));
            }
            Err(why) => {
                return Err(gateway_domain::Problem::wrong_field(
                    format!("credentials.{}", field.name),
                    format!("'{}' is refused: {why}", field.name),
                ));
            }
        }
    }
    Ok(warnings)
}

/// reqwest's resolver: every connection goes through [`resolve_public`].
#[derive(Debug, Clone)]
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let addrs = resolve_public(name.as_str(), 0)
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { Box::new(e) })?;
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Outbound settings, from the operator.
#[derive(Debug, Clone)]
pub struct OutboundSettings {
    /// Lifts the address and HTTPS rules: local peers in tests, on-premise providers.
    pub allow_private: bool,
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    /// The most a response body read through [`OutboundClient::read_body`] (or streamed to
    /// opendal) may hold.
    pub max_response_bytes: usize,
    /// `GATEWAY_PROVIDER_<NAME>_URL`: where to send a provider's calls instead of its real
    /// API, by name (a connection kind such as `S3`, or shared plumbing such as
    /// `GOOGLE_OAUTH`). Honoured only with `allow_private`: they exist for local peers.
    pub provider_urls: BTreeMap<String, String>,
    /// Follow redirects (at most 3, each target checked like the first). Off for webhook
    /// deliveries: a POST redirected would be re-sent elsewhere or turned into a GET.
    pub follow_redirects: bool,
}

impl Default for OutboundSettings {
    fn default() -> Self {
        OutboundSettings {
            allow_private: false,
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(15),
            max_response_bytes: 16 * 1024 * 1024,
            provider_urls: BTreeMap::new(),
            follow_redirects: true,
        }
    }
}

impl OutboundSettings {
    /// Points `name`'s calls at `url` (builder form, for tests and embedders).
    pub fn provider_url(mut self, name: impl Into<String>, url: impl Into<String>) -> Self {
        self.provider_urls.insert(name.into(), url.into());
        self
    }

    /// Every `GATEWAY_PROVIDER_<NAME>_URL` of an environment.
    pub fn provider_urls_from_env(vars: impl Iterator<Item = (String, String)>) -> BTreeMap<String, String> {
        vars.filter_map(|(k, v)| {
            let name = k.strip_prefix("GATEWAY_PROVIDER_")?.strip_suffix("_URL")?;
            (!name.is_empty() && !v.trim().is_empty()).then(|| (name.to_owned(), v.trim().to_owned()))
        })
        .collect()
    }
}

/// The guarded client. Cheap to clone; share one.
#[derive(Debug, Clone)]
pub struct OutboundClient {
    client: reqwest::Client,
    settings: Arc<OutboundSettings>,
}

fn check_url(url: &Url, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return match url.scheme() {
            "https" | "http" => Ok(()),
            other => Err(format!("scheme {other} is not allowed")),
        };
    }
    if url.scheme() != "https" {
        return Err(format!("{} is not https", url.scheme()));
    }
    match url.host() {
        Some(url::Host::Ipv4(ip)) if is_forbidden_ip(IpAddr::V4(ip)) => Err(format!("{ip} is a private address")),
        Some(url::Host::Ipv6(ip)) if is_forbidden_ip(IpAddr::V6(ip)) => Err(format!("{ip} is a private address")),
        Some(_) => Ok(()),
        None => Err("the URL names no host".into()),
    }
}

impl OutboundClient {
    pub fn new(settings: OutboundSettings) -> Result<OutboundClient, ConnectorError> {
        let allow_private = settings.allow_private;
        let redirects = if settings.follow_redirects {
            reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 3 {
                    return attempt.error("too many redirects");
                }
                // Credentials travel in headers reqwest keeps across hosts (`X-Shopify-Access-
                // Token`, `Api-Key`): a redirect leaves the origin it was sent to never.
                let first = attempt.previous().first().map(Url::origin);
                if first.is_some_and(|o| o != attempt.url().origin()) {
                    return attempt.error("redirect refused: to another origin");
                }
                match check_url(attempt.url(), allow_private) {
                    Ok(()) => attempt.follow(),
                    Err(why) => attempt.error(format!("redirect refused: {why}")),
                }
            })
        } else {
            reqwest::redirect::Policy::none()
        };
        let mut builder = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.total_timeout)
            .no_proxy()
            .redirect(redirects);
        if !allow_private {
            builder = builder.https_only(true).dns_resolver(Arc::new(GuardedResolver));
        }
        let client = builder
            .build()
            .map_err(|e| ConnectorError::new(ErrorKind::Unknown, format!("cannot build the HTTP client: {e}")))?;
        Ok(OutboundClient { client, settings: Arc::new(settings) })
    }

    pub fn settings(&self) -> &OutboundSettings {
        &self.settings
    }

    /// The operator's peer for `name` (`GATEWAY_PROVIDER_<NAME>_URL`), without a trailing
    /// slash; `None` unless private targets are allowed, so a production gateway always calls
    /// the real provider.
    pub fn provider_url(&self, name: &str) -> Option<&str> {
        if !self.settings.allow_private {
            return None;
        }
        self.settings.provider_urls.get(name).map(|u| u.trim_end_matches('/'))
    }

    /// Whether a URL may be called: the scheme and, for an IP literal, the address (names are
    /// checked by the resolver on every connection).
    pub fn check(&self, url: &Url) -> Result<(), ConnectorError> {
        let host = url.host_str().unwrap_or_default().to_owned();
        check_url(url, self.settings.allow_private).map_err(|why| {
            ConnectorError::new(ErrorKind::WrongSpecification, format!("refused to call {host}: {why}"))
                .with_source(GuardError::Refused(why))
        })
    }

    /// The reqwest client underneath, for libraries that take one as their transport
    /// (opendal). Its resolver, redirect policy, HTTPS rule and timeouts apply to every
    /// request they make; URLs with IP literals must have been checked by the caller, as
    /// credential validation does for host fields.
    pub fn http(&self) -> &reqwest::Client {
        &self.client
    }

    /// A request builder; send it with [`OutboundClient::send`].
    pub fn request(&self, method: reqwest::Method, url: Url) -> reqwest::RequestBuilder {
        self.client.request(method, url)
    }

    /// Sends a request after checking its URL. Failures come back classified: a refused
    /// target is `WrongSpecification`, a timeout `Timeout`, anything else on the way
    /// `Unavailable`. The message names the host, never a header or body.
    pub async fn send(&self, request: reqwest::Request) -> Result<reqwest::Response, ConnectorError> {
        let host = request.url().host_str().unwrap_or_default().to_owned();
        self.check(request.url())?;
        self.client.execute(request).await.map_err(|e| classify(&host, e))
    }

    /// Reads a body, failing past the size cap instead of holding an unbounded answer.
    pub async fn read_body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, ConnectorError> {
        let cap = self.settings.max_response_bytes;
        if response.content_length().is_some_and(|n| n > cap as u64) {
            return Err(too_big(cap));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify("the provider", e))? {
            if body.len() + chunk.len() > cap {
                return Err(too_big(cap));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn too_big(cap: usize) -> ConnectorError {
    ConnectorError::new(ErrorKind::Unavailable, format!("the provider's answer is larger than {cap} bytes"))
}

/// The guard's verdict inside an error's chain of causes, found by type.
pub fn guard_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a GuardError> {
    let mut source: Option<&'a (dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(g) = s.downcast_ref::<GuardError>() {
            return Some(g);
        }
        source = s.source();
    }
    None
}

/// A reqwest failure, classified; the cause is kept (without its URL, which may carry a
/// signed query) for the log.
pub fn classify(host: &str, e: reqwest::Error) -> ConnectorError {
    let e = e.without_url();
    let mapped = if e.is_timeout() {
        ConnectorError::new(ErrorKind::Timeout, format!("{host} did not answer in time"))
    } else {
        match guard_error(&e) {
            Some(GuardError::Refused(why)) => {
                ConnectorError::new(ErrorKind::WrongSpecification, format!("refused to call {host}: {why}"))
                    .temporary(false)
            }
            Some(GuardError::Unresolvable(_)) => ConnectorError::new(
                ErrorKind::Unavailable,
                format!("{host} does not resolve: check the region or endpoint (or the gateway's network)"),
            ),
            None if e.is_redirect() => ConnectorError::new(
                ErrorKind::WrongSpecification,
                format!("{host} redirected to a target that is not allowed"),
            ),
            None => ConnectorError::new(ErrorKind::Unavailable, format!("{host} could not be reached")),
        }
    };
    mapped.with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_addresses() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::7f00:1",
            "::127.0.0.1",
            "64:ff9b:1::808:808",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::",
            "2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo of 127.0.0.1
            "2001:db8::1",
            "198.18.0.1",
            "192.0.2.10",
            "203.0.113.5",
            "192.31.196.1",
            "192.52.193.1",
            "192.175.48.1",
            "3fff::1",
            "2001:2::1",
            "2001:10::1",
            "2001:20::1",
            "5f00::1",
            "::ffff:0:7f00:1",
            "::ffff:0:a9fe:a9fe",
        ] {
            assert!(is_forbidden_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "52.95.110.1",
            "100.63.0.1",
            "100.128.0.1",
            "172.32.0.1",
            "2600:1f18::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7", // Teredo of 8.8.8.8
        ] {
            assert!(!is_forbidden_ip(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn host_values_are_checked_for_shape() {
        let bad = [
            "https://127.0.0.1",
            "https://169.254.169.254",
            "https://[::1]",
            "https://localhost",
            "https://svc.internal",
            "https://evil.example@real-host.com",
            "https://user:pw@s3.example.com",
            "https://s3.example.com:8443",
            "https://s3.example.com/bucket",
            "https://s3.example.com/?x=1",
            "http://s3.example.com",
            "s3.example.com",
            "https://[::ffff:127.0.0.1]",
            "https://10.0.0.8",
            "ftp://s3.example.com",
            "https://intranet",
            "https://52.95.110.1",
            "https://[2600:1f18::1]",
        ];
        for v in bad {
            assert!(check_host_value(v, HostRule::PublicHttps).is_err(), "{v}");
        }
        assert_eq!(check_host_value("https://s3.eu-central-1.wasabisys.com", HostRule::PublicHttps), Ok(()));
        assert_eq!(check_host_value("https://storage.example.com/", HostRule::PublicHttps), Ok(()));

        let shop = HostRule::Suffixes(&[".myshopify.com"]);
        assert_eq!(check_host_value("my-shop.myshopify.com", shop), Ok(()));
        for v in [
            "myshopify.com",
            ".myshopify.com",
            "evil.com",
            "https://a.myshopify.com",
            "a.myshopify.com:443",
            "u@a.myshopify.com",
            "a.myshopify.com/x",
        ] {
            assert!(check_host_value(v, shop).is_err(), "{v}");
        }
    }

    #[test]
    fn urls_for_redirects_and_requests() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(check_url(&u("https://api.example.com/x"), false).is_ok());
        assert!(check_url(&u("http://api.example.com/x"), false).is_err());
        assert!(check_url(&u("https://169.254.169.254/latest/meta-data"), false).is_err());
        assert!(check_url(&u("https://[::ffff:7f00:1]/"), false).is_err());
        assert!(check_url(&u("http://127.0.0.1:9000/"), true).is_ok(), "the operator's allow_private");
        assert!(check_url(&u("file:///etc/passwd"), true).is_err());
    }

    #[tokio::test]
    async fn a_name_resolving_inside_is_refused() {
        let err = resolve_public("localhost", 443).await.unwrap_err();
        assert!(matches!(&err, GuardError::Refused(why) if why.contains("private, loopback or link-local")), "{err}");
    }

    /// The client refuses before connecting: a listener on loopback sees nothing.
    #[tokio::test]
    async fn no_connection_is_attempted_to_a_forbidden_target() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = OutboundClient::new(OutboundSettings::default()).unwrap();
        for target in [
            format!("https://localhost:{port}/"),
            format!("https://127.0.0.1:{port}/"),
            format!("http://127.0.0.1:{port}/"),
            format!("https://[::ffff:127.0.0.1]:{port}/"),
        ] {
            let req = client.request(reqwest::Method::GET, Url::parse(&target).unwrap()).build().unwrap();
            let err = client.send(req).await.unwrap_err();
            assert_eq!(err.kind, ErrorKind::WrongSpecification, "{target}: {err}");
        }
        let accepted = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
        assert!(accepted.is_err(), "a connection reached the loopback listener");
    }

    /// A provider answering 302 to another origin: the credential header is not sent there
    /// (no connection reaches it); a redirect within the origin is followed.
    #[tokio::test]
    async fn redirects_never_leave_the_origin() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let other = elsewhere.local_addr().unwrap().port();
        let provider = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = provider.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = provider.accept().await.unwrap();
                let mut buf = [0u8; 2048];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let answer = if head.starts_with("GET /away") {
                    format!(
                        "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{other}/steal\r\ncontent-length: 0\r\n\r\n"
                    )
                } else if head.starts_with("GET /moved") {
                    "HTTP/1.1 302 Found\r\nlocation: /here\r\ncontent-length: 0\r\n\r\n".to_owned()
                } else {
                    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_owned()
                };
                let _ = s.write_all(answer.as_bytes()).await;
            }
        });
        let client =
            OutboundClient::new(OutboundSettings { allow_private: true, ..OutboundSettings::default() }).unwrap();
        let get = |path: &str| {
            client
                .request(reqwest::Method::GET, Url::parse(&format!("http://127.0.0.1:{port}{path}")).unwrap())
                .header("x-shopify-access-token", "shpat_secret")
                .build()
                .unwrap()
        };
        let err = client.send(get("/away")).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::WrongSpecification, "{err}");
        let reached = tokio::time::timeout(Duration::from_millis(300), elsewhere.accept()).await;
        assert!(reached.is_err(), "the other origin was reached");
        let res = client.send(get("/moved")).await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "within the origin, followed");
    }

    #[tokio::test]
    async fn allow_private_reaches_local_peers_and_caps_bodies() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            for _ in 0..2 {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let body = "x".repeat(2048);
                let _ = s
                    .write_all(
                        format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
                            .as_bytes(),
                    )
                    .await;
            }
        });
        let settings =
            OutboundSettings { allow_private: true, max_response_bytes: 4096, ..OutboundSettings::default() };
        let client = OutboundClient::new(settings).unwrap();
        let url = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let res = client.send(client.request(reqwest::Method::GET, url.clone()).build().unwrap()).await.unwrap();
        assert_eq!(client.read_body(res).await.unwrap().len(), 2048);
        let small = OutboundClient::new(OutboundSettings {
            allow_private: true,
            max_response_bytes: 100,
            ..OutboundSettings::default()
        })
        .unwrap();
        let res = small.send(small.request(reqwest::Method::GET, url).build().unwrap()).await.unwrap();
        assert!(small.read_body(res).await.unwrap_err().message.contains("larger than 100 bytes"));
    }
}

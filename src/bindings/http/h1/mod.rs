//! Our own HTTP/1.1 client for plain `http://` URLs: the load path, where the client's cost per
//! request is the generator's cost (docs/benchmarks.md, section 1). Written from RFC 9112 (message
//! syntax, framing, persistence) and RFC 9110 (redirects). One request at a time per connection (no
//! pipelining); idle connections are kept per `host:port` on the worker thread that made them, as the
//! reqwest client before it kept them, with no limit. `https://` and URLs with credentials go to
//! reqwest (client.rs), and so does a redirect to one of those.
//!
//! What reqwest did on this path and this client does too: `accept: */*` unless the script sets an
//! `accept`, `host` from the URL, `content-length` for a body, redirects followed (at most 10; 301,
//! 302 and 303 turn a POST into a GET without body, 307 and 308 keep both; credentials and cookies
//! dropped when the host changes), a stale keep-alive connection retried once on a new one. An idle
//! connection is probed (a non-blocking read) before reuse once it has been idle for a second, so a
//! server's idle timeout does not turn into a failed POST.

use super::client::{Request, Response};
use crate::metrics::{ErrorKind, OpError};
use bytes::BytesMut;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// The largest response head accepted (status line and headers).
const MAX_HEAD: usize = 64 * 1024;
/// The most headers in one response.
const MAX_HEADERS: usize = 128;
pub const MAX_REDIRECTS: usize = 10;
/// An idle connection older than this is closed, not reused: servers close idle keep-alive
/// connections after some time (nginx 75 s, Netty and Jetty about 30-60 s).
const IDLE_MAX: Duration = Duration::from_secs(25);
/// An idle connection older than this is probed before it is reused: a server that closed it
/// (many do after a few seconds idle) is seen before a request is written into it.
const PROBE_AFTER: Duration = Duration::from_secs(1);
/// What a read asks the kernel for, at least.
const READ_CHUNK: usize = 16 * 1024;
/// A connection's buffer grown past this by a large answer is not kept in the pool.
const BUF_KEEP_MAX: usize = 256 * 1024;
/// URLs kept parsed per thread.
const TARGETS_MAX: usize = 4096;

/// Idle connections to one `host:port`.
type Pool = RefCell<Vec<Conn>>;

/// Where a URL points, parsed once per thread.
pub struct Target {
    /// `host:port`, to connect to (IPv6 in brackets).
    addr: String,
    /// The `host` header: the host, and the port unless it is 80.
    host: String,
    /// The request target: path and query.
    path: String,
    pool: Rc<Pool>,
}

struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    idle_since: Instant,
}

thread_local! {
    static TARGETS: RefCell<HashMap<String, Rc<Target>>> = RefCell::new(HashMap::new());
    static POOLS: RefCell<HashMap<String, Rc<Pool>>> = RefCell::new(HashMap::new());
}

/// Closes this thread's idle connections and forgets its parsed URLs (tests).
#[cfg(test)]
fn forget_connections() {
    TARGETS.with(|c| c.borrow_mut().clear());
    POOLS.with(|p| p.borrow_mut().clear());
}

/// The target of `url` if this client takes it (`http://`, no credentials), `None` if reqwest
/// should, or the reason it is not a URL.
pub fn target(url: &str) -> Result<Option<Rc<Target>>, OpError> {
    if !url.starts_with("http://") {
        return Ok(None);
    }
    if let Some(t) = TARGETS.with(|c| c.borrow().get(url).cloned()) {
        return Ok(Some(t));
    }
    // (a URL with credentials goes to reqwest: the messages after this one never show one)
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        let url = super::client::shown_url(url);
        OpError::new(ErrorKind::Client, format!("bad URL {url}: {e}"))
    })?;
    let Some(t) = target_of(&parsed) else {
        return Ok(None);
    };
    TARGETS.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= TARGETS_MAX {
            c.clear();
        }
        c.insert(url.to_string(), t.clone());
    });
    Ok(Some(t))
}

fn target_of(url: &reqwest::Url) -> Option<Rc<Target>> {
    if url.scheme() != "http" || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    let addr = format!("{host}:{port}");
    let pool = POOLS.with(|p| p.borrow_mut().entry(addr.clone()).or_default().clone());
    let mut path = url.path().to_string();
    if let Some(q) = url.query() {
        path.push('?');
        path.push_str(q);
    }
    Some(Rc::new(Target {
        addr,
        host: match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        },
        path,
        pool,
    }))
}

/// Why an exchange failed: with `stale`, nothing was received on a reused connection, so the
/// request may be sent again on a new one.
struct Failure {
    kind: ErrorKind,
    what: String,
    stale: bool,
}

impl Failure {
    fn new(kind: ErrorKind, what: impl Into<String>) -> Failure {
        Failure {
            kind,
            what: what.into(),
            stale: false,
        }
    }
}

/// One request and its answer, redirects not followed (see [`follow`]).
pub async fn exchange(t: &Target, req: &Request) -> Result<Response, OpError> {
    let wire = encode(t, req)?;
    let head_only = req.method == reqwest::Method::HEAD;
    let idempotent = matches!(
        req.method,
        reqwest::Method::GET
            | reqwest::Method::HEAD
            | reqwest::Method::PUT
            | reqwest::Method::DELETE
            | reqwest::Method::OPTIONS
            | reqwest::Method::TRACE
    );
    let fail = |f: Failure| OpError::new(f.kind, format!("{} {}: {}", req.method, req.url, f.what));
    let (mut conn, mut reused) = match take(t) {
        Some(c) => (c, true),
        None => (connect(t).await.map_err(fail)?, false),
    };
    loop {
        match round_trip(&mut conn, &wire, head_only).await {
            Ok((resp, keep)) => {
                if keep && !closes(req) {
                    conn.idle_since = Instant::now();
                    if conn.buf.capacity() > BUF_KEEP_MAX {
                        conn.buf = BytesMut::with_capacity(READ_CHUNK);
                    }
                    let mut pool = t.pool.borrow_mut();
                    // the oldest idle connection, if expired, goes (one a request: reaped over time)
                    if pool
                        .first()
                        .is_some_and(|c| c.idle_since.elapsed() >= IDLE_MAX)
                    {
                        pool.remove(0);
                    }
                    pool.push(conn);
                }
                return Ok(resp);
            }
            // A reused connection the server had closed: once more on a new one.
            Err((f, written)) if f.stale && reused && (idempotent || !written) => {
                conn = connect(t).await.map_err(fail)?;
                reused = false;
            }
            Err((f, _)) => return Err(fail(f)),
        }
    }
}

/// The redirect `resp` asks for, if any: the request to send next.
pub fn redirect(req: &Request, resp: &Response) -> Result<Option<Request>, OpError> {
    if !matches!(resp.status, 301 | 302 | 303 | 307 | 308) {
        return Ok(None);
    }
    let Some(location) = resp.headers.get("location") else {
        return Ok(None);
    };
    let base = reqwest::Url::parse(&req.url)
        .map_err(|e| OpError::new(ErrorKind::Client, format!("bad URL {}: {e}", req.url)))?;
    // a location that is not a URL: the 3xx answer is the answer, as reqwest returned it
    let Ok(next) = base.join(&location) else {
        return Ok(None);
    };
    let mut method = req.method.clone();
    let mut body = req.body.clone();
    let mut headers = req.headers.clone();
    let to_get = match resp.status {
        303 => method != reqwest::Method::HEAD,
        301 | 302 => method == reqwest::Method::POST,
        _ => false,
    };
    if to_get {
        method = reqwest::Method::GET;
        body = None;
        headers.retain(|(k, _)| {
            ![
                "content-type",
                "content-length",
                "content-encoding",
                "transfer-encoding",
            ]
            .iter()
            .any(|s| k.eq_ignore_ascii_case(s))
        });
    }
    if next.scheme() != base.scheme()
        || next.host_str() != base.host_str()
        || next.port_or_known_default() != base.port_or_known_default()
    {
        headers.retain(|(k, _)| {
            ![
                "authorization",
                "cookie",
                "cookie2",
                "proxy-authorization",
                "www-authenticate",
            ]
            .iter()
            .any(|s| k.eq_ignore_ascii_case(s))
        });
    }
    Ok(Some(Request {
        method,
        url: next.to_string(),
        headers,
        body,
        timeout: req.timeout,
    }))
}

fn take(t: &Target) -> Option<Conn> {
    let mut pool = t.pool.borrow_mut();
    while let Some(c) = pool.pop() {
        let idle = c.idle_since.elapsed();
        if idle < PROBE_AFTER || (idle < IDLE_MAX && still_open(&c)) {
            return Some(c);
        }
    }
    None
}

/// Whether an idle connection is still open: a read that would block says so; an end of stream,
/// bytes nobody asked for or an error say it is not.
fn still_open(c: &Conn) -> bool {
    let mut b = [0u8; 1];
    matches!(c.stream.try_read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// Whether the request asks the server to close the connection after its answer.
fn closes(req: &Request) -> bool {
    req.headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("connection")
            && v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"))
    })
}

async fn connect(t: &Target) -> Result<Conn, Failure> {
    let stream = TcpStream::connect(&t.addr)
        .await
        .map_err(|e| Failure::new(ErrorKind::Connect, format!("connecting to {}: {e}", t.addr)))?;
    stream.set_nodelay(true).ok();
    Ok(Conn {
        stream,
        buf: BytesMut::with_capacity(READ_CHUNK),
        idle_since: Instant::now(),
    })
}

fn valid_name(k: &str) -> bool {
    // RFC 9110 5.1: a token.
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn valid_value(v: &str) -> bool {
    // RFC 9110 5.5: visible characters, spaces and tabs (no CR or LF, which would end the header or
    // the head early; no other control character, as reqwest refused them too).
    v.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// The request as bytes on the wire.
fn encode(t: &Target, req: &Request) -> Result<Vec<u8>, OpError> {
    let body = req.body.as_deref().unwrap_or_default();
    let mut w =
        Vec::with_capacity(64 + t.path.len() + t.host.len() + 64 * req.headers.len() + body.len());
    w.extend_from_slice(req.method.as_str().as_bytes());
    w.push(b' ');
    w.extend_from_slice(t.path.as_bytes());
    w.extend_from_slice(b" HTTP/1.1\r\n");
    let (mut host, mut accept, mut length) = (false, false, false);
    let bad = |why: String| {
        OpError::new(
            ErrorKind::Client,
            format!("{} {}: {why}", req.method, req.url),
        )
    };
    for (k, v) in &req.headers {
        if !valid_name(k) || !valid_value(v) {
            return Err(bad(format!(
                "invalid header {k:?} (a name must be a token, a value must not hold control characters)"
            )));
        }
        host |= k.eq_ignore_ascii_case("host");
        accept |= k.eq_ignore_ascii_case("accept");
        if k.eq_ignore_ascii_case("transfer-encoding") {
            // the body is sent whole, with its length: a script's framing would put the
            // connection out of step
            return Err(bad(
                "the header transfer-encoding is the client's to set, not the script's".into(),
            ));
        }
        if k.eq_ignore_ascii_case("content-length") {
            if v.trim().parse::<usize>().ok() != Some(body.len()) {
                return Err(bad(format!(
                    "the header content-length: {v} is not the body's length, {}",
                    body.len()
                )));
            }
            length = true;
        }
    }
    if !accept {
        w.extend_from_slice(b"accept: */*\r\n");
    }
    if !host {
        w.extend_from_slice(b"host: ");
        w.extend_from_slice(t.host.as_bytes());
        w.extend_from_slice(b"\r\n");
    }
    for (k, v) in &req.headers {
        // lower case, as reqwest sent them
        w.extend(k.bytes().map(|b| b.to_ascii_lowercase()));
        w.extend_from_slice(b": ");
        w.extend_from_slice(v.as_bytes());
        w.extend_from_slice(b"\r\n");
    }
    let wants_length = req.body.is_some()
        || matches!(
            req.method,
            reqwest::Method::POST | reqwest::Method::PUT | reqwest::Method::PATCH
        );
    if wants_length && !length {
        w.extend_from_slice(b"content-length: ");
        w.extend_from_slice(body.len().to_string().as_bytes());
        w.extend_from_slice(b"\r\n");
    }
    w.extend_from_slice(b"\r\n");
    w.extend_from_slice(body);
    Ok(w)
}

/// How the body of an answer is framed (RFC 9112 6.3).
mod wire;
pub use wire::head_fields;
use wire::round_trip;

#[cfg(test)]
mod tests;

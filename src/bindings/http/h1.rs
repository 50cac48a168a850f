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

use super::client::{Headers, Request, Response};
use crate::metrics::{ErrorKind, OpError};
use bytes::{Bytes, BytesMut};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

/// The target of `url` if this client takes it (`http://`, no credentials), `None` if reqwest
/// should, or the reason it is not a URL.
pub fn target(url: &str) -> Result<Option<Rc<Target>>, OpError> {
    if !url.starts_with("http://") {
        return Ok(None);
    }
    if let Some(t) = TARGETS.with(|c| c.borrow().get(url).cloned()) {
        return Ok(Some(t));
    }
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| OpError::new(ErrorKind::Client, format!("bad URL {url}: {e}")))?;
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
enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

/// Sends `wire` and reads the answer. `Ok` holds the answer and whether the connection may be
/// used again; `Err` the failure and whether the request was written.
async fn round_trip(
    conn: &mut Conn,
    wire: &[u8],
    head_only: bool,
) -> Result<(Response, bool), (Failure, bool)> {
    let io = |what: &str, e: std::io::Error, stale: bool| Failure {
        kind: ErrorKind::Protocol,
        what: format!("{what}: {e}"),
        stale,
    };
    // Anything left from before is not part of this answer: the connection is out of step.
    if !conn.buf.is_empty() {
        return Err((
            Failure {
                kind: ErrorKind::Protocol,
                what: "the server sent bytes nobody asked for".into(),
                stale: true,
            },
            false,
        ));
    }
    if let Err(e) = conn.stream.write_all(wire).await {
        return Err((io("sending the request", e, true), false));
    }
    // The head, skipping any 1xx interim answer.
    let (status, head, framing, keep) = loop {
        let parsed = {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut r = httparse::Response::new(&mut headers);
            match r.parse(&conn.buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let status = r.code.unwrap_or(0);
                    Some((n, status, framing_of(&r, head_only).map_err(|f| (f, true))?))
                }
                Ok(httparse::Status::Partial) => None,
                Err(e) => {
                    return Err((
                        Failure::new(ErrorKind::Protocol, format!("a malformed answer head: {e}")),
                        true,
                    ))
                }
            }
        };
        match parsed {
            Some((n, status, _)) if (100..200).contains(&status) && status != 101 => {
                let _ = conn.buf.split_to(n);
            }
            Some((n, status, (framing, keep))) => {
                let head = conn.buf.split_to(n).to_vec();
                break (status, head, framing, keep);
            }
            None => {
                if conn.buf.len() > MAX_HEAD {
                    return Err((
                        Failure::new(
                            ErrorKind::Protocol,
                            format!("the answer's head is over {MAX_HEAD} bytes"),
                        ),
                        true,
                    ));
                }
                let nothing_yet = conn.buf.is_empty();
                match read_more(conn).await {
                    Ok(0) => {
                        return Err((
                            Failure {
                                kind: ErrorKind::Protocol,
                                what: "the server closed the connection before answering".into(),
                                stale: nothing_yet,
                            },
                            true,
                        ))
                    }
                    Ok(_) => {}
                    Err(e) => return Err((io("reading the answer", e, nothing_yet), true)),
                }
            }
        }
    };
    let keep = keep && !matches!(framing, Framing::UntilClose);
    let body = read_body(conn, framing).await.map_err(|f| (f, true))?;
    Ok((
        Response {
            status,
            headers: Headers::Head(head),
            body,
        },
        keep,
    ))
}

/// Framing and persistence from a parsed head (RFC 9112 6.3 and 9.3).
fn framing_of(r: &httparse::Response, head_only: bool) -> Result<(Framing, bool), Failure> {
    let status = r.code.unwrap_or(0);
    let http11 = r.version == Some(1);
    let (mut close, mut keep_alive) = (false, false);
    // Some(whether chunked is the last coding) when the answer has a transfer-encoding
    let mut coding: Option<bool> = None;
    let mut length: Option<usize> = None;
    let bad_length = |v: &[u8]| {
        Failure::new(
            ErrorKind::Protocol,
            format!("a bad content-length: {:?}", String::from_utf8_lossy(v)),
        )
    };
    for h in r.headers.iter() {
        if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|b| *b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // chunked must be the last coding (RFC 9112 6.3, 4.)
            let last = h.value.rsplit(|b| *b == b',').next().unwrap_or_default();
            coding = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("content-length") {
            // digits only; a list of one value repeated is that value (RFC 9110 8.6)
            for v in h.value.split(|b| *b == b',') {
                let v = v.trim_ascii();
                if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
                    return Err(bad_length(h.value));
                }
                let n = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse::<usize>().ok())
                    .ok_or_else(|| bad_length(h.value))?;
                if length.is_some_and(|l| l != n) {
                    return Err(Failure::new(
                        ErrorKind::Protocol,
                        "two different content-length values",
                    ));
                }
                length = Some(n);
            }
        }
    }
    // HTTP/1.1 persists unless told to close; HTTP/1.0 only when asked to keep alive.
    let mut keep = !close && (http11 || keep_alive);
    let framing = if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::None
    } else if let Some(chunked) = coding {
        // with a transfer-encoding the length is ignored; both at once may be an attack on the
        // framing, so the connection is not used again (RFC 9112 6.1)
        if length.is_some() {
            keep = false;
        }
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    // after 101 the connection speaks another protocol
    if status == 101 {
        keep = false;
    }
    Ok((framing, keep))
}

async fn read_more(conn: &mut Conn) -> std::io::Result<usize> {
    if conn.buf.capacity() - conn.buf.len() < READ_CHUNK / 2 {
        conn.buf.reserve(READ_CHUNK);
    }
    conn.stream.read_buf(&mut conn.buf).await
}

fn cut_short(what: &str) -> Failure {
    Failure::new(
        ErrorKind::Protocol,
        format!("the server closed the connection in the middle of the {what}"),
    )
}

async fn read_body(conn: &mut Conn, framing: Framing) -> Result<Bytes, Failure> {
    let io =
        |e: std::io::Error| Failure::new(ErrorKind::Protocol, format!("reading the body: {e}"));
    match framing {
        Framing::None => Ok(Bytes::new()),
        Framing::Length(n) => {
            if conn.buf.len() < n {
                // a length is a claim: room for at most 4 MiB before the bytes arrive
                conn.buf.reserve((n - conn.buf.len()).min(4 << 20));
            }
            while conn.buf.len() < n {
                if read_more(conn).await.map_err(io)? == 0 {
                    return Err(cut_short("body"));
                }
            }
            Ok(conn.buf.split_to(n).freeze())
        }
        Framing::UntilClose => {
            while read_more(conn).await.map_err(io)? > 0 {}
            Ok(conn.buf.split().freeze())
        }
        Framing::Chunked => {
            let mut body = BytesMut::new();
            loop {
                let (used, size) = loop {
                    match httparse::parse_chunk_size(&conn.buf) {
                        Ok(httparse::Status::Complete(c)) => break c,
                        Ok(httparse::Status::Partial) => {
                            if conn.buf.len() > MAX_HEAD {
                                return Err(Failure::new(
                                    ErrorKind::Protocol,
                                    "a chunk size line is too long",
                                ));
                            }
                            if read_more(conn).await.map_err(io)? == 0 {
                                return Err(cut_short("chunked body"));
                            }
                        }
                        Err(_) => {
                            return Err(Failure::new(ErrorKind::Protocol, "a malformed chunk size"))
                        }
                    }
                };
                let _ = conn.buf.split_to(used);
                if size == 0 {
                    break;
                }
                let size = usize::try_from(size)
                    .ok()
                    .filter(|s| *s <= 1 << 30)
                    .ok_or_else(|| Failure::new(ErrorKind::Protocol, "a chunk too large"))?;
                // the chunk, then its CRLF
                while conn.buf.len() < size + 2 {
                    if read_more(conn).await.map_err(io)? == 0 {
                        return Err(cut_short("chunked body"));
                    }
                }
                body.extend_from_slice(&conn.buf[..size]);
                if &conn.buf[size..size + 2] != b"\r\n" {
                    return Err(Failure::new(
                        ErrorKind::Protocol,
                        "a chunk not ended by CRLF",
                    ));
                }
                let _ = conn.buf.split_to(size + 2);
            }
            // Trailer fields, up to an empty line.
            loop {
                match conn.buf.windows(2).position(|w| w == b"\r\n") {
                    Some(0) => {
                        let _ = conn.buf.split_to(2);
                        break;
                    }
                    Some(p) => {
                        let _ = conn.buf.split_to(p + 2);
                    }
                    None => {
                        if conn.buf.len() > MAX_HEAD {
                            return Err(Failure::new(ErrorKind::Protocol, "trailers too long"));
                        }
                        if read_more(conn).await.map_err(io)? == 0 {
                            return Err(cut_short("trailers"));
                        }
                    }
                }
            }
            Ok(body.freeze())
        }
    }
}

/// The header fields of a head received by this client: `(name in lower case, value)`, in order.
pub fn head_fields(head: &[u8]) -> Vec<(String, String)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Response::new(&mut headers);
    if r.parse(head).is_err() {
        return Vec::new();
    }
    r.headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::client::{send, Request};
    use crate::metrics::ErrorKind;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// A scripted server: for each connection in `conns`, accept it, then for each answer read one
    /// request (head and content-length body), keep it, and write the answer; then close it.
    fn serve(conns: Vec<Vec<&'static [u8]>>) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        std::thread::spawn(move || {
            for answers in conns {
                let (mut c, _) = l.accept().unwrap();
                for a in answers {
                    let mut req = Vec::new();
                    let mut b = [0u8; 1];
                    while !req.ends_with(b"\r\n\r\n") {
                        if c.read(&mut b).unwrap_or(0) == 0 {
                            return;
                        }
                        req.push(b[0]);
                    }
                    let text = String::from_utf8_lossy(&req).into_owned();
                    let len = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map_or(0, |n| n.trim().parse::<usize>().unwrap());
                    let mut body = vec![0u8; len];
                    c.read_exact(&mut body).unwrap();
                    s.lock()
                        .unwrap()
                        .push(text + &String::from_utf8_lossy(&body));
                    c.write_all(a).unwrap();
                }
            }
        });
        (addr, seen)
    }

    fn get(url: String) -> Request {
        Request {
            method: reqwest::Method::GET,
            url,
            headers: Vec::new(),
            body: None,
            timeout: Duration::from_secs(5),
        }
    }

    async fn ok(req: Request) -> super::Response {
        let (r, _) = send(req).await;
        r.unwrap()
    }

    #[tokio::test]
    async fn keep_alive_requests_share_one_connection_and_send_what_reqwest_sent() {
        const A: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\n\r\nhello";
        // one connection only: a second connect would never be accepted
        let (addr, seen) = serve(vec![vec![A, A, A]]);
        for _ in 0..3 {
            let r = ok(get(format!("http://{addr}/a?x=1"))).await;
            assert_eq!((r.status, &r.body[..]), (200, &b"hello"[..]));
            assert_eq!(r.headers.get("x-a").as_deref(), Some("1"));
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        assert_eq!(
            seen[0],
            format!("GET /a?x=1 HTTP/1.1\r\naccept: */*\r\nhost: {addr}\r\n\r\n")
        );
    }

    #[tokio::test]
    async fn a_post_sends_its_body_with_its_length_and_the_scripts_headers() {
        const A: &[u8] = b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n";
        let (addr, seen) = serve(vec![vec![A]]);
        let mut req = get(format!("http://{addr}/p"));
        req.method = reqwest::Method::POST;
        req.body = Some(b"{\"a\":1}".to_vec());
        req.headers = vec![("content-type".into(), "application/json".into())];
        assert_eq!(ok(req).await.status, 201);
        assert_eq!(
            seen.lock().unwrap()[0],
            format!("POST /p HTTP/1.1\r\naccept: */*\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: 7\r\n\r\n{{\"a\":1}}")
        );
    }

    #[tokio::test]
    async fn chunked_bodies_with_extensions_and_trailers_are_put_together() {
        const A: &[u8] = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nx-trailer: t\r\n\r\n";
        const B: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        let (addr, _) = serve(vec![vec![A, B]]);
        let r = ok(get(format!("http://{addr}/c"))).await;
        assert_eq!(&r.body[..], b"Wikipedia in\r\n\r\nchunks.");
        // the connection is in step after the trailers: the next answer reads right
        assert_eq!(&ok(get(format!("http://{addr}/c"))).await.body[..], b"ok");
    }

    #[tokio::test]
    async fn a_body_without_length_ends_with_the_connection_which_is_not_reused() {
        const A: &[u8] = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end";
        let (addr, _) = serve(vec![vec![A], vec![A]]);
        for _ in 0..2 {
            assert_eq!(
                &ok(get(format!("http://{addr}/u"))).await.body[..],
                b"until the end"
            );
        }
    }

    #[tokio::test]
    async fn a_keep_alive_connection_the_server_closed_is_retried_once_on_a_new_one() {
        const A: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n1";
        // the first connection answers once and is closed by the server, without saying so
        let (addr, seen) = serve(vec![vec![A], vec![A]]);
        ok(get(format!("http://{addr}/s"))).await;
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(&ok(get(format!("http://{addr}/s"))).await.body[..], b"1");
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn an_idle_connection_the_server_closed_is_not_reused_even_for_a_post() {
        const A: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n1";
        // the server closes the first connection after one answer, as an idle timeout would
        let (addr, seen) = serve(vec![vec![A], vec![A]]);
        ok(get(format!("http://{addr}/i"))).await;
        // idle past PROBE_AFTER: the probe sees the end of stream; a POST written into the dead
        // connection would not be retried (not idempotent) and would fail
        tokio::time::sleep(super::PROBE_AFTER + Duration::from_millis(200)).await;
        let mut post = get(format!("http://{addr}/i"));
        post.method = reqwest::Method::POST;
        post.body = Some(b"p".to_vec());
        assert_eq!(&ok(post).await.body[..], b"1");
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn http_1_0_answers_and_connection_close_requests_are_not_kept() {
        const A: &[u8] = b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok";
        const B: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        // three connections: a 1.0 answer closes, so does a request sent with connection: close
        let (addr, seen) = serve(vec![vec![A], vec![B], vec![B]]);
        ok(get(format!("http://{addr}/a"))).await;
        let mut req = get(format!("http://{addr}/b"));
        req.headers = vec![("Connection".into(), "close".into())];
        ok(req).await;
        ok(get(format!("http://{addr}/c"))).await;
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        assert!(seen[1].contains("\r\nconnection: close\r\n"), "{}", seen[1]);
    }

    #[tokio::test]
    async fn a_scripts_framing_headers_are_refused_and_a_huge_timeout_is_no_limit() {
        const A: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        let (addr, _) = serve(vec![vec![A]]);
        let mut req = get(format!("http://{addr}/f"));
        req.method = reqwest::Method::POST;
        req.body = Some(b"abc".to_vec());
        req.headers = vec![("content-length".into(), "10".into())];
        let e = send(req.clone()).await.0.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Client, "{}", e.message);
        assert!(
            e.message.contains("not the body's length, 3"),
            "{}",
            e.message
        );
        req.headers = vec![("transfer-encoding".into(), "chunked".into())];
        let e = send(req.clone()).await.0.unwrap_err();
        assert!(e.message.contains("transfer-encoding"), "{}", e.message);
        // the right length is accepted; a timeout of math.maxinteger seconds does not overflow
        req.headers = vec![("content-length".into(), "3".into())];
        req.timeout = Duration::from_secs(i64::MAX as u64);
        assert_eq!(ok(req).await.status, 200);
    }

    #[tokio::test]
    async fn redirects_are_followed_as_reqwest_did() {
        const R302: &[u8] = b"HTTP/1.1 302 Found\r\nlocation: /next\r\ncontent-length: 0\r\n\r\n";
        const R307: &[u8] =
            b"HTTP/1.1 307 Temporary Redirect\r\nlocation: /kept\r\ncontent-length: 0\r\n\r\n";
        const A: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone";
        let (addr, seen) = serve(vec![vec![R302, A, R307, A]]);
        let mut req = get(format!("http://{addr}/first"));
        req.method = reqwest::Method::POST;
        req.body = Some(b"x".to_vec());
        let r = ok(req.clone()).await;
        assert_eq!((r.status, &r.body[..]), (200, &b"done"[..]));
        let r = ok(req).await;
        assert_eq!((r.status, &r.body[..]), (200, &b"done"[..]));
        let seen = seen.lock().unwrap();
        // 302: a POST becomes a GET without body; 307: the POST and its body are kept
        assert!(seen[1].starts_with("GET /next "), "{}", seen[1]);
        assert!(!seen[1].contains("content-length"), "{}", seen[1]);
        assert!(seen[3].starts_with("POST /kept "), "{}", seen[3]);
        assert!(seen[3].ends_with("\r\n\r\nx"), "{}", seen[3]);
    }

    #[tokio::test]
    async fn more_than_ten_redirects_is_a_protocol_error() {
        const R: &[u8] = b"HTTP/1.1 301 Moved\r\nlocation: /again\r\ncontent-length: 0\r\n\r\n";
        let (addr, seen) = serve(vec![vec![R; 11]]);
        let (r, _) = send(get(format!("http://{addr}/loop"))).await;
        let e = r.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol);
        assert!(
            e.message.contains("more than 10 redirects"),
            "{}",
            e.message
        );
        assert_eq!(seen.lock().unwrap().len(), 11);
    }

    #[tokio::test]
    async fn head_answers_have_no_body_and_keep_the_connection() {
        const H: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n";
        const A: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        let (addr, _) = serve(vec![vec![H, A]]);
        let mut req = get(format!("http://{addr}/h"));
        req.method = reqwest::Method::HEAD;
        assert!(ok(req).await.body.is_empty());
        assert_eq!(&ok(get(format!("http://{addr}/h"))).await.body[..], b"ok");
    }

    #[tokio::test]
    async fn garbage_is_a_protocol_error_and_bad_headers_a_client_error() {
        const G: &[u8] = b"SSH-2.0-OpenSSH\r\n\r\n";
        let (addr, _) = serve(vec![vec![G]]);
        let (r, _) = send(get(format!("http://{addr}/g"))).await;
        let e = r.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Protocol, "{}", e.message);
        assert!(e.message.contains("malformed"), "{}", e.message);
        let mut req = get(format!("http://{addr}/g"));
        req.headers = vec![("x-a".into(), "1\r\nx-injected: 2".into())];
        let e = send(req).await.0.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Client, "{}", e.message);
        assert!(
            e.message.contains("invalid header \"x-a\""),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_a_timeout() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let mut req = get(format!("http://{addr}/never"));
        req.timeout = Duration::from_millis(200);
        let t = std::time::Instant::now();
        let e = send(req).await.0.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Timeout, "{}", e.message);
        assert!(t.elapsed() < Duration::from_secs(2));
        drop(l);
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connect_error() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = send(get(format!("http://127.0.0.1:{port}/")))
            .await
            .0
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Connect, "{}", e.message);
    }
}

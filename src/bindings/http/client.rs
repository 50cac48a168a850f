//! The HTTP client: plain Rust, no Lua. `http://` goes through our own HTTP/1.1 client (h1/), the
//! rest through reqwest. Both keep their connections per worker thread, so that pooled connections
//! live on the runtime that drives them (a connection made on another thread's current-thread
//! runtime would stall when that runtime is idle).

use crate::metrics::recorder::Units;
use crate::metrics::{ErrorKind, OpError};
use std::cell::RefCell;
use std::time::Duration;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Request {
    pub method: reqwest::Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub timeout: Duration,
}

/// An answer as the client got it: the headers and body are moved out of the client, not copied
/// (a script that never reads `r.headers` never pays for turning them into Lua strings).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Headers,
    pub body: bytes::Bytes,
}

/// Response headers: reqwest's map, or the head as our HTTP/1.1 client received it (parsed again
/// only if the script reads them).
#[derive(Debug, Clone)]
pub enum Headers {
    Map(reqwest::header::HeaderMap),
    Head(Vec<u8>),
}

impl Headers {
    /// The head as received (reqwest's map written as one): what [`super::h1::head_fields`] reads.
    pub fn head(&self) -> std::borrow::Cow<'_, [u8]> {
        match self {
            Headers::Head(h) => std::borrow::Cow::Borrowed(h),
            Headers::Map(m) => {
                let mut h = b"HTTP/1.1 200 OK\r\n".to_vec();
                for (k, v) in m {
                    h.extend_from_slice(k.as_str().as_bytes());
                    h.extend_from_slice(b": ");
                    h.extend_from_slice(v.as_bytes());
                    h.extend_from_slice(b"\r\n");
                }
                h.extend_from_slice(b"\r\n");
                std::borrow::Cow::Owned(h)
            }
        }
    }

    /// The first value of `name` (lower case).
    pub fn get(&self, name: &str) -> Option<String> {
        match self {
            Headers::Map(m) => m
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            Headers::Head(h) => super::h1::head_fields(h)
                .into_iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v),
        }
    }
}

thread_local! {
    static CLIENT: RefCell<Option<reqwest::Client>> = const { RefCell::new(None) };
    /// Parsed URLs: a script usually hits a few URLs many times, and parsing (with IDNA) is
    /// a visible share of a request's CPU.
    static URLS: RefCell<std::collections::HashMap<String, reqwest::Url>> = RefCell::new(Default::default());
}

const URL_CACHE_MAX: usize = 4096;

pub use crate::util::shown_url;

fn parse_url(url: &str) -> Result<reqwest::Url, OpError> {
    URLS.with(|c| {
        if let Some(u) = c.borrow().get(url) {
            return Ok(u.clone());
        }
        let u = reqwest::Url::parse(url).map_err(|e| {
            OpError::new(
                ErrorKind::Client,
                format!("bad URL {}: {e}", shown_url(url)),
            )
        })?;
        let mut c = c.borrow_mut();
        if c.len() >= URL_CACHE_MAX {
            c.clear();
        }
        c.insert(url.to_string(), u.clone());
        Ok(u)
    })
}

fn client() -> Result<reqwest::Client, OpError> {
    CLIENT.with(|c| {
        if let Some(c) = c.borrow().as_ref() {
            return Ok(c.clone());
        }
        let built = reqwest::Client::builder()
            .pool_max_idle_per_host(usize::MAX)
            .tcp_nodelay(true)
            .no_proxy()
            .build()
            .map_err(|e| {
                OpError::new(ErrorKind::Client, format!("cannot build HTTP client: {e}"))
            })?;
        *c.borrow_mut() = Some(built.clone());
        Ok(built)
    })
}

/// Sends a request. Any answer is `Ok`, whatever its status; [`status_error`] tells which statuses
/// count as failed operations. `http://` goes through our own HTTP/1.1 client (h1/), the rest
/// (and a redirect to it) through reqwest.
pub async fn send(req: Request) -> (Result<Response, OpError>, Units) {
    let sent = req.body.as_ref().map_or(0, |b| b.len() as u64);
    let units = |r: &Result<Response, OpError>| {
        let u = if sent > 0 {
            Units::none().with("bytes_sent", sent)
        } else {
            Units::none()
        };
        match r {
            Ok(resp) => u.with("bytes", resp.body.len() as u64),
            Err(_) => u,
        }
    };
    // a timeout too large to add (math.maxinteger seconds) is no limit in practice: a century
    let now = tokio::time::Instant::now();
    let deadline = now
        .checked_add(req.timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400));
    let (method, url, timeout) = (req.method.clone(), req.url.clone(), req.timeout);
    let r = tokio::time::timeout_at(deadline, follow(req, deadline)).await;
    let r = r.unwrap_or_else(|_| {
        Err(OpError::new(
            crate::metrics::ErrorKind::Timeout,
            format!("{method} {}: no answer within {timeout:?}", shown_url(&url)),
        ))
    });
    let u = units(&r);
    (r, u)
}

/// Our HTTP/1.1 client while it can, redirects included; reqwest for the rest.
async fn follow(mut req: Request, deadline: tokio::time::Instant) -> Result<Response, OpError> {
    for _ in 0..=super::h1::MAX_REDIRECTS {
        let Some(t) = super::h1::target(&req.url)? else {
            req.timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
            return via_reqwest(req).await;
        };
        let resp = super::h1::exchange(&t, &req).await?;
        match super::h1::redirect(&req, &resp)? {
            Some(next) => req = next,
            None => return Ok(resp),
        }
    }
    Err(OpError::new(
        crate::metrics::ErrorKind::Protocol,
        format!(
            "{} {}: more than {} redirects",
            req.method,
            shown_url(&req.url),
            super::h1::MAX_REDIRECTS
        ),
    ))
}

/// Sends a request with reqwest (`https://`, credentials in the URL).
async fn via_reqwest(req: Request) -> Result<Response, OpError> {
    let client = client()?;
    let url = parse_url(&req.url)?;
    let mut builder = client.request(req.method.clone(), url).timeout(req.timeout);
    for (k, v) in &req.headers {
        builder = builder.header(k, v);
    }
    if let Some(body) = req.body {
        builder = builder.body(body);
    }
    let failed = |e: reqwest::Error, what: &str| {
        OpError::new(
            crate::bindings::reqwest_kind(&e),
            format!(
                "{} {}: {what}{}",
                req.method,
                shown_url(&req.url),
                crate::bindings::error_chain(&e)
            ),
        )
    };
    let mut resp = builder.send().await.map_err(|e| failed(e, ""))?;
    let status = resp.status().as_u16();
    let headers = Headers::Map(std::mem::take(resp.headers_mut()));
    let body = resp
        .bytes()
        .await
        .map_err(|e| failed(e, "reading the body: "))?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// The error kind a status stands for, if any.
pub fn status_error(status: u16) -> Option<ErrorKind> {
    match status {
        500.. => Some(ErrorKind::Server),
        400..=499 => Some(ErrorKind::Client),
        _ => None,
    }
}

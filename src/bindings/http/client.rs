//! The HTTP client: plain Rust, no Lua. One reqwest client per worker thread, so that pooled
//! connections live on the runtime that drives them (a connection made on another thread's
//! current-thread runtime would stall when that runtime is idle).

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

/// An answer as the client got it: the headers and body are moved out of reqwest's response, not
/// copied (a script that never reads `r.headers` never pays for turning them into Lua strings).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: bytes::Bytes,
}

thread_local! {
    static CLIENT: RefCell<Option<reqwest::Client>> = const { RefCell::new(None) };
    /// Parsed URLs: a script usually hits a few URLs many times, and parsing (with IDNA) is
    /// a visible share of a request's CPU.
    static URLS: RefCell<std::collections::HashMap<String, reqwest::Url>> = RefCell::new(Default::default());
}

const URL_CACHE_MAX: usize = 4096;

fn parse_url(url: &str) -> Result<reqwest::Url, OpError> {
    URLS.with(|c| {
        if let Some(u) = c.borrow().get(url) {
            return Ok(u.clone());
        }
        let u = reqwest::Url::parse(url)
            .map_err(|e| OpError::new(ErrorKind::Client, format!("bad URL {url}: {e}")))?;
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
/// count as failed operations.
pub async fn send(req: Request) -> (Result<Response, OpError>, Units) {
    let client = match client() {
        Ok(c) => c,
        Err(e) => return (Err(e), Units::none()),
    };
    let url = match parse_url(&req.url) {
        Ok(u) => u,
        Err(e) => return (Err(e), Units::none()),
    };
    let mut builder = client.request(req.method.clone(), url).timeout(req.timeout);
    for (k, v) in &req.headers {
        builder = builder.header(k, v);
    }
    let sent = req.body.as_ref().map_or(0, |b| b.len() as u64);
    let sent_units = || {
        if sent > 0 {
            Units::none().with("bytes_sent", sent)
        } else {
            Units::none()
        }
    };
    if let Some(body) = req.body {
        builder = builder.body(body);
    }
    let mut resp = match builder.send().await {
        Ok(r) => r,
        Err(e) => {
            let msg = format!(
                "{} {}: {}",
                req.method,
                req.url,
                crate::bindings::error_chain(&e)
            );
            return (
                Err(OpError::new(crate::bindings::reqwest_kind(&e), msg)),
                sent_units(),
            );
        }
    };
    let status = resp.status().as_u16();
    let headers = std::mem::take(resp.headers_mut());
    match resp.bytes().await {
        Ok(body) => {
            let units = sent_units().with("bytes", body.len() as u64);
            (
                Ok(Response {
                    status,
                    headers,
                    body,
                }),
                units,
            )
        }
        Err(e) => (
            Err(OpError::new(
                crate::bindings::reqwest_kind(&e),
                format!(
                    "{} {}: reading the body: {}",
                    req.method,
                    req.url,
                    crate::bindings::error_chain(&e)
                ),
            )),
            sent_units(),
        ),
    }
}

/// The error kind a status stands for, if any.
pub fn status_error(status: u16) -> Option<ErrorKind> {
    match status {
        500.. => Some(ErrorKind::Server),
        400..=499 => Some(ErrorKind::Client),
        _ => None,
    }
}

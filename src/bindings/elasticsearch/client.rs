//! Elasticsearch through the official client crate. Plain Rust, no Lua. One client per worker thread
//! and settings (its connection pool belongs to that thread's runtime, as for HTTP).

use crate::metrics::recorder::Units;
use crate::metrics::{ErrorKind, OpError};
use elasticsearch::http::transport::{MultiNodeConnectionPool, TransportBuilder};
use elasticsearch::http::{Method, Url};
use elasticsearch::Elasticsearch;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub urls: Vec<String>,
    pub timeout: Duration,
}

impl Settings {
    fn key(&self) -> String {
        format!("{}|{:?}", self.urls.join(","), self.timeout)
    }

    pub fn validate(&self) -> Result<Vec<Url>, String> {
        if self.urls.is_empty() {
            return Err("elasticsearch: no urls".into());
        }
        self.urls
            .iter()
            .map(|u| Url::parse(u).map_err(|e| format!("elasticsearch: bad url '{u}': {e}")))
            .collect()
    }
}

thread_local! {
    static CLIENTS: RefCell<HashMap<String, Elasticsearch>> = RefCell::new(HashMap::new());
}

fn build(s: &Settings) -> Result<Elasticsearch, OpError> {
    let urls = s
        .validate()
        .map_err(|e| OpError::new(ErrorKind::Client, e))?;
    let pool = MultiNodeConnectionPool::round_robin(urls, None);
    let transport = TransportBuilder::new(pool)
        .timeout(s.timeout)
        .disable_proxy()
        .build()
        .map_err(|e| OpError::new(ErrorKind::Client, format!("elasticsearch client: {e}")))?;
    Ok(Elasticsearch::new(transport))
}

/// This thread's client for `s`.
pub fn client(s: &Settings) -> Result<Elasticsearch, OpError> {
    CLIENTS.with(|c| {
        let key = s.key();
        if let Some(es) = c.borrow().get(&key) {
            return Ok(es.clone());
        }
        let es = build(s)?;
        c.borrow_mut().insert(key, es.clone());
        Ok(es)
    })
}

fn transport_error(e: &elasticsearch::Error, what: &str) -> OpError {
    let text = format!("{e}");
    let mut chain = text.clone();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        src = s.source();
    }
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else if chain.contains("connect") || chain.contains("Connection refused") {
        ErrorKind::Connect
    } else {
        ErrorKind::Protocol
    };
    OpError::new(kind, format!("{what}: {chain}"))
}

fn status_kind(status: u16) -> Option<ErrorKind> {
    match status {
        500.. => Some(ErrorKind::Server),
        400..=499 => Some(ErrorKind::Client),
        _ => None,
    }
}

/// Sends one request and reads its JSON answer. A status of 400 and above is an error carrying
/// Elasticsearch's own reason.
pub async fn request(
    s: &Settings,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    ndjson: bool,
) -> Result<Value, OpError> {
    request_with(&client(s)?, method, path, body, ndjson).await
}

async fn request_with(
    es: &Elasticsearch,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    ndjson: bool,
) -> Result<Value, OpError> {
    let what = format!("{} {path}", method_name(&method));
    let mut headers = elasticsearch::http::headers::HeaderMap::new();
    if ndjson {
        headers.insert(
            elasticsearch::http::headers::CONTENT_TYPE,
            elasticsearch::http::headers::HeaderValue::from_static("application/x-ndjson"),
        );
    }
    let resp = es
        .transport()
        .send(method, path, headers, None::<&()>, body, None)
        .await
        .map_err(|e| transport_error(&e, &what))?;
    let status = resp.status_code().as_u16();
    let text = resp.text().await.map_err(|e| transport_error(&e, &what))?;
    let json: Value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).map_err(|e| {
            OpError::new(
                ErrorKind::Protocol,
                format!("{what}: answer is not JSON: {e}"),
            )
        })?
    };
    if let Some(kind) = status_kind(status) {
        let reason = json
            .pointer("/error/reason")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| text.chars().take(300).collect());
        return Err(OpError::new(
            kind,
            format!("{what}: HTTP {status}: {reason}"),
        ));
    }
    Ok(json)
}

fn method_name(m: &Method) -> &'static str {
    match m {
        Method::Get => "GET",
        Method::Put => "PUT",
        Method::Post => "POST",
        Method::Delete => "DELETE",
        Method::Head => "HEAD",
    }
}

/// Percent-encodes a path segment (index names and ids).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The outcome of a bulk request.
#[derive(Debug, Clone, Default)]
pub struct BulkOutcome {
    pub items: u64,
    pub failed: u64,
    pub took_ms: u64,
    /// The first failures: item status and reason.
    pub failures: Vec<(u16, String)>,
}

/// Bulk-indexes NDJSON (action and source lines). Every item the server refuses is counted as a
/// failed document; the operation is then an error of the first failure's kind.
pub async fn bulk(
    s: &Settings,
    index: &str,
    ndjson: Vec<u8>,
    refresh: bool,
) -> (Result<BulkOutcome, OpError>, Units) {
    let bytes = ndjson.len() as u64;
    let mut path = format!("/{}/_bulk", segment(index));
    if refresh {
        path.push_str("?refresh=true");
    }
    let json = match request(s, Method::Post, &path, Some(ndjson), true).await {
        Ok(j) => j,
        Err(e) => return (Err(e), Units::none().with("bytes", bytes)),
    };
    let mut out = BulkOutcome {
        took_ms: json.get("took").and_then(Value::as_u64).unwrap_or(0),
        ..Default::default()
    };
    let mut first_kind = None;
    if let Some(items) = json.get("items").and_then(Value::as_array) {
        for item in items {
            out.items += 1;
            let op = item.as_object().and_then(|o| o.values().next());
            let status = op
                .and_then(|o| o.get("status"))
                .and_then(Value::as_u64)
                .unwrap_or(0) as u16;
            if let Some(kind) = status_kind(status) {
                out.failed += 1;
                first_kind.get_or_insert(kind);
                if out.failures.len() < 10 {
                    let reason = op
                        .and_then(|o| o.pointer("/error/reason"))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    out.failures.push((status, reason));
                }
            }
        }
    }
    let units = Units::none()
        .with("docs", out.items - out.failed)
        .with("failed_docs", out.failed)
        .with("bytes", bytes);
    match first_kind {
        Some(kind) => {
            let (status, reason) = out.failures.first().cloned().unwrap_or_default();
            (
                Err(OpError::new(
                    kind,
                    format!(
                        "bulk into {index}: {} of {} items failed; first: HTTP {status}: {reason}",
                        out.failed, out.items
                    ),
                )),
                units,
            )
        }
        None => (Ok(out), units),
    }
}

/// Reaches the cluster, or says which address could not be reached. Runs on a runtime of its own
/// (before the run), with a client that is not kept.
pub fn healthcheck(s: &Settings) -> Result<(), String> {
    let fail = |m: String| format!("elasticsearch: cannot reach {}: {m}", s.urls.join(","));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let es = build(s).map_err(|e| fail(e.message))?;
    // The integ-test distribution has no root info handler; cluster health is always there.
    rt.block_on(request_with(
        &es,
        Method::Get,
        "/_cluster/health",
        None,
        false,
    ))
    .map(|_| ())
    .map_err(|e| fail(e.message))
}

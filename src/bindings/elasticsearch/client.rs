//! Elasticsearch through the official client crate. Plain Rust, no Lua. One client per worker thread
//! and settings (its connection pool belongs to that thread's runtime, as for HTTP).

use crate::metrics::recorder::Units;
use crate::metrics::{Detail, ErrorKind, OpError};
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
            .map(|u| {
                Url::parse(u).map_err(|e| {
                    format!(
                        "elasticsearch: bad url '{}': {e}",
                        crate::util::shown_url(u)
                    )
                })
            })
            .collect()
    }

    /// The URLs as messages show them: credentials in them hidden ([`crate::util::shown_url`]).
    pub fn shown_urls(&self) -> String {
        let shown: Vec<_> = self
            .urls
            .iter()
            .map(|u| crate::util::shown_url(u))
            .collect();
        shown.join(",")
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

/// Where a request failed: before its answer's head was complete, or reading the body.
#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Head,
    Body,
}

/// The kind of a failed request, as for the other bindings: the connection failing before the
/// answer (refused, reset, closed) is `connect`; an answer that had started and was cut off, or
/// bytes that are not HTTP, `protocol`.
fn transport_error(e: &elasticsearch::Error, what: &str, stage: Stage) -> OpError {
    let chain = crate::bindings::error_chain(e);
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else if stage == Stage::Body {
        ErrorKind::Protocol
    } else if crate::bindings::lost_connection_in(e) || gone_before_answering(&chain) {
        ErrorKind::Connect
    } else {
        ErrorKind::Protocol
    };
    OpError::new(kind, format!("{what}: {chain}"))
}

/// Whether an error's text says the connection was never made or was closed before the answer:
/// the elasticsearch crate's reqwest (0.12) and hyper types are not ours to test, so their words
/// are matched: hyper-util's "client error (Connect)" (refused, DNS, TLS) and hyper's
/// "connection closed before message completed" (also when part of the head had arrived: hyper
/// does not say).
fn gone_before_answering(chain: &str) -> bool {
    chain.contains("client error (Connect)")
        || chain.contains("connection closed before message completed")
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
    let raw = send(es, method, path, body, ndjson, &what).await?;
    parse(&raw, &what)
}

pub(super) fn parse(raw: &[u8], what: &str) -> Result<Value, OpError> {
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(raw).map_err(|e| {
        OpError::new(
            ErrorKind::Protocol,
            format!("{what}: answer is not JSON: {e}"),
        )
    })
}

/// Sends one request; answers the body bytes of a success, or the error an HTTP error
/// status stands for (with Elasticsearch's reason). The body is handed over without a copy.
async fn send(
    es: &Elasticsearch,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    ndjson: bool,
    what: &str,
) -> Result<bytes::Bytes, OpError> {
    let mut headers = elasticsearch::http::headers::HeaderMap::new();
    if ndjson {
        headers.insert(
            elasticsearch::http::headers::CONTENT_TYPE,
            elasticsearch::http::headers::HeaderValue::from_static("application/x-ndjson"),
        );
    }
    let resp = es
        .transport()
        .send(
            method,
            path,
            headers,
            None::<&()>,
            body.map(bytes::Bytes::from),
            None,
        )
        .await
        .map_err(|e| transport_error(&e, what, Stage::Head))?;
    let status = resp.status_code().as_u16();
    let raw = resp
        .bytes()
        .await
        .map_err(|e| transport_error(&e, what, Stage::Body))?;
    if let Some(kind) = status_kind(status) {
        let reason = serde_json::from_slice::<Value>(&raw)
            .ok()
            .and_then(|j| {
                j.pointer("/error/reason")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&raw).chars().take(300).collect());
        return Err(
            OpError::new(kind, format!("{what}: HTTP {status}: {reason}"))
                .with("status", Detail::Int(status.into())),
        );
    }
    Ok(raw)
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

/// What the bulk answer says, read without building a JSON tree: the items are only counted, and
/// only failed items' status and reason are kept. (A `Value` per item made malloc/free and map inserts
/// most of loadgen's CPU in a bulk load: docs/benchmarks.md, Elasticsearch.)
#[derive(serde::Deserialize)]
struct BulkAnswer<'a> {
    #[serde(default)]
    took: u64,
    #[serde(default, borrow)]
    items: Vec<BulkItem<'a>>,
}

/// One item: `{"index" | "create" | "update" | "delete": {...}}`.
#[derive(serde::Deserialize)]
struct BulkItem<'a> {
    #[serde(alias = "create", alias = "update", alias = "delete", borrow)]
    index: ItemResult<'a>,
}

#[derive(serde::Deserialize)]
struct ItemResult<'a> {
    #[serde(default)]
    status: u16,
    #[serde(default, borrow)]
    error: Option<ItemError<'a>>,
}

#[derive(serde::Deserialize)]
struct ItemError<'a> {
    #[serde(default, borrow)]
    reason: Option<std::borrow::Cow<'a, str>>,
}

/// Counts a bulk answer's items and failures; the error kind of the first failure, if any.
fn summarize_bulk(raw: &[u8]) -> Result<(BulkOutcome, Option<ErrorKind>), serde_json::Error> {
    let a: BulkAnswer = serde_json::from_slice(raw)?;
    let mut out = BulkOutcome {
        took_ms: a.took,
        items: a.items.len() as u64,
        ..Default::default()
    };
    let mut first_kind = None;
    for item in &a.items {
        let r = &item.index;
        if let Some(kind) = status_kind(r.status) {
            out.failed += 1;
            first_kind.get_or_insert(kind);
            if out.failures.len() < 10 {
                let reason = r
                    .error
                    .as_ref()
                    .and_then(|e| e.reason.as_deref())
                    .unwrap_or("");
                out.failures.push((r.status, reason.to_string()));
            }
        }
    }
    Ok((out, first_kind))
}

/// A bulk answer summarized, or a `protocol` error when the bytes are not one.
pub(super) fn bulk_answer(
    raw: &[u8],
    what: &str,
) -> Result<(BulkOutcome, Option<ErrorKind>), OpError> {
    summarize_bulk(raw).map_err(|e| {
        OpError::new(
            ErrorKind::Protocol,
            format!("{what}: not a bulk answer: {e}"),
        )
    })
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
    let what = format!("POST {path}");
    let answer = async {
        let raw = send(&client(s)?, Method::Post, &path, Some(ndjson), true, &what).await?;
        bulk_answer(&raw, &what)
    };
    let (out, first_kind) = match answer.await {
        Ok(v) => v,
        Err(e) => return (Err(e), Units::none().with("bytes", bytes)),
    };
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
                )
                .with("items", Detail::Int(out.items as i64))
                .with("failed", Detail::Int(out.failed as i64))),
                units,
            )
        }
        None => (Ok(out), units),
    }
}

/// Reaches the cluster, or says which address could not be reached. Runs on a runtime of its own
/// (before the run), with a client that is not kept.
pub fn healthcheck(s: &Settings) -> Result<(), String> {
    let fail = |m: String| format!("elasticsearch: cannot reach {}: {m}", s.shown_urls());
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

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;

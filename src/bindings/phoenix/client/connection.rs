//! One Avatica connection on the server: opening it, sending requests on it, noticing when the
//! server lost it, and closing it (also when it is dropped).

use super::error::{is_missing, phoenix_state, protocol, server_error};
use super::statements::Prepared;
use super::{build_http, thread_http, Settings};
use crate::bindings::phoenix::wire::{Request, Response, ServerError};
use crate::metrics::{ErrorKind, OpError};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

static NEXT_ID: AtomicU64 = AtomicU64::new(0);
static CLOSE_FAILED: AtomicBool = AtomicBool::new(false);

fn connection_id() -> String {
    format!(
        "loadgen-{}-{}-{}",
        std::process::id(),
        crate::util::epoch_micros(),
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    )
}

pub struct Connection {
    pub(super) settings: Settings,
    pub(super) id: String,
    /// A client of its own (the health check's), else this thread's.
    http: Option<reqwest::Client>,
    open: Cell<bool>,
    closed: Cell<bool>,
    /// The statement for SQL without parameters.
    pub(super) plain: Cell<Option<u32>>,
    pub(super) prepared: RefCell<HashMap<String, Prepared>>,
    /// Prepared SQL in the order it was prepared (for closing the oldest).
    pub(super) order: RefCell<Vec<String>>,
    /// The server said it no longer knows this connection (expired, or the server restarted): the
    /// statement that heard it is tried once more on a newly opened connection.
    pub(super) lost: Cell<bool>,
    /// Statements ran since the last commit or rollback with autocommit off.
    pub(super) uncommitted: Cell<bool>,
    /// The server lost this connection while it held uncommitted changes: the next commit fails
    /// (a commit on the newly opened connection would otherwise succeed with nothing to commit).
    pub(super) lost_work: Cell<bool>,
}

impl Connection {
    /// A connection that opens on first use. Nothing is sent yet.
    pub fn new(settings: Settings) -> Connection {
        Connection {
            settings,
            id: connection_id(),
            http: None,
            open: Cell::new(false),
            closed: Cell::new(false),
            plain: Cell::new(None),
            prepared: RefCell::new(HashMap::new()),
            order: RefCell::new(Vec::new()),
            lost: Cell::new(false),
            uncommitted: Cell::new(false),
            lost_work: Cell::new(false),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn is_open(&self) -> bool {
        self.open.get()
    }

    pub fn is_prepared(&self, sql: &str) -> bool {
        self.prepared.borrow().contains_key(sql)
    }

    /// Sends one request and decodes its answer. The server's own errors come back as
    /// `Ok(Response::Error)`; [`Connection::call`] turns them into an [`OpError`].
    pub(super) async fn send(&self, req: &Request<'_>) -> Result<Response, OpError> {
        let what = req.name();
        let s = &self.settings;
        let body = req
            .encode(s.serialization)
            .map_err(|e| OpError::new(ErrorKind::Client, format!("phoenix {what}: {e}")))?;
        let http = match &self.http {
            Some(h) => h.clone(),
            None => thread_http()?,
        };
        let resp = http
            .post(&s.url)
            .timeout(s.timeout)
            .header("content-type", s.serialization.content_type())
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport_error(what, &e))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(what, &e))?;
        match Response::decode(s.serialization, &bytes) {
            Ok(r) => Ok(r),
            Err(e) => Err(protocol(format!(
                "phoenix {what} at {}: HTTP {status}: {e}",
                s.url
            ))),
        }
    }

    fn transport_error(&self, what: &str, e: &reqwest::Error) -> OpError {
        let kind = crate::bindings::reqwest_kind(e);
        let mut msg = format!(
            "phoenix {what} at {}: {}",
            self.settings.url,
            crate::bindings::error_chain(e)
        );
        if kind == ErrorKind::Timeout {
            msg.push_str(&format!(" (timeout {:?})", self.settings.timeout));
        }
        OpError::new(kind, msg)
    }

    /// Sends a request whose answer must be of one kind.
    pub(super) async fn call(&self, req: &Request<'_>) -> Result<Response, OpError> {
        match self.send(req).await? {
            Response::Error(e) => {
                self.gone(&e);
                Err(server_error(req.name(), &e))
            }
            r => Ok(r),
        }
    }

    pub(super) fn unexpected(req: &Request<'_>, r: &Response) -> OpError {
        protocol(format!(
            "phoenix {}: unexpected '{}' response",
            req.name(),
            r.name()
        ))
    }

    /// Opens the connection on the server and sets autocommit. Does nothing when already open.
    pub async fn open(&self) -> Result<(), OpError> {
        if self.open.get() {
            return Ok(());
        }
        let id = self.id.as_str();
        let req = Request::OpenConnection {
            connection_id: id,
            info: &self.settings.info,
        };
        match self.call(&req).await? {
            Response::Done(_) => {}
            r => return Err(Self::unexpected(&req, &r)),
        }
        self.open.set(true);
        self.closed.set(false);
        let req = Request::ConnectionSync {
            connection_id: id,
            autocommit: self.settings.autocommit,
        };
        match self.call(&req).await? {
            Response::Done(_) => Ok(()),
            r => Err(Self::unexpected(&req, &r)),
        }
    }

    /// Forgets server-side state after the server said the connection is gone.
    fn reset(&self) {
        self.open.set(false);
        self.plain.set(None);
        self.prepared.borrow_mut().clear();
        self.order.borrow_mut().clear();
    }

    /// Whether a server error says our connection or statement no longer exists there (then it
    /// is forgotten, to be opened and prepared again).
    pub(super) fn gone(&self, e: &ServerError) -> bool {
        // Avatica: an expired or unknown connection id; Phoenix: a statement whose connection
        // was closed under it (SQLSTATE XCL11).
        let closed = e.sql_state == "XCL11"
            || phoenix_state(&e.message).is_some_and(|(_, state)| state == "XCL11");
        if is_missing(e, "NoSuchConnectionException") || closed {
            self.reset();
            if self.uncommitted.replace(false) {
                // Trying again would run this statement alone in a new transaction.
                self.lost_work.set(true);
                return false;
            }
            self.lost.set(true);
            true
        } else if is_missing(e, "NoSuchStatementException") {
            self.plain.set(None);
            self.prepared.borrow_mut().clear();
            self.order.borrow_mut().clear();
            true
        } else {
            false
        }
    }

    /// Closes the connection (and with it every statement) on the server.
    pub async fn close(&self) -> Result<(), OpError> {
        if !self.open.get() {
            return Ok(());
        }
        let req = Request::CloseConnection {
            connection_id: &self.id,
        };
        self.reset();
        self.closed.set(true);
        self.uncommitted.set(false);
        self.lost_work.set(false);
        match self.call(&req).await? {
            Response::Done(_) => Ok(()),
            r => Err(Self::unexpected(&req, &r)),
        }
    }

    /// Closes the connection with a plain blocking HTTP request (for drops outside async code),
    /// bounded by one second. Once such a close failed, later drops do not try (a server that
    /// does not answer would otherwise hold up every VU's shutdown).
    fn close_blocking(&self) {
        if CLOSE_FAILED.load(Ordering::Relaxed) {
            return;
        }
        let req = Request::CloseConnection {
            connection_id: &self.id,
        };
        let Ok(body) = req.encode(self.settings.serialization) else {
            return;
        };
        let sent = post_blocking(
            &self.settings.url,
            self.settings.serialization.content_type(),
            &body,
            Duration::from_secs(1),
        );
        if sent.is_err() {
            CLOSE_FAILED.store(true, Ordering::Relaxed);
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.open.get() && !self.closed.get() {
            self.close_blocking();
        }
    }
}

/// One HTTP/1.1 POST over a std socket; returns the status code.
fn post_blocking(
    url: &str,
    content_type: &str,
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<u16> {
    use std::net::ToSocketAddrs;
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr_text = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addr = addr_text
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("no address"))?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf)?;
    let line = String::from_utf8_lossy(&buf[..n]);
    Ok(line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}

/// Reaches the server and opens (then closes) a connection, or says why not. Runs on a runtime of
/// its own before the run, with an HTTP client that is not kept.
pub fn healthcheck(s: &Settings) -> Result<(), String> {
    let fail = |m: String| format!("phoenix: cannot use the Query Server at {}: {m}", s.url);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let mut settings = s.clone();
    settings.timeout = settings.timeout.min(Duration::from_secs(10));
    let mut c = Connection::new(settings);
    c.http = Some(build_http().map_err(|e| fail(e.message))?);
    rt.block_on(async {
        c.open().await?;
        c.close().await
    })
    .map_err(|e| fail(e.message))
}

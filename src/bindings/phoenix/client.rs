//! An asynchronous client of the Phoenix Query Server (Avatica over HTTP). Plain Rust, no Lua.
//!
//! One [`Connection`] is one Avatica connection on the server, opened on first use. Statements run
//! without parameters go through one reusable server statement (`prepareAndExecute`); statements
//! with parameters are prepared once per connection and SQL text and kept until the connection
//! closes. Results are fetched frame by frame. Closing a connection closes its statements on the
//! server; a connection that is dropped without `close` is closed there too (a short blocking call).
//!
//! HTTP goes through one reqwest client per worker thread, as for `loadgen.http`: pooled
//! connections belong to the runtime that drives them.

use super::params::bind;
use super::wire::{
    typed, Column, Frame, ParamType, Request, Response, ResultSet, Serialization, ServerError,
    Value,
};
use crate::metrics::{ErrorKind, OpError};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

pub const DEFAULT_URL: &str = "http://127.0.0.1:8765";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_FETCH_SIZE: i32 = 1000;
/// Prepared statements kept per connection; the oldest is closed beyond this.
const MAX_PREPARED: usize = 256;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub url: String,
    pub serialization: Serialization,
    pub timeout: Duration,
    pub autocommit: bool,
    /// Rows per frame (the first one and every fetch).
    pub fetch_size: i32,
    /// Most rows a query returns in all; -1 for no limit.
    pub max_rows: i64,
    /// Connection properties sent with `openConnection`.
    pub info: BTreeMap<String, String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            url: DEFAULT_URL.into(),
            serialization: Serialization::Protobuf,
            timeout: DEFAULT_TIMEOUT,
            autocommit: true,
            fetch_size: DEFAULT_FETCH_SIZE,
            max_rows: -1,
            info: BTreeMap::new(),
        }
    }
}

impl Settings {
    pub fn validate(&self) -> Result<(), String> {
        let rest = self
            .url
            .strip_prefix("http://")
            .ok_or_else(|| format!("phoenix: url '{}' must start with http://", self.url))?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(format!("phoenix: url '{}' has no host", self.url));
        }
        if self.fetch_size < 1 {
            return Err("phoenix: fetch_size must be at least 1".into());
        }
        Ok(())
    }
}

/// What a statement gave back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
    /// For statements that change rows (UPSERT, DELETE, DDL): how many.
    pub update_count: Option<i64>,
    /// Frames the rows came in.
    pub frames: u32,
}

impl Outcome {
    /// The rows the statement moved: returned, or changed.
    pub fn units(&self) -> u64 {
        match self.update_count {
            Some(n) if n > 0 => n as u64,
            Some(_) => 0,
            None => self.rows.len() as u64,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub id: u32,
    pub params: Vec<ParamType>,
    pub columns: Vec<Column>,
    /// Sent back with every execute (opaque).
    pub signature: Vec<u8>,
}

thread_local! {
    static HTTP: RefCell<Option<reqwest::Client>> = const { RefCell::new(None) };
}

fn build_http() -> Result<reqwest::Client, OpError> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .tcp_nodelay(true)
        .no_proxy()
        .build()
        .map_err(|e| OpError::new(ErrorKind::Client, format!("phoenix: HTTP client: {e}")))
}

fn thread_http() -> Result<reqwest::Client, OpError> {
    HTTP.with(|c| {
        if let Some(c) = c.borrow().as_ref() {
            return Ok(c.clone());
        }
        let built = build_http()?;
        *c.borrow_mut() = Some(built.clone());
        Ok(built)
    })
}

/// The kind of a SQL error from its SQLSTATE class: the request's fault (syntax, unknown table,
/// bad data, constraint, unsupported feature, wrong parameters) or the server's.
pub fn sql_state_kind(state: &str) -> ErrorKind {
    match state.get(..2) {
        Some("42" | "22" | "23" | "21" | "0A" | "07" | "2B" | "3D" | "3F") => ErrorKind::Client,
        _ => ErrorKind::Server,
    }
}

/// Phoenix's own `ERROR <code> (<SQLSTATE>)` in a message, when Avatica did not pass them on (it
/// reports `00000` and -1 for exceptions it wrapped).
fn phoenix_state(message: &str) -> Option<(i64, String)> {
    let at = message.find("ERROR ")?;
    let rest = &message[at + 6..];
    let (code, rest) = rest.split_once(" (")?;
    let code = code.parse().ok()?;
    let (state, _) = rest.split_once(')')?;
    (state.len() == 5 && state.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| (code, state.to_string()))
}

fn server_error(what: &str, e: &ServerError) -> OpError {
    let (code, state) = match phoenix_state(&e.message) {
        Some(found) if e.sql_state.is_empty() || e.sql_state == "00000" => found,
        _ => (e.code, e.sql_state.clone()),
    };
    let mut text = e.message.trim().to_string();
    if text.len() > 1000 {
        let cut = (0..=1000)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push_str("...");
    }
    let mut msg = format!("phoenix {what}: {text}");
    if !state.is_empty() {
        msg.push_str(&format!(" (SQLSTATE {state}, code {code})"));
    }
    OpError::new(sql_state_kind(&state), msg)
}

fn protocol(msg: impl Into<String>) -> OpError {
    OpError::new(ErrorKind::Protocol, msg)
}

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

/// Server errors that mean the connection or statement is gone (server restarted, expired).
fn is_missing(e: &ServerError, what: &str) -> bool {
    e.message.contains(what)
}

pub struct Connection {
    settings: Settings,
    id: String,
    /// A client of its own (the health check's), else this thread's.
    http: Option<reqwest::Client>,
    open: Cell<bool>,
    closed: Cell<bool>,
    /// The statement for SQL without parameters.
    plain: Cell<Option<u32>>,
    prepared: RefCell<HashMap<String, Prepared>>,
    /// Prepared SQL in the order it was prepared (for closing the oldest).
    order: RefCell<Vec<String>>,
    /// The server said it no longer knows this connection (expired, or the server restarted): the
    /// statement that heard it is tried once more on a newly opened connection.
    lost: Cell<bool>,
    /// Statements ran since the last commit or rollback with autocommit off.
    uncommitted: Cell<bool>,
    /// The server lost this connection while it held uncommitted changes: the next commit fails
    /// (a commit on the newly opened connection would otherwise succeed with nothing to commit).
    lost_work: Cell<bool>,
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
    async fn send(&self, req: &Request<'_>) -> Result<Response, OpError> {
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
    async fn call(&self, req: &Request<'_>) -> Result<Response, OpError> {
        match self.send(req).await? {
            Response::Error(e) => {
                self.gone(&e);
                Err(server_error(req.name(), &e))
            }
            r => Ok(r),
        }
    }

    fn unexpected(req: &Request<'_>, r: &Response) -> OpError {
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

    /// Prepares `sql` on this connection (once; later calls reuse it), opening the connection
    /// again once when the server no longer knows it.
    pub async fn prepare(&self, sql: &str) -> Result<Prepared, OpError> {
        self.lost.set(false);
        match self.prepare_once(sql).await {
            Err(_) if self.lost.get() => self.prepare_once(sql).await,
            r => r,
        }
    }

    async fn prepare_once(&self, sql: &str) -> Result<Prepared, OpError> {
        if let Some(p) = self.prepared.borrow().get(sql) {
            return Ok(p.clone());
        }
        self.open().await?;
        let req = Request::Prepare {
            connection_id: &self.id,
            sql,
            max_rows_total: self.settings.max_rows,
        };
        let p = match self.call(&req).await? {
            Response::Prepare {
                statement_id,
                params,
                columns,
                signature,
            } => Prepared {
                id: statement_id,
                params,
                columns,
                signature,
            },
            r => return Err(Self::unexpected(&req, &r)),
        };
        let evict = {
            let mut order = self.order.borrow_mut();
            order.push(sql.to_string());
            if order.len() > MAX_PREPARED {
                Some(order.remove(0))
            } else {
                None
            }
        };
        self.prepared
            .borrow_mut()
            .insert(sql.to_string(), p.clone());
        if let Some(old) = evict {
            self.close_statement(&old).await;
        }
        Ok(p)
    }

    /// Closes a prepared statement (errors are ignored: the statement is gone either way).
    pub async fn close_statement(&self, sql: &str) {
        let Some(p) = self.prepared.borrow_mut().remove(sql) else {
            return;
        };
        self.order.borrow_mut().retain(|s| s != sql);
        let req = Request::CloseStatement {
            connection_id: &self.id,
            statement_id: p.id,
        };
        let _ = self.call(&req).await;
    }

    async fn plain_statement(&self) -> Result<u32, OpError> {
        if let Some(id) = self.plain.get() {
            return Ok(id);
        }
        let req = Request::CreateStatement {
            connection_id: &self.id,
        };
        match self.call(&req).await? {
            Response::CreateStatement { statement_id } => {
                self.plain.set(Some(statement_id));
                Ok(statement_id)
            }
            r => Err(Self::unexpected(&req, &r)),
        }
    }

    /// Runs SQL without parameters and fetches all its rows.
    pub async fn execute(&self, sql: &str) -> Result<Outcome, OpError> {
        for attempt in 0..2 {
            self.lost.set(false);
            let stmt = match async {
                self.open().await?;
                self.plain_statement().await
            }
            .await
            {
                Ok(s) => s,
                Err(_) if attempt == 0 && self.lost.get() => continue,
                Err(e) => return Err(e),
            };
            let req = Request::PrepareAndExecute {
                connection_id: &self.id,
                statement_id: stmt,
                sql,
                max_rows_total: self.settings.max_rows,
                first_frame_max_size: self.settings.fetch_size,
            };
            match self.send(&req).await? {
                Response::Execute {
                    missing_statement: true,
                    ..
                } if attempt == 0 => self.plain.set(None),
                Response::Execute { results, .. } => {
                    self.ran();
                    return self.collect(results, None).await;
                }
                Response::Error(e) if attempt == 0 && self.gone(&e) => {}
                Response::Error(e) => return Err(server_error(req.name(), &e)),
                r => return Err(Self::unexpected(&req, &r)),
            }
        }
        Err(protocol(
            "phoenix prepareAndExecute: the statement went missing twice",
        ))
    }

    /// Whether a server error says our connection or statement no longer exists there (then it
    /// is forgotten, to be opened and prepared again).
    fn gone(&self, e: &ServerError) -> bool {
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

    /// Runs a prepared statement with parameters and fetches all its rows.
    pub async fn execute_prepared(&self, sql: &str, params: &[Value]) -> Result<Outcome, OpError> {
        for attempt in 0..2 {
            let p = self.prepare(sql).await?;
            let values = bind(&p.params, params)?;
            let req = Request::Execute {
                connection_id: &self.id,
                statement_id: p.id,
                signature: &p.signature,
                params: &values,
                first_frame_max_size: self.settings.fetch_size,
            };
            match self.send(&req).await? {
                Response::Execute {
                    missing_statement: true,
                    ..
                } if attempt == 0 => {
                    self.prepared.borrow_mut().remove(sql);
                }
                Response::Execute { results, .. } => {
                    self.ran();
                    return self.collect(results, Some(&p.columns)).await;
                }
                Response::Error(e) if attempt == 0 && self.gone(&e) => {}
                Response::Error(e) => return Err(server_error(req.name(), &e)),
                r => return Err(Self::unexpected(&req, &r)),
            }
        }
        Err(protocol(
            "phoenix execute: the statement went missing twice",
        ))
    }

    /// Runs a prepared statement once per row of parameters, in one request. Returns the update
    /// count of each row.
    pub async fn execute_batch(&self, sql: &str, rows: &[Vec<Value>]) -> Result<Vec<i64>, OpError> {
        for attempt in 0..2 {
            let p = self.prepare(sql).await?;
            let values = rows
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    bind(&p.params, r).map_err(|mut e| {
                        e.message = format!("batch row {}: {}", i + 1, e.message);
                        e
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let req = Request::ExecuteBatch {
                connection_id: &self.id,
                statement_id: p.id,
                rows: &values,
            };
            match self.send(&req).await? {
                Response::ExecuteBatch {
                    missing_statement: true,
                    ..
                } if attempt == 0 => {
                    self.prepared.borrow_mut().remove(sql);
                }
                Response::ExecuteBatch { update_counts, .. } => {
                    self.ran();
                    return Ok(update_counts);
                }
                Response::Error(e) if attempt == 0 && self.gone(&e) => {}
                Response::Error(e) => return Err(server_error(req.name(), &e)),
                r => return Err(Self::unexpected(&req, &r)),
            }
        }
        Err(protocol(
            "phoenix executeBatch: the statement went missing twice",
        ))
    }

    /// The rows of the first result set, fetching frame after frame until the server says done.
    async fn collect(
        &self,
        results: Vec<ResultSet>,
        prepared_columns: Option<&[Column]>,
    ) -> Result<Outcome, OpError> {
        let Some(rs) = results.into_iter().next() else {
            return Ok(Outcome::default());
        };
        let columns = match (&rs.columns, prepared_columns) {
            (Some(c), _) if !c.is_empty() => c.clone(),
            (_, Some(c)) => c.to_vec(),
            _ => Vec::new(),
        };
        if rs.update_count >= 0 && rs.first_frame.is_none() {
            return Ok(Outcome {
                columns,
                rows: Vec::new(),
                update_count: Some(rs.update_count),
                frames: 0,
            });
        }
        let types: Vec<i32> = columns.iter().map(|c| c.type_id).collect();
        let mut out = Outcome {
            columns,
            ..Default::default()
        };
        let mut frame = rs.first_frame.unwrap_or(Frame {
            done: true,
            ..Default::default()
        });
        let mut empty = 0;
        loop {
            out.frames += 1;
            if frame.rows.is_empty() {
                empty += 1;
            } else {
                empty = 0;
            }
            for row in frame.rows {
                if row.len() != types.len() && !types.is_empty() {
                    return Err(protocol(format!(
                        "phoenix: a row has {} values for {} columns",
                        row.len(),
                        types.len()
                    )));
                }
                out.rows.push(
                    row.into_iter()
                        .enumerate()
                        .map(|(i, c)| typed(types.get(i).copied().unwrap_or(0), c))
                        .collect(),
                );
            }
            if frame.done {
                return Ok(out);
            }
            if empty >= 3 {
                return Err(protocol(
                    "phoenix fetch: the server sent empty frames without finishing",
                ));
            }
            let req = Request::Fetch {
                connection_id: &self.id,
                statement_id: rs.statement_id,
                offset: out.rows.len() as u64,
                frame_max_size: self.settings.fetch_size,
            };
            frame = match self.call(&req).await? {
                Response::Fetch {
                    missing_statement: true,
                    ..
                }
                | Response::Fetch {
                    missing_results: true,
                    ..
                } => {
                    return Err(OpError::new(
                        ErrorKind::Server,
                        format!(
                            "phoenix fetch: the server lost the result set after {} rows",
                            out.rows.len()
                        ),
                    ))
                }
                Response::Fetch { frame, .. } => frame,
                r => return Err(Self::unexpected(&req, &r)),
            };
        }
    }

    /// A statement succeeded: with autocommit off, it is part of an open transaction.
    fn ran(&self) {
        if !self.settings.autocommit {
            self.uncommitted.set(true);
        }
    }

    pub async fn commit(&self) -> Result<(), OpError> {
        let lost = || {
            OpError::new(
                ErrorKind::Server,
                "phoenix commit: the server lost this connection (expired or restarted) while it \
                 held uncommitted changes; they are gone, nothing was committed",
            )
        };
        if self.lost_work.replace(false) {
            return Err(lost());
        }
        self.open().await?;
        let req = Request::Commit {
            connection_id: &self.id,
        };
        match self.call(&req).await {
            Ok(Response::Done(_)) => {
                self.uncommitted.set(false);
                Ok(())
            }
            Ok(r) => Err(Self::unexpected(&req, &r)),
            Err(_) if self.lost_work.replace(false) => Err(lost()),
            Err(e) => Err(e),
        }
    }

    pub async fn rollback(&self) -> Result<(), OpError> {
        self.lost_work.set(false);
        self.uncommitted.set(false);
        self.open().await?;
        let req = Request::Rollback {
            connection_id: &self.id,
        };
        match self.call(&req).await? {
            Response::Done(_) => Ok(()),
            r => Err(Self::unexpected(&req, &r)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phoenix_codes_come_out_of_wrapped_messages() {
        let e = ServerError {
            message: "RuntimeException: org.apache.phoenix.schema.TableNotFoundException: ERROR 1012 (42M03): Table undefined. tableName=NOPE".into(),
            sql_state: "00000".into(),
            code: -1,
        };
        let o = server_error("prepareAndExecute", &e);
        assert_eq!(o.kind, ErrorKind::Client);
        assert!(
            o.message.ends_with("(SQLSTATE 42M03, code 1012)"),
            "{}",
            o.message
        );
        assert_eq!(phoenix_state("no code here"), None);
    }

    #[test]
    fn sql_states_classify() {
        assert_eq!(sql_state_kind("42M03"), ErrorKind::Client);
        assert_eq!(sql_state_kind("22003"), ErrorKind::Client);
        assert_eq!(sql_state_kind("08000"), ErrorKind::Server);
        assert_eq!(sql_state_kind(""), ErrorKind::Server);
    }
}

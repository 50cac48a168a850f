//! A HiveServer2 session over one connection: statements run asynchronously on the server and are
//! polled with GetOperationStatus; their operations are always closed, also after errors. Plain
//! Rust, no Lua. A broken connection (timeout, reset, bytes that do not decode) is dropped, and
//! HiveServer2 closes the session with it; the next statement opens a new one.

use super::error::HiveError;
use super::rowset::{self, Cell};
use super::tcli::{self, state, ColumnMeta, OperationStatus, Status};
use super::thrift::Value;
use super::transport::{Endpoint, Transport};
use crate::metrics::ErrorKind;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// SASL PLAIN, any user (HiveServer2's `hive.server2.authentication=NONE`).
    None,
    /// SASL PLAIN with a password the server checks (LDAP, CUSTOM).
    Plain,
    /// No SASL layer (`NOSASL`).
    NoSasl,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: Option<String>,
    pub auth: Auth,
    /// Limit for connecting and for every round trip.
    pub timeout: Duration,
    /// Rows per FetchResults call.
    pub fetch_size: i64,
    /// Pause between two GetOperationStatus calls while a statement runs (HiveServer2 also holds
    /// each call until the statement finishes or its long-polling timeout passes).
    pub poll_interval: Duration,
    /// Limit for a whole statement; it is cancelled past it. Also sent to the server.
    pub query_timeout: Option<Duration>,
    /// Session settings (`hive.exec...` = value), applied when the session opens.
    pub session_conf: BTreeMap<String, String>,
    /// Some(path): Thrift over HTTP (`transport = "http"`) to this path; None: binary.
    pub http_path: Option<String>,
    /// Some((quorum, namespace)): find the HiveServer2 instances in ZooKeeper (`zookeeper`,
    /// `namespace`) instead of `host` and `port`, which then name the instance in use.
    pub discovery: Option<(String, String)>,
}

impl Settings {
    pub fn addr(&self) -> String {
        match &self.discovery {
            Some((zk, ns)) if self.port == 0 => format!("zookeeper {zk} /{ns}"),
            _ => format!("{}:{}", self.host, self.port),
        }
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint {
            addr: self.addr(),
            sasl: (self.auth != Auth::NoSasl).then(|| (self.user.clone(), self.password.clone())),
            timeout: self.timeout,
            http_path: self.http_path.clone(),
        }
    }

    /// OpenSession's configuration: `use:database` and `set:hiveconf:` entries, as Hive's JDBC
    /// driver sends them.
    pub fn open_config(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        if let Some(db) = &self.database {
            m.insert("use:database".to_string(), db.clone());
        }
        for (k, v) in &self.session_conf {
            let key = if k.starts_with("set:") || k.starts_with("use:") {
                k.clone()
            } else {
                format!("set:hiveconf:{k}")
            };
            m.insert(key, v.clone());
        }
        m
    }
}

/// The answer to a statement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub columns: Vec<ColumnMeta>,
    pub rows: Vec<Vec<Cell>>,
    /// Rows an INSERT or LOAD changed, when the server counts them.
    pub modified_rows: Option<i64>,
}

fn server_error(what: &str, st: &Status) -> HiveError {
    HiveError {
        kind: ErrorKind::Server,
        message: format!(
            "hive: {what}: {}{}{}",
            st.message.as_deref().unwrap_or("error without a message"),
            st.cause
                .as_deref()
                .filter(|c| !st.message.as_deref().is_some_and(|m| c.ends_with(m)))
                .map(|c| format!(" ({c})"))
                .unwrap_or_default(),
            st.sql_state
                .as_deref()
                .map(|s| format!(" (SQLSTATE {s})"))
                .unwrap_or_default()
        ),
        sql_state: st.sql_state.clone(),
        code: st.error_code,
        broken: false,
    }
}

fn check(what: &str, resp: &Value) -> Result<(), HiveError> {
    let st = Status::of(resp);
    if st.ok() {
        Ok(())
    } else {
        Err(server_error(what, &st))
    }
}

struct Open {
    tr: Transport,
    session: Value,
}

pub struct Session {
    settings: Settings,
    open: Option<Open>,
}

impl Session {
    pub fn new(settings: Settings) -> Session {
        Session {
            settings,
            open: None,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Connects and opens a session unless one is open. With service discovery, the instances
    /// registered in ZooKeeper are tried in turn, starting with the next one after the last session
    /// this process opened (sessions spread over the instances), until one accepts the connection: a
    /// killed instance's znode outlives it until its ZooKeeper session expires.
    pub async fn open(&mut self) -> Result<(), HiveError> {
        if self.open.is_some() {
            return Ok(());
        }
        let tr = match self.settings.discovery.clone() {
            None => Transport::connect(&self.settings.endpoint()).await?,
            Some((zk, ns)) => self.discover(&zk, &ns).await?,
        };
        self.open_on(tr).await
    }

    async fn discover(&mut self, zk: &str, ns: &str) -> Result<Transport, HiveError> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let path = format!("/{ns}");
        let children = super::zookeeper::children(zk, &path, self.settings.timeout)
            .await
            .map_err(|e| HiveError::new(ErrorKind::Connect, format!("hive: discovery: {e}")))?;
        let instances = super::zookeeper::hiveserver2_instances(&children.unwrap_or_default());
        if instances.is_empty() {
            return Err(HiveError::new(
                ErrorKind::Connect,
                format!("hive: no HiveServer2 registered under {path} in ZooKeeper {zk}"),
            ));
        }
        let first = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut last = None;
        for k in 0..instances.len() {
            let uri = &instances[(first + k) % instances.len()];
            let Some((host, port)) = uri
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h, p.parse().ok()?)))
            else {
                continue;
            };
            self.settings.host = host.to_string();
            self.settings.port = port;
            match Transport::connect(&self.settings.endpoint()).await {
                Ok(tr) => return Ok(tr),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            HiveError::new(
                ErrorKind::Connect,
                format!("hive: no usable serverUri under {path}: {instances:?}"),
            )
        }))
    }

    async fn open_on(&mut self, mut tr: Transport) -> Result<(), HiveError> {
        let s = &self.settings;
        let creds = (s.auth == Auth::NoSasl).then_some((s.user.as_str(), s.password.as_str()));
        let config = s.open_config();
        let mut resp = tr
            .call("OpenSession", |w| tcli::open_session(w, creds, &config))
            .await?;
        check("OpenSession", &resp)?;
        let session = resp.take(3).ok_or_else(|| {
            HiveError::new(ErrorKind::Protocol, "hive: OpenSession: no session handle")
        })?;
        self.open = Some(Open { tr, session });
        Ok(())
    }

    /// Runs `sql`; with `fetch`, reads its whole result set.
    pub async fn run(
        &mut self,
        sql: &str,
        overlay: &BTreeMap<String, String>,
        fetch: bool,
    ) -> Result<Outcome, HiveError> {
        self.open().await?;
        let s = self.settings.clone();
        let open = self.open.as_mut().expect("opened above");
        let r = statement(open, &s, sql, overlay, fetch).await;
        if let Err(e) = &r {
            if !e.keeps_connection() {
                self.open = None;
            }
        }
        r
    }

    /// Closes the session and its connection.
    pub async fn close(&mut self) -> Result<(), HiveError> {
        let Some(mut open) = self.open.take() else {
            return Ok(());
        };
        let session = open.session.clone();
        let resp = open
            .tr
            .call("CloseSession", |w| tcli::only_handle(w, &session))
            .await?;
        check("CloseSession", &resp)
    }
}

impl Drop for Session {
    /// Asks the server to close the session without waiting (a VU ends with its Lua state);
    /// HiveServer2 also closes it when the connection goes.
    fn drop(&mut self) {
        if let Some(mut open) = self.open.take() {
            let session = open.session.clone();
            open.tr
                .send_and_forget("CloseSession", |w| tcli::only_handle(w, &session));
        }
    }
}

async fn statement(
    open: &mut Open,
    s: &Settings,
    sql: &str,
    overlay: &BTreeMap<String, String>,
    fetch: bool,
) -> Result<Outcome, HiveError> {
    let session = open.session.clone();
    let timeout_s = s.query_timeout.map_or(0, |d| d.as_secs().max(1) as i64);
    let mut resp = open
        .tr
        .call("ExecuteStatement", |w| {
            tcli::execute_statement(w, &session, sql, overlay, timeout_s)
        })
        .await?;
    let st = Status::of(&resp);
    let op = resp.take(2);
    let Some(op) = op.filter(|_| st.ok()) else {
        if st.ok() {
            return Err(HiveError::new(
                ErrorKind::Protocol,
                "hive: ExecuteStatement: no operation handle",
            ));
        }
        return Err(server_error("ExecuteStatement", &st));
    };
    let r = operation(open, s, &op, fetch).await;
    // Close the operation whatever happened, unless the connection itself failed.
    if r.as_ref().err().is_none_or(HiveError::keeps_connection) {
        let closed = open
            .tr
            .call("CloseOperation", |w| tcli::only_handle(w, &op))
            .await;
        if let Err(e) = closed {
            if !e.keeps_connection() {
                return Err(e);
            }
        }
    }
    r
}

async fn operation(
    open: &mut Open,
    s: &Settings,
    op: &Value,
    fetch: bool,
) -> Result<Outcome, HiveError> {
    let started = Instant::now();
    let status = loop {
        let asked = Instant::now();
        let resp = open
            .tr
            .call("GetOperationStatus", |w| tcli::get_operation_status(w, op))
            .await?;
        check("GetOperationStatus", &resp)?;
        let st = OperationStatus::of(&resp);
        match st.state {
            state::FINISHED => break st,
            state::INITIALIZED | state::RUNNING | state::PENDING => {}
            _ => {
                let status = Status {
                    code: -1,
                    cause: None,
                    sql_state: st.sql_state.clone(),
                    error_code: st.error_code,
                    message: Some(st.message.clone().unwrap_or_else(|| {
                        format!("the statement ended in state {}", state::name(st.state))
                    })),
                };
                return Err(server_error("statement failed", &status));
            }
        }
        if let Some(limit) = s.query_timeout {
            if started.elapsed() >= limit {
                let _ = open
                    .tr
                    .call("CancelOperation", |w| tcli::only_handle(w, op))
                    .await?;
                // The connection is in step: the operation is closed as usual.
                return Err(HiveError::new(
                    ErrorKind::Timeout,
                    format!("hive: the statement ran longer than {limit:?} and was cancelled"),
                )
                .connection_kept());
            }
        }
        tokio::time::sleep(poll_pause(asked.elapsed(), s.poll_interval)).await;
    };
    let mut out = Outcome {
        modified_rows: status.modified_rows.filter(|n| *n >= 0),
        ..Default::default()
    };
    let has_rows = op.field(3).and_then(Value::bool).unwrap_or(false);
    if !fetch || !has_rows {
        return Ok(out);
    }
    let resp = open
        .tr
        .call("GetResultSetMetadata", |w| tcli::only_handle(w, op))
        .await?;
    check("GetResultSetMetadata", &resp)?;
    out.columns = tcli::schema(&resp);
    // The server's hasMoreRows is not reliable: fetch until a batch comes back empty.
    loop {
        let mut resp = open
            .tr
            .call("FetchResults", |w| tcli::fetch_results(w, op, s.fetch_size))
            .await?;
        check("FetchResults", &resp)?;
        let Some(set) = resp.take(3) else { break };
        let rows = rowset::rows(set, &out.columns)
            .map_err(|e| HiveError::new(ErrorKind::Protocol, format!("hive: FetchResults: {e}")))?;
        if rows.is_empty() {
            break;
        }
        out.rows.extend(rows);
    }
    Ok(out)
}

/// The pause before the next status call, when the last one (which took `spent`) said "running".
/// HiveServer2 holds a status call until the statement ends or its long-polling timeout passes (500 ms
/// in Hive 4), so after a held call the next goes at once; a server that answers at once is asked at
/// most once per `interval`. (Sleeping `interval` after every call added 2 x 50 ms to a 1.2 s query:
/// docs/benchmarks.md, section 9.)
fn poll_pause(spent: Duration, interval: Duration) -> Duration {
    interval.saturating_sub(spent)
}

/// Opens and closes a session, or says why it could not. Runs on a runtime of its own (before
/// the run).
pub fn healthcheck(s: &Settings) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut session = Session::new(s.clone());
        session.open().await?;
        session.close().await
    })
    .map_err(|e| format!("hive: cannot open a session at {}: {}", s.addr(), e.message))
}

#[cfg(test)]
mod tests {
    use super::poll_pause;
    use std::time::Duration;

    #[test]
    fn a_held_status_call_is_followed_at_once_a_quick_one_after_the_rest_of_the_interval() {
        let ms = Duration::from_millis;
        assert_eq!(poll_pause(ms(500), ms(50)), Duration::ZERO);
        assert_eq!(poll_pause(ms(50), ms(50)), Duration::ZERO);
        assert_eq!(poll_pause(ms(1), ms(50)), ms(49));
        assert_eq!(poll_pause(Duration::ZERO, ms(50)), ms(50));
    }
}

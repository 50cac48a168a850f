//! An asynchronous client of the Phoenix Query Server (Avatica over HTTP). Plain Rust, no Lua.
//!
//! One [`Connection`](connection::Connection) is one Avatica connection on the server, opened on
//! first use. Statements run without parameters go through one reusable server statement
//! (`prepareAndExecute`); statements with parameters are prepared once per connection and SQL text
//! and kept until the connection closes. Results are fetched frame by frame. Closing a connection
//! closes its statements on the server; a connection that is dropped without `close` is closed
//! there too (a short blocking call).
//!
//! HTTP goes through one reqwest client per worker thread, as for `loadgen.http`: pooled
//! connections belong to the runtime that drives them.
//!
//! `connection` opens, calls and closes a connection, `statements` runs SQL on it (and commits),
//! `results` collects what a statement gave back, `error` sorts the server's errors.

pub mod connection;
mod error;
pub mod results;
pub mod statements;

use super::wire::Serialization;
use crate::metrics::{ErrorKind, OpError};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

pub const DEFAULT_URL: &str = "http://127.0.0.1:8765";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_FETCH_SIZE: i32 = 1000;

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

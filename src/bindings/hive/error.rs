//! A failed Hive call: its kind, a message, and what HiveServer2 said about it.

use crate::metrics::{Detail, ErrorKind, OpError};

#[derive(Debug, Clone, PartialEq)]
pub struct HiveError {
    pub kind: ErrorKind,
    pub message: String,
    /// The SQL state of a server error (`42S02`: table not found, ...).
    pub sql_state: Option<String>,
    /// Hive's own error code (`10001`, ...).
    pub code: Option<i32>,
    /// The connection is in an unknown state after this error and must be dropped.
    pub broken: bool,
}

impl HiveError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> HiveError {
        HiveError {
            kind,
            message: message.into(),
            sql_state: None,
            code: None,
            broken: !matches!(kind, ErrorKind::Server | ErrorKind::Client),
        }
    }

    /// Marks an error after which the connection is still in step (a cancelled statement).
    pub fn connection_kept(mut self) -> HiveError {
        self.broken = false;
        self
    }

    /// Whether the connection can carry on after this error: only answers from the server
    /// leave it in a known state.
    pub fn keeps_connection(&self) -> bool {
        !self.broken
    }
}

/// Hive's SQL state and error code become the error's details (`sql_state`, `code` in the reply).
impl From<HiveError> for OpError {
    fn from(e: HiveError) -> OpError {
        let mut out = OpError::new(e.kind, e.message);
        if let Some(state) = e.sql_state {
            out = out.with("sql_state", Detail::Text(state));
        }
        if let Some(code) = e.code {
            out = out.with("code", Detail::Int(code.into()));
        }
        out
    }
}

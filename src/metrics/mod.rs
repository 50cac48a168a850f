//! Metrics: per-worker recorders, the timing helper, the run-wide store, thresholds.
//! No tokio and no mlua in this module.

pub mod entry;
pub mod hist;
pub mod lag;
pub mod recorder;
mod spill;
pub mod store;
pub mod thresholds;
#[cfg(test)]
mod thresholds_props;

pub use entry::{MetricKind, Summary};
pub use recorder::{Recorder, Tags};
pub use store::MetricStore;

use std::fmt;

/// Why an operation failed. Counted per metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server could not be reached (refused, DNS, reset before a reply).
    Connect,
    /// No answer within the timeout.
    Timeout,
    /// The server answered with an error of its own (HTTP 5xx, a SQL error, a broker error).
    Server,
    /// The server rejected the request (HTTP 4xx, bad query, mapping conflict).
    Client,
    /// The answer could not be understood (bad framing, unexpected bytes).
    Protocol,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Server => "server",
            ErrorKind::Client => "client",
            ErrorKind::Protocol => "protocol",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed operation: its kind, a message for humans, and what the server said about it in
/// fields a script can test (an HTTP status, Hive's SQL state and error code), which reach the
/// script's reply table beside `err` and `error`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct OpError {
    pub kind: ErrorKind,
    pub message: String,
    pub details: Vec<(&'static str, Detail)>,
}

/// One field of an [`OpError`]'s details.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    Int(i64),
    Text(String),
}

impl OpError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        OpError {
            kind,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// The error with one more detail.
    pub fn with(mut self, key: &'static str, value: Detail) -> Self {
        self.details.push((key, value));
        self
    }
}

/// Highest value a latency histogram tracks: one hour in microseconds.
pub const MAX_TRACKABLE_US: u64 = 3_600_000_000;

/// A new latency histogram: microseconds, 3 significant digits, growing as values arrive.
pub fn new_histogram() -> hdrhistogram::Histogram<u64> {
    let mut h = hdrhistogram::Histogram::<u64>::new(3).expect("3 significant digits is valid");
    h.auto(true);
    h
}

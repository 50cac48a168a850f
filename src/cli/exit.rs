//! Exit codes: part of the user contract, documented in the README.

use std::fmt;

/// The process exit code of a `loadgen` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitCode {
    /// Everything ran and every threshold held.
    Ok = 0,
    /// Something outside the script failed (I/O, result file, internal error).
    Failure = 1,
    /// Bad command-line arguments or bad script `options`; nothing was sent.
    Usage = 2,
    /// The script failed to load, or failed in init, setup or teardown.
    Script = 3,
    /// A server the script needs could not be reached before the run.
    Connect = 4,
    /// The run was stopped early: a threshold with `abort_on_fail` or `lg.abort()`.
    Aborted = 97,
    /// The run was interrupted (Ctrl-C / SIGTERM).
    Interrupted = 98,
    /// The run completed but at least one threshold was crossed (as k6).
    ThresholdsCrossed = 99,
}

impl ExitCode {
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<crate::results::outcome::FailureKind> for ExitCode {
    fn from(kind: crate::results::outcome::FailureKind) -> ExitCode {
        use crate::results::outcome::FailureKind;
        match kind {
            FailureKind::Internal => ExitCode::Failure,
            FailureKind::Script => ExitCode::Script,
            FailureKind::Connect => ExitCode::Connect,
            FailureKind::Aborted => ExitCode::Aborted,
            FailureKind::Interrupted => ExitCode::Interrupted,
        }
    }
}

/// An error that knows which exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: ExitCode,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn new(code: ExitCode, error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code,
            error: error.into(),
        }
    }
    pub fn usage(msg: impl fmt::Display) -> Self {
        Failure::new(ExitCode::Usage, anyhow::anyhow!("{msg}"))
    }
    pub fn script(msg: impl fmt::Display) -> Self {
        Failure::new(ExitCode::Script, anyhow::anyhow!("{msg}"))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure {
            code: ExitCode::Failure,
            error,
        }
    }
}

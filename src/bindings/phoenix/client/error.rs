//! The server's errors as operation errors: their kind from the SQLSTATE, their message.

use crate::bindings::phoenix::wire::ServerError;
use crate::metrics::{ErrorKind, OpError};

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
pub(super) fn phoenix_state(message: &str) -> Option<(i64, String)> {
    let at = message.find("ERROR ")?;
    let rest = &message[at + 6..];
    let (code, rest) = rest.split_once(" (")?;
    let code = code.parse().ok()?;
    let (state, _) = rest.split_once(')')?;
    (state.len() == 5 && state.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| (code, state.to_string()))
}

pub(super) fn server_error(what: &str, e: &ServerError) -> OpError {
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

pub(super) fn protocol(msg: impl Into<String>) -> OpError {
    OpError::new(ErrorKind::Protocol, msg)
}

/// Server errors that mean the connection or statement is gone (server restarted, expired).
pub(super) fn is_missing(e: &ServerError, what: &str) -> bool {
    e.message.contains(what)
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

//! Store bindings. Each has a pure-Rust client (no Lua) and a Lua face (no wire), and records every
//! operation through [`crate::bindings::timing::timed`].

pub mod config;
#[cfg(feature = "elasticsearch")]
pub mod elasticsearch;
#[cfg(feature = "flink")]
pub mod flink;
#[cfg(feature = "hdfs")]
pub mod hdfs;
#[cfg(feature = "hive")]
pub mod hive;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod op;
#[cfg(feature = "phoenix")]
pub mod phoenix;
pub mod timing;

/// The Lua modules of the bindings built into this binary, for [`crate::script::Shared::new`].
pub const MODULES: &[crate::script::Module] = &[
    #[cfg(feature = "elasticsearch")]
    ("loadgen.elasticsearch", elasticsearch::lua::module),
    #[cfg(feature = "flink")]
    ("loadgen.flink", flink::lua::module),
    #[cfg(feature = "hdfs")]
    ("loadgen.hdfs", hdfs::lua::module),
    #[cfg(feature = "kafka")]
    ("loadgen.kafka", kafka::lua::module),
    #[cfg(feature = "hive")]
    ("loadgen.hive", hive::lua::module),
    #[cfg(feature = "phoenix")]
    ("loadgen.phoenix", phoenix::lua::module),
    #[cfg(feature = "http")]
    ("loadgen.http", http::lua::module),
];

use crate::metrics::{Detail, OpError};
pub use crate::script::core::check_keys;
use crate::script::{state, Phase};
use mlua::{Lua, Table};
use std::collections::BTreeMap;

/// An error's text followed by its causes' (`a: b: c`): the clients' own texts are terse.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// The kind of a failed reqwest call (HTTP, Phoenix, Hive over HTTP).
#[cfg(any(feature = "http", feature = "phoenix", feature = "hive"))]
pub fn reqwest_kind(e: &reqwest::Error) -> crate::metrics::ErrorKind {
    use crate::metrics::ErrorKind;
    if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_connect() {
        ErrorKind::Connect
    } else if e.is_builder() {
        ErrorKind::Client
    } else {
        ErrorKind::Protocol
    }
}

/// Sets `err` (the kind), `error` (the message) and the error's details on a result table: how
/// every binding reports a failed operation to the script.
pub fn result_error(t: &Table, e: &OpError) -> mlua::Result<()> {
    t.set("err", e.kind.as_str())?;
    t.set("error", e.message.as_str())?;
    for (key, value) in &e.details {
        match value {
            Detail::Int(n) => t.set(*key, *n)?,
            Detail::Text(s) => t.set(*key, s.as_str())?,
        }
    }
    Ok(())
}

/// Asks for a binding's health check of `target`, once per target: VU 0's init hands it to the
/// engine, which runs every check after init and before `setup()` (its own stage); a server that
/// cannot be reached stops the run with exit code 4, naming the server and its address. `loadgen
/// check` lists the targets and contacts none. `enabled` is the client's `healthcheck` option
/// (default true): with `healthcheck = false`, failures are counted per operation (`connect`,
/// `timeout`) instead.
pub fn healthcheck_if(
    lua: &Lua,
    enabled: bool,
    target: &str,
    check: impl FnOnce() -> Result<(), String> + Send + 'static,
) {
    if !enabled {
        return;
    }
    let st = state(lua);
    if st.vu_id == 0 && st.phase == Phase::Init {
        st.shared.add_healthcheck(target, Box::new(check));
    }
}

/// A table of settings as strings (`config = { ["linger.ms"] = 5 }`).
pub fn string_map(
    lua: &Lua,
    t: Option<Table>,
    what: &str,
) -> mlua::Result<BTreeMap<String, String>> {
    Ok(crate::script::core::string_pairs(lua, t, what)?
        .into_iter()
        .collect())
}

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

pub use crate::util::error_chain;

/// Whether an I/O error is the connection failing under the client (refused, reset, aborted,
/// broken pipe, not connected): the server went away, which is counted as `connect`, not as bytes
/// that are not the protocol. An end of stream is not among them: in a client library's error it
/// is an answer cut off (hyper's body decoder: "end of file before message length reached"), and
/// our HTTP/1.1 client sees a read of 0 and judges it by whether any of the answer had arrived.
pub fn connection_lost(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionReset | ConnectionAborted | BrokenPipe | NotConnected
    )
}

/// Whether `e` or one of its causes is an I/O error of [`connection_lost`].
pub fn lost_connection_in(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(connection_lost)
        {
            return true;
        }
        next = err.source();
    }
    false
}

/// The kind of a failed reqwest call (HTTP, Phoenix, Hive over HTTP). A connection reset, aborted
/// or broken before the answer's head arrived is `connect`; an error reading the body (the answer
/// had started) is `protocol`, whatever its cause.
///
/// Not told apart: hyper's "connection closed before message completed" (an end of stream before
/// the head was complete) carries no cause and is only a `hyper::Error` with
/// `is_incomplete_message()`, and hyper is not a dependency of the library (only reqwest's): a
/// server that closes the connection (FIN, not reset) before answering is `protocol` here, where
/// our HTTP/1.1 client, Elasticsearch and Hive's binary transport count `connect`. Likewise a
/// reset after part of the head arrived is `connect` here (hyper does not say how much it read).
#[cfg(any(feature = "http", feature = "phoenix", feature = "hive"))]
pub fn reqwest_kind(e: &reqwest::Error) -> crate::metrics::ErrorKind {
    use crate::metrics::ErrorKind;
    if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_connect() {
        ErrorKind::Connect
    } else if e.is_builder() {
        ErrorKind::Client
    } else if e.is_body() || e.is_decode() {
        ErrorKind::Protocol
    } else if lost_connection_in(e) {
        ErrorKind::Connect
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

#[cfg(all(test, any(feature = "http", feature = "phoenix", feature = "hive")))]
mod tests {
    use super::reqwest_kind;
    use crate::metrics::ErrorKind;
    use std::io::{Read, Write};

    /// The kind of a reqwest GET (its body read too) against a server that takes one connection
    /// and does `then` with it.
    fn kind_against(then: fn(&mut std::net::TcpStream)) -> (ErrorKind, String) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            then(&mut c);
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let e = rt
            .block_on(async {
                let client = reqwest::Client::builder().no_proxy().build()?;
                client
                    .get(format!("http://{addr}/"))
                    .send()
                    .await?
                    .bytes()
                    .await
            })
            .unwrap_err();
        server.join().unwrap();
        (reqwest_kind(&e), super::error_chain(&e))
    }

    fn read_head(c: &mut std::net::TcpStream) {
        let (mut req, mut b) = (Vec::new(), [0u8; 1]);
        while !req.ends_with(b"\r\n\r\n") && c.read(&mut b).unwrap_or(0) == 1 {
            req.push(b[0]);
        }
    }

    #[test]
    fn reqwest_errors_a_reset_is_connect_and_a_cut_off_answer_protocol() {
        for (how, then, kind) in [
            (
                "reset",
                (|c| {
                    let _ = c.read(&mut [0u8; 1]);
                }) as fn(&mut std::net::TcpStream),
                ErrorKind::Connect,
            ),
            (
                "a short body",
                |c| {
                    read_head(c);
                    c.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort")
                        .unwrap();
                },
                ErrorKind::Protocol,
            ),
            (
                "a chunked body cut off",
                |c| {
                    read_head(c);
                    c.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nsh")
                        .unwrap();
                },
                ErrorKind::Protocol,
            ),
            (
                "half a status line",
                |c| {
                    read_head(c);
                    c.write_all(b"HTTP/1.1 20").unwrap();
                },
                ErrorKind::Protocol,
            ),
            // Not told apart (see reqwest_kind): hyper's "connection closed before message
            // completed" has no cause to find.
            ("closed before answering", read_head, ErrorKind::Protocol),
        ] {
            let (k, chain) = kind_against(then);
            assert_eq!(k, kind, "{how}: {chain}");
        }
    }
}

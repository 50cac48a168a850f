//! The Lua face of `loadgen.kafka`. Every operation returns a table; a failed one has `err` (its
//! kind) and `error` (a message) set and never raises.
//!
//! One file per object a script gets: `producer`, `consumer` (with `lag`, its partitions' figures),
//! `admin`.

mod admin;
mod consumer;
mod lag;
mod producer;

use crate::bindings::config::Strings;
use crate::script::lua_error;
use mlua::{Lua, Table};
use std::time::Duration;

const DEFAULT_BROKERS: &str = "127.0.0.1:9092";
const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// `brokers = "host:port,..."` or a list of them, as librdkafka takes them.
fn brokers(b: &Option<Strings>) -> String {
    b.clone()
        .map_or_else(|| DEFAULT_BROKERS.to_string(), |b| b.into_vec().join(","))
}

/// A client `loadgen check` did not make, asked to work (only init code could; check runs nothing else).
fn offline_client<T: Clone>(lua: &Lua, c: &Option<T>, what: &str) -> mlua::Result<T> {
    c.clone().ok_or_else(|| {
        lua_error(
            lua,
            format!("{what}: not available under loadgen check, which contacts no server"),
        )
    })
}

pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    m.set(
        "producer",
        lua.create_function(|lua, o: Table| producer::producer(lua, o))?,
    )?;
    m.set(
        "consumer",
        lua.create_function(|lua, o: Table| consumer::consumer(lua, o))?,
    )?;
    m.set(
        "admin",
        lua.create_function(|lua, o: Option<Table>| admin::admin(lua, o))?,
    )?;
    Ok(m)
}

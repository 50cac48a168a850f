//! The one path of a binding operation that answers the script with a reply table.

use crate::metrics::recorder::{Tags, Units};
use crate::metrics::OpError;
use crate::script::core::wait_units;
use crate::script::OpScope;
use governor::DefaultDirectRateLimiter;
use mlua::{Lua, Table};
use std::future::Future;

/// Runs one operation and answers the script's reply table. In order: waits until `units` may go
/// through the client's `rate_limit` (the wait is not part of the operation's time), times `op`
/// under `metric` with the VU's tags plus the call's `tags` and records it (through
/// [`crate::bindings::timing`]), then builds the reply: `shape` fills it from the answer, or `err`,
/// `error` and the error's details are set ([`crate::bindings::result_error`]). A failed operation
/// never raises: the script reads `err`.
pub async fn reply<T>(
    lua: &Lua,
    metric: &str,
    tags: Option<Tags>,
    limit: Option<(&DefaultDirectRateLimiter, u32)>,
    op: impl Future<Output = (Result<T, OpError>, Units)>,
    shape: impl FnOnce(&Lua, T, &Table) -> mlua::Result<()>,
) -> mlua::Result<Table> {
    if let Some((limiter, units)) = limit {
        wait_units(limiter, units).await;
    }
    let scope = OpScope::of(lua).with_tags(tags);
    let r = scope.time(metric, op).await;
    let out = lua.create_table()?;
    match r {
        Ok(v) => shape(lua, v, &out)?,
        Err(e) => super::result_error(&out, &e)?,
    }
    Ok(out)
}

//! The Lua face of `loadgen.phoenix`. Knows nothing of the wire. Every call returns a table; a
//! failed one has `err` (its kind) and `error` (a message with the server's own message and SQL
//! state) set and never raises.

use super::client::{self, connection::Connection, results::Outcome, Settings};
use super::wire::{Serialization, Value as Cell};
use crate::bindings::config::{parse, texts, Secs, Text};
use crate::bindings::op::reply;
use crate::bindings::{check_keys, healthcheck_if, result_error};
use crate::metrics::recorder::Units;
use crate::metrics::{OpError, Tags};
use crate::script::core::{make_limiter, tags_arg};
use crate::script::{lua_error, OpScope};
use mlua::{Lua, Table, UserData, UserDataMethods, Value};
use std::rc::Rc;
use std::sync::Arc;

const CALL_KEYS: &[&str] = &["name", "tags"];

type Limiter = Arc<governor::DefaultDirectRateLimiter>;

/// `phoenix.connect{...}`: one connection of this VU.
#[derive(Clone)]
struct Conn {
    c: Rc<Connection>,
    /// Rows per second, shared by every VU.
    limiter: Option<Limiter>,
}

/// `c:prepare(sql)`: prepared on the server at its first use (init code cannot wait for the
/// network), then reused.
#[derive(Clone)]
struct Stmt {
    conn: Conn,
    sql: String,
}

/// The call's tags: `tags = {...}` and the `name` shortcut.
fn call_tags(lua: &Lua, opts: Option<Table>) -> mlua::Result<Option<Tags>> {
    let Some(o) = opts else { return Ok(None) };
    check_keys(lua, "phoenix", &o, CALL_KEYS)?;
    let mut tags = tags_arg(lua, o.get("tags")?)?;
    if let Some(name) = o.get::<Option<String>>("name")? {
        tags.get_or_insert_with(Default::default)
            .insert("name".into(), name);
    }
    Ok(tags)
}

fn to_cell(lua: &Lua, v: &Value, what: &str) -> mlua::Result<Cell> {
    Ok(match v {
        Value::Nil => Cell::Null,
        Value::Boolean(b) => Cell::Bool(*b),
        Value::Integer(i) => Cell::Int(*i),
        Value::Number(n) => Cell::Float(*n),
        Value::String(s) => match std::str::from_utf8(&s.as_bytes()) {
            Ok(t) => Cell::Str(t.to_string()),
            Err(_) => Cell::Bytes(s.as_bytes().to_vec()),
        },
        other => {
            return Err(lua_error(
                lua,
                format!(
                    "{what}: expected nil, a boolean, a number or a string, got {}",
                    other.type_name()
                ),
            ))
        }
    })
}

/// Parameters from a list that may have holes (nil is NULL); missing trailing ones are NULL too.
fn params_arg(lua: &Lua, t: &Table) -> mlua::Result<Vec<Cell>> {
    let mut n = 0;
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        match k {
            Value::Integer(i) if i >= 1 => n = n.max(i as usize),
            other => {
                return Err(lua_error(
                    lua,
                    format!("phoenix parameters: expected a list, found the key {other:?}"),
                ))
            }
        }
    }
    (1..=n)
        .map(|i| to_cell(lua, &t.raw_get::<Value>(i)?, &format!("parameter {i}")))
        .collect()
}

fn to_lua(lua: &Lua, v: Cell) -> mlua::Result<Value> {
    Ok(match v {
        Cell::Null => Value::Nil,
        Cell::Bool(b) => Value::Boolean(b),
        Cell::Int(i) => Value::Integer(i),
        Cell::Float(f) => Value::Number(f),
        Cell::Str(s) | Cell::Decimal(s) => Value::String(lua.create_string(&s)?),
        Cell::Bytes(b) => Value::String(lua.create_string(&b)?),
    })
}

/// Fills a reply with `{ columns, types, rows, count, update_count }`.
fn fill_outcome(lua: &Lua, o: Outcome, out: &Table) -> mlua::Result<()> {
    let names = lua.create_table_with_capacity(o.columns.len(), 0)?;
    let types = lua.create_table_with_capacity(o.columns.len(), 0)?;
    for (i, c) in o.columns.iter().enumerate() {
        names.raw_set(i + 1, c.name.as_str())?;
        types.raw_set(i + 1, c.type_name.as_str())?;
    }
    out.set("columns", names)?;
    out.set("types", types)?;
    out.set("count", o.rows.len())?;
    out.set("update_count", o.update_count)?;
    let rows = lua.create_table_with_capacity(o.rows.len(), 0)?;
    for (i, row) in o.rows.into_iter().enumerate() {
        let r = lua.create_table_with_capacity(row.len(), 0)?;
        for (j, v) in row.into_iter().enumerate() {
            r.raw_set(j + 1, to_lua(lua, v)?)?;
        }
        rows.raw_set(i + 1, r)?;
    }
    out.set("rows", rows)
}

fn error_table(lua: &Lua, e: &OpError) -> mlua::Result<Table> {
    let out = lua.create_table()?;
    result_error(&out, e)?;
    Ok(out)
}

/// The connection's rate limit for `n` rows, if it has one.
fn limit(conn: &Conn, n: u32) -> Option<(&governor::DefaultDirectRateLimiter, u32)> {
    conn.limiter.as_deref().map(|l| (l, n))
}

/// Opens the connection (`phoenix.connect`) and prepares `sql` (`phoenix.prepare`) when they are
/// not yet, each timed on its own so the first statement's time holds only the statement.
async fn ready(scope: &OpScope, c: &Connection, prepare: Option<&str>) -> Result<(), OpError> {
    if !c.is_open() {
        scope
            .time("phoenix.connect", async { (c.open().await, Units::none()) })
            .await?;
    }
    if let Some(sql) = prepare {
        if !c.is_prepared(sql) {
            scope
                .time("phoenix.prepare", async {
                    (c.prepare(sql).await.map(|_| ()), Units::none())
                })
                .await?;
        }
    }
    Ok(())
}

/// One statement: without parameters through `prepareAndExecute`, with them as a prepared
/// statement. Units: rows returned, or rows changed.
async fn run(
    lua: &Lua,
    conn: &Conn,
    metric: &'static str,
    sql: &str,
    params: Option<Vec<Cell>>,
    tags: Option<Tags>,
) -> mlua::Result<Table> {
    let c = &conn.c;
    let scope = OpScope::of(lua).with_tags(tags.clone());
    if let Err(e) = ready(&scope, c, params.as_ref().map(|_| sql)).await {
        return error_table(lua, &e);
    }
    let statement = async {
        let r = match &params {
            None => c.execute(sql).await,
            Some(p) => c.execute_prepared(sql, p).await,
        };
        let units = match &r {
            Ok(o) => Units::none().with("rows", o.units()),
            Err(_) => Units::none(),
        };
        (r, units)
    };
    reply(lua, metric, tags, limit(conn, 1), statement, fill_outcome).await
}

async fn simple(lua: &Lua, conn: &Conn, metric: &'static str, commit: bool) -> mlua::Result<Table> {
    let c = &conn.c;
    if let Err(e) = ready(&OpScope::of(lua), c, None).await {
        return error_table(lua, &e);
    }
    let end = async {
        let r = if commit {
            c.commit().await
        } else {
            c.rollback().await
        };
        (r, Units::none())
    };
    reply(lua, metric, None, None, end, |_, (), out| {
        out.set("ok", true)
    })
    .await
}

fn opt_params(lua: &Lua, p: Option<Table>) -> mlua::Result<Option<Vec<Cell>>> {
    p.map(|t| params_arg(lua, &t)).transpose()
}

impl UserData for Conn {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        // execute(sql, params, { tags, name }) -> { columns, types, rows, count, update_count }
        for (method, metric) in [("execute", "phoenix.execute"), ("query", "phoenix.query")] {
            m.add_async_method(
                method,
                move |lua, this, (sql, params, o): (String, Option<Table>, Option<Table>)| {
                    let conn = this.clone();
                    async move {
                        let params = opt_params(&lua, params)?;
                        let tags = call_tags(&lua, o)?;
                        run(&lua, &conn, metric, &sql, params, tags).await
                    }
                },
            );
        }
        m.add_method("prepare", |_, this, sql: String| {
            Ok(Stmt {
                conn: this.clone(),
                sql,
            })
        });
        m.add_async_method("commit", |lua, this, ()| {
            let conn = this.clone();
            async move { simple(&lua, &conn, "phoenix.commit", true).await }
        });
        m.add_async_method("rollback", |lua, this, ()| {
            let conn = this.clone();
            async move { simple(&lua, &conn, "phoenix.rollback", false).await }
        });
        // close(): closes the connection and its statements on the server; a later call opens
        // a new one.
        m.add_async_method("close", |lua, this, ()| {
            let conn = this.clone();
            async move {
                let out = lua.create_table()?;
                match conn.c.close().await {
                    Ok(()) => out.set("ok", true)?,
                    Err(e) => result_error(&out, &e)?,
                }
                Ok(out)
            }
        });
        m.add_method("id", |_, this, ()| Ok(this.c.id().to_string()));
    }
}

impl UserData for Stmt {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        for (method, metric) in [("execute", "phoenix.execute"), ("query", "phoenix.query")] {
            m.add_async_method(
                method,
                move |lua, this, (params, o): (Option<Table>, Option<Table>)| {
                    let st = this.clone();
                    async move {
                        let params = opt_params(&lua, params)?.unwrap_or_default();
                        let tags = call_tags(&lua, o)?;
                        run(&lua, &st.conn, metric, &st.sql, Some(params), tags).await
                    }
                },
            );
        }
        // execute_batch({ {p1, p2, ...}, ... }, { tags, name }) -> { count, updated, update_counts }
        m.add_async_method(
            "execute_batch",
            |lua, this, (rows, o): (Table, Option<Table>)| {
                let st = this.clone();
                async move {
                    let mut batch = Vec::with_capacity(rows.raw_len());
                    for row in rows.sequence_values::<Value>() {
                        match row? {
                            Value::Table(t) => batch.push(params_arg(&lua, &t)?),
                            other => {
                                return Err(lua_error(
                                    &lua,
                                    format!(
                                    "execute_batch: expected a list of parameter lists, found {}",
                                    other.type_name()
                                ),
                                ))
                            }
                        }
                    }
                    let tags = call_tags(&lua, o)?;
                    let c = &st.conn.c;
                    let scope = OpScope::of(&lua).with_tags(tags.clone());
                    if let Err(e) = ready(&scope, c, Some(&st.sql)).await {
                        return error_table(&lua, &e);
                    }
                    let n = batch.len();
                    let execute = async {
                        let r = c.execute_batch(&st.sql, &batch).await;
                        let units = match &r {
                            Ok(counts) => Units::none()
                                .with("rows", counts.iter().map(|&n| n.max(0) as u64).sum()),
                            Err(_) => Units::none(),
                        };
                        (r, units)
                    };
                    let limit = limit(&st.conn, n as u32);
                    let out = reply(
                        &lua,
                        "phoenix.execute",
                        tags,
                        limit,
                        execute,
                        |lua, counts, out| {
                            out.set("updated", counts.iter().map(|&n| n.max(0)).sum::<i64>())?;
                            out.set("update_counts", lua.create_sequence_from(counts)?)
                        },
                    )
                    .await?;
                    out.set("count", n)?;
                    Ok(out)
                }
            },
        );
        m.add_async_method("close", |lua, this, ()| {
            let st = this.clone();
            async move {
                st.conn.c.close_statement(&st.sql).await;
                let out = lua.create_table()?;
                out.set("ok", true)?;
                Ok(out)
            }
        });
        m.add_method("sql", |_, this, ()| Ok(this.sql.clone()));
    }
}

/// `phoenix.connect{...}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectConfig {
    url: Option<String>,
    serialization: Option<String>,
    timeout: Option<Secs>,
    autocommit: Option<bool>,
    fetch_size: Option<i64>,
    max_rows: Option<i64>,
    /// Connection properties, as the thick client's `Properties`.
    info: Option<std::collections::BTreeMap<String, Text>>,
    healthcheck: Option<bool>,
    /// Rows per second, shared by every VU (`name` tells two limiters apart).
    rate_limit: Option<f64>,
    burst: Option<u32>,
    name: Option<String>,
}

impl ConnectConfig {
    fn settings(&mut self) -> Result<Settings, String> {
        let mut s = Settings::default();
        if let Some(url) = &self.url {
            s.url = url.trim_end_matches('/').to_string();
        }
        if let Some(ser) = &self.serialization {
            s.serialization = match ser.to_ascii_lowercase().as_str() {
                "protobuf" => Serialization::Protobuf,
                "json" => Serialization::Json,
                other => {
                    return Err(format!(
                    "phoenix.connect: serialization '{other}': expected \"protobuf\" or \"json\""
                ))
                }
            };
        }
        if let Some(t) = self.timeout {
            s.timeout = t.0;
        }
        if let Some(a) = self.autocommit {
            s.autocommit = a;
        }
        if let Some(n) = self.fetch_size {
            s.fetch_size = i32::try_from(n).unwrap_or(0);
        }
        if let Some(n) = self.max_rows {
            s.max_rows = n;
        }
        s.info = texts(self.info.take());
        s.validate()?;
        Ok(s)
    }
}

fn connect(lua: &Lua, o: Option<Table>) -> mlua::Result<Conn> {
    let mut c: ConnectConfig = parse(lua, "phoenix.connect", o.as_ref())?;
    let s = c.settings().map_err(|e| lua_error(lua, e))?;
    let check = s.clone();
    healthcheck_if(
        lua,
        c.healthcheck != Some(false),
        &format!("phoenix {} ({})", s.url, s.serialization.name()),
        move || client::connection::healthcheck(&check),
    );
    let limiter = match c.rate_limit {
        Some(r) => Some(make_limiter(
            lua,
            "phoenix.connect rate_limit",
            c.name.as_deref(),
            &s.url,
            r,
            c.burst,
        )?),
        None => None,
    };
    Ok(Conn {
        c: Rc::new(Connection::new(s)),
        limiter,
    })
}

pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    m.set(
        "connect",
        lua.create_function(|lua, o: Option<Table>| connect(lua, o))?,
    )?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::config::from_json;
    use serde_json::json;

    fn config(v: serde_json::Value) -> Result<Settings, String> {
        from_json::<ConnectConfig>("phoenix.connect", v)?.settings()
    }

    #[test]
    fn connect_config_from_literals() {
        let d = config(json!({})).unwrap();
        assert_eq!(d.serialization, Serialization::Protobuf);
        let s = config(
            json!({ "url": "http://127.0.0.1:8766/", "serialization": "JSON",
            "timeout": "2s", "autocommit": false, "info": { "phoenix.query.timeoutMs": 5000 } }),
        )
        .unwrap();
        assert_eq!(s.url, "http://127.0.0.1:8766");
        assert_eq!(s.serialization, Serialization::Json);
        assert_eq!(s.timeout, std::time::Duration::from_secs(2));
        assert!(!s.autocommit);
        assert_eq!(s.info["phoenix.query.timeoutMs"], "5000");
        let e = config(json!({ "serialization": "xml" })).unwrap_err();
        assert!(e.contains("serialization 'xml'"), "{e}");
        let e = config(json!({ "serilization": "json" })).unwrap_err();
        assert!(e.ends_with("valid: autocommit, burst, fetch_size, healthcheck, info, max_rows, name, rate_limit, serialization, timeout, url"), "{e}");
    }
}

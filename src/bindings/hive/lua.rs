//! The Lua face of `loadgen.hive`. Every call returns a table; a failed one has `err`, `error` and,
//! for Hive's own errors, `sql_state` and `code`, and never raises.

use super::client::{self, Auth, Outcome, Session, Settings};
use super::rowset::Cell;
use crate::bindings::config::{parse, texts, Secs, Text};
use crate::bindings::op::reply;
use crate::bindings::timing::{record_failed, timed};
use crate::bindings::{check_keys, healthcheck_if, result_error, string_map};
use crate::metrics::recorder::Units;
use crate::metrics::OpError;
use crate::script::core::tags_arg;
use crate::script::{lua_error, OpScope};
use mlua::{Lua, Table, UserData, UserDataMethods, Value};
use std::rc::Rc;
use std::time::Duration;

/// A session: one connection, opened on first use, shared by whoever holds this handle (a VU's
/// init code makes one per VU).
#[derive(Clone)]
struct Handle(Rc<tokio::sync::Mutex<Session>>);

const CALL_KEYS: &[&str] = &["conf", "name", "named", "tags"];

fn cell(lua: &Lua, c: Cell) -> mlua::Result<Value> {
    Ok(match c {
        Cell::Null => Value::Nil,
        Cell::Bool(b) => Value::Boolean(b),
        Cell::Int(i) => Value::Integer(i),
        Cell::Float(f) => Value::Number(f),
        Cell::Str(s) => Value::String(lua.create_string(&s)?),
    })
}

/// `{ columns, types, rows, row_count }`.
fn outcome(lua: &Lua, o: Outcome, out: &Table, named: bool) -> mlua::Result<()> {
    let names = lua.create_sequence_from(o.columns.iter().map(|c| c.name.clone()))?;
    let types = lua.create_sequence_from(o.columns.iter().map(|c| c.type_name()))?;
    let rows = lua.create_table_with_capacity(o.rows.len(), 0)?;
    for (i, r) in o.rows.into_iter().enumerate() {
        let row = if named {
            lua.create_table_with_capacity(0, r.len())?
        } else {
            lua.create_table_with_capacity(r.len(), 0)?
        };
        for (j, c) in r.into_iter().enumerate() {
            let v = cell(lua, c)?;
            if named {
                row.raw_set(o.columns[j].name.as_str(), v)?;
            } else {
                row.raw_set(j + 1, v)?;
            }
        }
        rows.raw_set(i + 1, row)?;
    }
    out.set("row_count", rows.raw_len())?;
    out.set("columns", names)?;
    out.set("types", types)?;
    out.set("rows", rows)
}

/// Runs one statement under `hive.query`; a session that has to be opened first is timed under
/// `hive.connect`.
async fn statement(
    lua: &Lua,
    h: &Handle,
    sql: String,
    o: Option<Table>,
    fetch: bool,
) -> mlua::Result<Table> {
    let o = match o {
        Some(t) => t,
        None => lua.create_table()?,
    };
    check_keys(
        lua,
        if fetch { "hive query" } else { "hive execute" },
        &o,
        CALL_KEYS,
    )?;
    let mut tags = tags_arg(lua, o.get("tags")?)?;
    if let Some(name) = o.get::<Option<String>>("name")? {
        tags.get_or_insert_with(Default::default)
            .insert("name".into(), name);
    }
    let conf = string_map(lua, o.get("conf")?, "conf")?;
    let named = o.get::<Option<bool>>("named")?.unwrap_or(false);
    let mut session = h.0.lock().await;
    if !session.is_open() {
        // Opening a session belongs to no statement: it carries the VU's tags, not the call's.
        let base = OpScope::of(lua);
        let connect = base.meta("hive.connect");
        let start = tokio::time::Instant::now();
        let opened = timed(connect, async {
            (session.open().await.map_err(OpError::from), Units::none())
        })
        .await;
        if let Err(e) = opened {
            // The statement fails with the session: counted, with the failed attempt's time.
            let scope = OpScope::of(lua).with_tags(tags);
            let units = Units::none().with("rows", 0);
            record_failed(scope.meta("hive.query"), start, &e, &units);
            let out = lua.create_table()?;
            result_error(&out, &e)?;
            return Ok(out);
        }
    }
    let run = async {
        match session.run(&sql, &conf, fetch).await {
            Ok(o) => {
                let n = if fetch {
                    o.rows.len() as u64
                } else {
                    o.modified_rows.unwrap_or(0) as u64
                };
                (Ok(o), Units::none().with("rows", n))
            }
            Err(e) => (Err(e.into()), Units::none().with("rows", 0)),
        }
    };
    reply(lua, "hive.query", tags, None, run, |lua, o, out| {
        if fetch {
            outcome(lua, o, out, named)
        } else {
            out.set("ok", true)?;
            out.set("modified_rows", o.modified_rows)
        }
    })
    .await
}

impl UserData for Handle {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        // execute(sql, { name, tags, conf }) -> { ok, modified_rows }
        m.add_async_method("execute", |lua, this, (sql, o): (String, Option<Table>)| {
            let h = this.clone();
            async move { statement(&lua, &h, sql, o, false).await }
        });
        // query(sql, { name, tags, conf, named }) -> { columns, types, rows, row_count }
        m.add_async_method("query", |lua, this, (sql, o): (String, Option<Table>)| {
            let h = this.clone();
            async move { statement(&lua, &h, sql, o, true).await }
        });
        // server() -> "host:port" of the HiveServer2 the session is open on (nil while none is; with
        // zookeeper discovery, the instance it found).
        m.add_async_method("server", |_, this, ()| {
            let h = this.clone();
            async move {
                let s = h.0.lock().await;
                Ok(s.is_open()
                    .then(|| format!("{}:{}", s.settings().host, s.settings().port)))
            }
        });
        // close() -> { ok }: closes the session; the next statement opens a new one.
        m.add_async_method("close", |lua, this, ()| {
            let h = this.clone();
            async move {
                let out = lua.create_table()?;
                match h.0.lock().await.close().await {
                    Ok(()) => out.set("ok", true)?,
                    Err(e) => result_error(&out, &e.into())?,
                }
                Ok(out)
            }
        });
    }
}

/// `hive.connect{...}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectConfig {
    host: Option<String>,
    port: Option<i64>,
    /// HiveServer2 service discovery: "host:port,..." of ZooKeeper, instead of host and port.
    zookeeper: Option<String>,
    namespace: Option<String>,
    transport: Option<String>,
    http_path: Option<String>,
    auth: Option<String>,
    user: Option<String>,
    /// Text: a password Lua holds as a number is still a password (and a type error would show it).
    password: Option<Text>,
    database: Option<String>,
    timeout: Option<Secs>,
    query_timeout: Option<Secs>,
    poll_interval: Option<Secs>,
    fetch_size: Option<i64>,
    session_conf: Option<std::collections::BTreeMap<String, Text>>,
    healthcheck: Option<bool>,
}

impl ConnectConfig {
    fn settings(self) -> Result<Settings, String> {
        let bad = |m: &str| Err(format!("hive.connect: {m}"));
        let http = match self.transport.as_deref() {
            None | Some("binary") => false,
            Some("http") => true,
            Some(t) => return bad(&format!("transport '{t}' is not one of: binary, http")),
        };
        let auth = match self.auth.as_deref() {
            None | Some("none") => Auth::None,
            Some("plain") => Auth::Plain,
            Some("nosasl") => Auth::NoSasl,
            Some(a) => return bad(&format!("auth '{a}' is not one of: none, nosasl, plain")),
        };
        if auth == Auth::Plain && (self.user.is_none() || self.password.is_none()) {
            return bad("auth 'plain' needs user and password");
        }
        if http && auth == Auth::NoSasl {
            return bad(
                "auth 'nosasl' is for the binary transport; over http use 'none' or 'plain'",
            );
        }
        if self.http_path.is_some() && !http {
            return bad("http_path needs transport = \"http\"");
        }
        let port = self.port.unwrap_or(if http { 10001 } else { 10000 });
        let Some(port) = u16::try_from(port).ok().filter(|p| *p > 0) else {
            return bad(&format!("port {port} is not a TCP port"));
        };
        let fetch_size = self.fetch_size.unwrap_or(10_000);
        if fetch_size < 1 {
            return bad(&format!("fetch_size {fetch_size} must be at least 1"));
        }
        if self.zookeeper.is_some() && (self.host.is_some() || self.port.is_some()) {
            return bad("zookeeper finds the instances: give it without host and port");
        }
        if self.zookeeper.is_some() && http {
            return bad("zookeeper discovery is for the binary transport here");
        }
        if self.namespace.is_some() && self.zookeeper.is_none() {
            return bad("namespace needs zookeeper = \"host:port,...\"");
        }
        let namespace = self.namespace;
        let discovery = self
            .zookeeper
            .map(|z| (z, namespace.unwrap_or_else(|| "hiveserver2".into())));
        let port = if discovery.is_some() { 0 } else { port };
        let secs = |d: Option<Secs>, default: Duration| d.map_or(default, |d| d.0);
        Ok(Settings {
            host: self.host.unwrap_or_else(|| "127.0.0.1".into()),
            port,
            discovery,
            user: self.user.unwrap_or_else(|| "anonymous".into()),
            password: self.password.map_or_else(|| "anonymous".into(), |p| p.0),
            database: self.database,
            auth,
            timeout: secs(self.timeout, Duration::from_secs(60)),
            fetch_size,
            poll_interval: secs(self.poll_interval, Duration::from_millis(50)),
            query_timeout: self.query_timeout.map(|d| d.0).filter(|d| !d.is_zero()),
            session_conf: texts(self.session_conf),
            http_path: http.then(|| self.http_path.unwrap_or_else(|| "cliservice".into())),
        })
    }
}

fn connect(lua: &Lua, o: Option<Table>) -> mlua::Result<Handle> {
    let c: ConnectConfig = parse(lua, "hive.connect", o.as_ref())?;
    let enabled = c.healthcheck != Some(false);
    let s = c.settings().map_err(|e| lua_error(lua, e))?;
    let check = s.clone();
    healthcheck_if(lua, enabled, &format!("hive {}", s.addr()), move || {
        client::healthcheck(&check)
    });
    Ok(Handle(Rc::new(tokio::sync::Mutex::new(Session::new(s)))))
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
        from_json::<ConnectConfig>("hive.connect", v)?.settings()
    }

    #[test]
    fn connect_config_from_literals() {
        let s = config(json!({})).unwrap();
        assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", 10000));
        assert_eq!(s.http_path, None);
        let s = config(
            json!({ "transport": "http", "auth": "plain", "user": "u", "password": "p",
            "query_timeout": "30s", "session_conf": { "hive.exec.parallel": true, "n": 3 } }),
        )
        .unwrap();
        assert_eq!(s.port, 10001);
        assert_eq!(s.http_path.as_deref(), Some("cliservice"));
        assert_eq!(s.query_timeout, Some(Duration::from_secs(30)));
        assert_eq!(s.session_conf["hive.exec.parallel"], "true");
        assert_eq!(s.session_conf["n"], "3");
        // A password Lua holds as a number is its text, never an error that would print it.
        let s = config(json!({ "auth": "plain", "user": "u", "password": 1234 })).unwrap();
        assert_eq!(s.password, "1234");
        let s = config(json!({ "zookeeper": "127.0.0.1:2182" })).unwrap();
        assert_eq!(
            s.discovery,
            Some(("127.0.0.1:2182".into(), "hiveserver2".into()))
        );
        for (bad, says) in [
            (
                json!({ "transport": "udp" }),
                "transport 'udp' is not one of",
            ),
            (json!({ "auth": "plain" }), "needs user and password"),
            (
                json!({ "transport": "http", "auth": "nosasl" }),
                "'nosasl' is for the binary",
            ),
            (json!({ "http_path": "x" }), "http_path needs transport"),
            (json!({ "port": 70000 }), "port 70000 is not a TCP port"),
            (
                json!({ "fetch_size": 0 }),
                "fetch_size 0 must be at least 1",
            ),
            (
                json!({ "zookeeper": "z:1", "port": 1 }),
                "without host and port",
            ),
            (json!({ "namespace": "n" }), "namespace needs zookeeper"),
            (
                json!({ "timeout": [] }),
                "hive.connect: timeout: invalid type",
            ),
            (
                json!({ "password": { "pw": "secret-1" } }),
                "hive.connect: password: expected a string, number or boolean, got a table",
            ),
            (
                json!({ "prot": 1 }),
                "unknown option 'prot'; valid: auth, database,",
            ),
        ] {
            let e = config(bad).unwrap_err();
            assert!(e.contains(says) && !e.contains("secret-1"), "{e}");
        }
    }
}

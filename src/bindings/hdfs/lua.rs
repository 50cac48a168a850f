//! The Lua face of `loadgen.hdfs`. Every call returns a table; a failed one has `err` and `error`
//! set and never raises.

use super::client::{self, Settings, Writer};
use super::wire::WriteOptions;
use crate::bindings::config::{parse, Secs, Strings};
use crate::bindings::op::reply;
use crate::bindings::{check_keys, healthcheck_if};
use crate::script::core::tags_arg;
use crate::script::lua_error;
use mlua::{Lua, LuaString, Table, UserData, UserDataMethods, Value};
use std::time::Duration;

#[derive(Clone)]
struct Client(Settings);

fn opt(lua: &Lua, o: Option<Table>) -> mlua::Result<Table> {
    o.map(Ok).unwrap_or_else(|| lua.create_table())
}

/// An optional whole number from 1 to `max` (replication, block size).
fn positive(lua: &Lua, o: &Table, key: &str, max: u64) -> mlua::Result<Option<u64>> {
    match o.get::<Value>(key)? {
        Value::Nil => Ok(None),
        Value::Integer(n) if n >= 1 && n as u64 <= max => Ok(Some(n as u64)),
        v => Err(lua_error(
            lua,
            format!(
                "hdfs write: {key} must be a whole number of at least 1{}, not {}",
                if max < u64::MAX {
                    format!(" (and at most {max})")
                } else {
                    String::new()
                },
                match v {
                    Value::Integer(n) => n.to_string(),
                    Value::Number(n) => n.to_string(),
                    other => other.type_name().to_string(),
                }
            ),
        )),
    }
}

impl UserData for Client {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        // write(path, data, { overwrite = true, replication, block_size, tags })
        m.add_async_method(
            "write",
            |lua, this, (path, data, o): (String, LuaString, Option<Table>)| {
                let s = this.0.clone();
                async move {
                    let o = opt(&lua, o)?;
                    check_keys(
                        &lua,
                        "hdfs write",
                        &o,
                        &["block_size", "overwrite", "replication", "tags"],
                    )?;
                    let wo = WriteOptions {
                        overwrite: o.get::<Option<bool>>("overwrite")?.unwrap_or(true),
                        replication: positive(&lua, &o, "replication", 512)?.map(|r| r as u32),
                        block_size: positive(&lua, &o, "block_size", u64::MAX)?,
                    };
                    let data = data.as_bytes().to_vec();
                    reply(
                        &lua,
                        "hdfs.write",
                        tags_arg(&lua, o.get("tags")?)?,
                        None,
                        client::write(&s, &path, data, wo),
                        |_, (), out| out.set("ok", true),
                    )
                    .await
                }
            },
        );
        m.add_async_method(
            "append",
            |lua, this, (path, data, o): (String, LuaString, Option<Table>)| {
                let s = this.0.clone();
                async move {
                    let o = opt(&lua, o)?;
                    let data = data.as_bytes().to_vec();
                    reply(
                        &lua,
                        "hdfs.append",
                        tags_arg(&lua, o.get("tags")?)?,
                        None,
                        client::append(&s, &path, data),
                        |_, (), out| out.set("ok", true),
                    )
                    .await
                }
            },
        );
        // read(path) -> { data }
        m.add_async_method("read", |lua, this, (path, o): (String, Option<Table>)| {
            let s = this.0.clone();
            async move {
                let o = opt(&lua, o)?;
                reply(
                    &lua,
                    "hdfs.read",
                    tags_arg(&lua, o.get("tags")?)?,
                    None,
                    client::read(&s, &path),
                    |lua, data, out| {
                        out.set("size", data.len())?;
                        out.set("data", lua.create_string(&data)?)
                    },
                )
                .await
            }
        });
        // list(path, { recursive }) -> { entries = { { path, length, dir } } }
        m.add_async_method("list", |lua, this, (path, o): (String, Option<Table>)| {
            let s = this.0.clone();
            async move {
                let o = opt(&lua, o)?;
                let recursive = o.get::<Option<bool>>("recursive")?.unwrap_or(false);
                reply(
                    &lua,
                    "hdfs.list",
                    tags_arg(&lua, o.get("tags")?)?,
                    None,
                    client::list(&s, &path, recursive),
                    |lua, entries, out| {
                        let t = lua.create_table()?;
                        for (i, (p, len, dir)) in entries.into_iter().enumerate() {
                            let e = lua.create_table()?;
                            e.set("path", p)?;
                            e.set("length", len)?;
                            e.set("dir", dir)?;
                            t.raw_set(i + 1, e)?;
                        }
                        out.set("entries", t)
                    },
                )
                .await
            }
        });
        m.add_async_method("mkdirs", |lua, this, path: String| {
            let s = this.0.clone();
            async move {
                reply(
                    &lua,
                    "hdfs.mkdirs",
                    None,
                    None,
                    client::mkdirs(&s, &path),
                    |_, (), out| out.set("ok", true),
                )
                .await
            }
        });
        m.add_async_method("delete", |lua, this, (path, o): (String, Option<Table>)| {
            let s = this.0.clone();
            async move {
                let o = opt(&lua, o)?;
                let recursive = o.get::<Option<bool>>("recursive")?.unwrap_or(false);
                reply(
                    &lua,
                    "hdfs.delete",
                    None,
                    None,
                    client::delete(&s, &path, recursive),
                    |_, deleted, out| {
                        out.set("ok", true)?;
                        out.set("deleted", deleted)
                    },
                )
                .await
            }
        });
        // du(path) -> { bytes, files, dirs }
        m.add_async_method("du", |lua, this, path: String| {
            let s = this.0.clone();
            async move {
                reply(
                    &lua,
                    "hdfs.du",
                    None,
                    None,
                    client::du(&s, &path),
                    |_, (bytes, files, dirs), out| {
                        out.set("bytes", bytes)?;
                        out.set("files", files)?;
                        out.set("dirs", dirs)
                    },
                )
                .await
            }
        });
    }
}

/// `hdfs.client{...}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientConfig {
    url: Option<String>,
    /// The NameNodes of a nameservice URL (`hdfs://NAME`), which the client fails over between.
    namenodes: Option<Strings>,
    timeout: Option<Secs>,
    user: Option<String>,
    writer: Option<String>,
    healthcheck: Option<bool>,
}

impl ClientConfig {
    fn settings(self) -> Result<Settings, String> {
        let url = self
            .url
            .unwrap_or_else(|| "hdfs://127.0.0.1:8020".to_string());
        if !url.starts_with("hdfs://") {
            return Err(format!("hdfs.client: url '{url}' must start with hdfs://"));
        }
        let timeout = self.timeout.map_or(Duration::from_secs(30), |t| t.0);
        let writer = match self.writer {
            None => Writer::Loadgen,
            Some(w) => Writer::parse(&w).ok_or_else(|| {
                format!("hdfs.client: writer '{w}' is not one of: loadgen, hdfs-native")
            })?,
        };
        let s = Settings::new(
            url,
            timeout,
            self.user,
            writer,
            self.namenodes.map(Strings::into_vec).unwrap_or_default(),
        );
        if s.nameservice().is_some() && s.namenodes.is_empty() {
            return Err(format!(
                "hdfs.client: url '{}' names a nameservice: give its NameNodes, namenodes = {{ \"host:port\", ... }}",
                s.url
            ));
        }
        if s.nameservice().is_none() && !s.namenodes.is_empty() {
            return Err(format!(
                "hdfs.client: namenodes are for a nameservice URL (hdfs://NAME), not '{}'",
                s.url
            ));
        }
        Ok(s)
    }
}

fn client_ctor(lua: &Lua, o: Option<Table>) -> mlua::Result<Client> {
    let c: ClientConfig = parse(lua, "hdfs.client", o.as_ref())?;
    let enabled = c.healthcheck != Some(false);
    let s = c.settings().map_err(|e| lua_error(lua, e))?;
    let check = s.clone();
    healthcheck_if(lua, enabled, &format!("hdfs {}", s.url), move || {
        client::healthcheck(&check)
    });
    Ok(Client(s))
}

pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    m.set(
        "client",
        lua.create_function(|lua, o: Option<Table>| client_ctor(lua, o))?,
    )?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::config::from_json;
    use serde_json::json;

    fn config(v: serde_json::Value) -> Result<Settings, String> {
        from_json::<ClientConfig>("hdfs.client", v)?.settings()
    }

    #[test]
    fn client_config_from_literals() {
        let s = config(json!({})).unwrap();
        assert_eq!(s.url, "hdfs://127.0.0.1:8020");
        assert_eq!(s.writer, Writer::Loadgen);
        let s = config(
            json!({ "url": "hdfs://loadgen", "namenodes": ["127.0.0.1:8020", "127.0.0.1:8021"],
            "writer": "hdfs-native", "timeout": 5 }),
        )
        .unwrap();
        assert_eq!(s.namenodes.len(), 2);
        assert_eq!(s.timeout, Duration::from_secs(5));
        for (bad, says) in [
            (json!({ "url": "http://x" }), "must start with hdfs://"),
            (
                json!({ "writer": "fast" }),
                "is not one of: loadgen, hdfs-native",
            ),
            (json!({ "url": "hdfs://loadgen" }), "give its NameNodes"),
            (
                json!({ "namenodes": ["a:1"] }),
                "namenodes are for a nameservice URL",
            ),
            (
                json!({ "namenode": ["a:1"] }),
                "valid: healthcheck, namenodes, timeout, url, user, writer",
            ),
        ] {
            let e = config(bad).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }
}

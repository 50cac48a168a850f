//! `kafka.admin{...}` and its methods: `create_topic`, `delete_topic`, `describe`.

use super::{brokers, offline_client, HEALTHCHECK_TIMEOUT};
use crate::bindings::config::{parse, Strings};
use crate::bindings::kafka::client;
use crate::bindings::op::reply;
use crate::bindings::{check_keys, healthcheck_if, result_error, string_map};
use crate::metrics::recorder::Units;
use crate::metrics::OpError;
use crate::script::core::duration_arg;
use crate::script::{lua_error, state};
use mlua::{Lua, Table, UserData, UserDataMethods, Value};
use std::sync::Arc;
use std::time::Duration;

/// Times a topic administration call as `kafka.admin`: `{ ok = true }` or `{ err, error }`.
async fn admin_op(
    lua: &Lua,
    op: impl std::future::Future<Output = Result<(), OpError>>,
) -> mlua::Result<Table> {
    let call = async { (op.await, Units::none()) };
    reply(lua, "kafka.admin", None, None, call, |_, (), out| {
        out.set("ok", true)
    })
    .await
}

pub(super) struct Admin {
    brokers: String,
    /// None under `loadgen check`.
    inner: Option<Arc<rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext>>>,
}

impl UserData for Admin {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_async_method("create_topic", |lua, this, o: Table| {
            let admin = this.inner.clone();
            async move {
                let admin = offline_client(&lua, &admin, "kafka.admin")?;
                check_keys(
                    &lua,
                    "create_topic",
                    &o,
                    &["name", "partitions", "replication", "config", "timeout"],
                )?;
                let name: String = o
                    .get::<Option<String>>("name")?
                    .ok_or_else(|| lua_error(&lua, "create_topic: 'name' is required"))?;
                let partitions: i32 = o.get::<Option<i32>>("partitions")?.unwrap_or(1);
                let replication: i32 = o.get::<Option<i32>>("replication")?.unwrap_or(1);
                let config = string_map(&lua, o.get("config")?, "create_topic config")?;
                let timeout = match o.get::<Option<Value>>("timeout")? {
                    Some(v) => duration_arg(&lua, &v, "create_topic timeout")?,
                    None => Duration::from_secs(30),
                };
                admin_op(
                    &lua,
                    client::admin::create_topic(
                        &admin,
                        &name,
                        partitions,
                        replication,
                        &config,
                        timeout,
                    ),
                )
                .await
            }
        });
        m.add_async_method("delete_topic", |lua, this, name: String| {
            let admin = this.inner.clone();
            async move {
                let admin = offline_client(&lua, &admin, "kafka.admin")?;
                admin_op(
                    &lua,
                    client::admin::delete_topic(&admin, &name, Duration::from_secs(30)),
                )
                .await
            }
        });
        m.add_async_method("describe", |lua, this, name: String| {
            let brokers = this.brokers.clone();
            async move {
                let out = lua.create_table()?;
                match client::admin::describe(brokers, name.clone(), Duration::from_secs(10)).await
                {
                    Ok((brokers, parts)) => {
                        out.set("name", name)?;
                        out.set("brokers", lua.create_sequence_from(brokers)?)?;
                        let ps = lua.create_table()?;
                        for (i, p) in parts.iter().enumerate() {
                            let t = lua.create_table()?;
                            t.set("id", p.id)?;
                            t.set("leader", p.leader)?;
                            t.set("replicas", lua.create_sequence_from(p.replicas.clone())?)?;
                            t.set("isr", lua.create_sequence_from(p.isr.clone())?)?;
                            t.set("low", p.low)?;
                            t.set("high", p.high)?;
                            ps.raw_set(i + 1, t)?;
                        }
                        out.set("partitions", ps)?;
                    }
                    Err(e) => result_error(&out, &e)?,
                }
                Ok(out)
            }
        });
    }
}

/// `kafka.admin{...}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminConfig {
    brokers: Option<Strings>,
    healthcheck: Option<bool>,
}

pub(super) fn admin(lua: &Lua, o: Option<Table>) -> mlua::Result<Admin> {
    let c: AdminConfig = parse(lua, "kafka.admin", o.as_ref())?;
    let brokers = brokers(&c.brokers);
    let b = brokers.clone();
    healthcheck_if(
        lua,
        c.healthcheck != Some(false),
        &format!("kafka {brokers}"),
        move || client::admin::healthcheck(&b, HEALTHCHECK_TIMEOUT).map(|_| ()),
    );
    let inner = if state(lua).shared.offline() {
        None
    } else {
        Some(Arc::new(
            client::admin::admin(&brokers).map_err(|e| lua_error(lua, e))?,
        ))
    };
    Ok(Admin { brokers, inner })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::config::from_json;
    use serde_json::json;

    fn config(v: serde_json::Value) -> Result<String, String> {
        Ok(brokers(
            &from_json::<AdminConfig>("kafka.admin", v)?.brokers,
        ))
    }

    #[test]
    fn admin_config_from_literals() {
        assert_eq!(config(json!({})).unwrap(), "127.0.0.1:9092");
        assert_eq!(config(json!({ "brokers": "a:1" })).unwrap(), "a:1");
        assert_eq!(
            config(json!({ "brokers": ["a:1", "b:2"] })).unwrap(),
            "a:1,b:2"
        );
        let e = config(json!({ "brokers": 9092 })).unwrap_err();
        assert!(e.starts_with("kafka.admin: brokers: "), "{e}");
        let e = config(json!({ "broker": "a:1" })).unwrap_err();
        assert!(
            e.ends_with("unknown option 'broker'; valid: brokers, healthcheck"),
            "{e}"
        );
    }
}

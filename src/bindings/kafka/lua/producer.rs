//! `kafka.producer{...}` and its methods: `send`, `send_batch`, `send_async`, `flush`.

use super::{brokers_arg, offline_client, HEALTHCHECK_TIMEOUT};
use crate::bindings::kafka::client::{
    self,
    producer::{Delivery, KafkaProducer, ProducerConfig, Record},
};
use crate::bindings::{check_keys, healthcheck, result_error, string_map};
use crate::metrics::OpError;
use crate::script::core::{duration_arg, make_limiter, tags_arg, wait_units};
use crate::script::{json, lua_error, shared_instance, state, OpScope};
use mlua::{Lua, Table, UserData, UserDataMethods, Value};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// Bytes for a key or value: strings as they are, numbers as text, tables as JSON.
fn bytes_arg(lua: &Lua, v: Value, what: &str) -> mlua::Result<Option<Vec<u8>>> {
    Ok(match v {
        Value::Nil => None,
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(i) => Some(i.to_string().into_bytes()),
        Value::Number(n) => Some(n.to_string().into_bytes()),
        Value::Table(_) => Some(
            json::to_json(&v)
                .map_err(|e| lua_error(lua, format!("{what}: {e}")))?
                .to_string()
                .into_bytes(),
        ),
        other => {
            return Err(lua_error(
                lua,
                format!(
                    "{what}: expected a string or a table, got {}",
                    other.type_name()
                ),
            ))
        }
    })
}

fn record_arg(lua: &Lua, t: Table) -> mlua::Result<(Record, Option<crate::metrics::Tags>)> {
    check_keys(
        lua,
        "kafka send",
        &t,
        &["topic", "key", "value", "headers", "partition", "tags"],
    )?;
    let topic: String = t
        .get::<Option<String>>("topic")?
        .ok_or_else(|| lua_error(lua, "kafka send: 'topic' is required"))?;
    let mut headers = Vec::new();
    if let Some(h) = t.get::<Option<Table>>("headers")? {
        for pair in h.pairs::<String, Value>() {
            let (k, v) = pair?;
            if let Some(b) = bytes_arg(lua, v, "kafka header")? {
                headers.push((k, b));
            }
        }
    }
    let tags = tags_arg(lua, t.get("tags")?)?;
    Ok((
        Record {
            topic,
            key: bytes_arg(lua, t.get("key")?, "kafka key")?,
            value: bytes_arg(lua, t.get("value")?, "kafka value")?,
            headers,
            partition: t.get("partition")?,
        },
        tags,
    ))
}

/// The tags of one record's operation: the VU's, the record's own, and `topic`.
fn record_tags(
    base: &crate::metrics::Tags,
    topic: &str,
    extra: Option<crate::metrics::Tags>,
) -> Rc<crate::metrics::Tags> {
    let mut t = base.clone();
    t.extend(extra.unwrap_or_default());
    t.insert("topic".into(), topic.to_string());
    Rc::new(t)
}

pub(super) struct Producer {
    /// None under `loadgen check`, which makes no client that would connect.
    inner: Option<Arc<KafkaProducer>>,
    limiter: Option<Arc<governor::DefaultDirectRateLimiter>>,
}

async fn send_timed(
    producer: Arc<KafkaProducer>,
    limiter: Option<Arc<governor::DefaultDirectRateLimiter>>,
    rec: Record,
    scope: OpScope,
) -> Result<Delivery, OpError> {
    if let Some(l) = limiter {
        l.until_ready().await;
    }
    scope
        .time("kafka.produce", client::producer::send(&producer, rec))
        .await
}

impl UserData for Producer {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        // send{topic, key, value, headers, partition, tags}: waits for the delivery report.
        m.add_async_method("send", |lua, this, t: Table| {
            let producer = this.inner.clone();
            let limiter = this.limiter.clone();
            async move {
                let producer = offline_client(&lua, &producer, "kafka.producer")?;
                let (rec, extra) = record_arg(&lua, t)?;
                let mut scope = OpScope::of(&lua);
                scope.tags = record_tags(&scope.tags, &rec.topic, extra);
                let out = lua.create_table()?;
                match send_timed(producer, limiter, rec, scope).await {
                    Ok(d) => {
                        out.set("partition", d.partition)?;
                        out.set("offset", d.offset)?;
                    }
                    Err(e) => result_error(&out, &e)?,
                }
                Ok(out)
            }
        });
        // send_batch{ {topic, key, value, ...}, ... }: enqueues every record, then waits for all
        // deliveries; each record is timed on its own. Returns { sent, failed, err, error }.
        m.add_async_method("send_batch", |lua, this, list: Table| {
            let producer = this.inner.clone();
            let limiter = this.limiter.clone();
            async move {
                let producer = offline_client(&lua, &producer, "kafka.producer")?;
                let mut recs = Vec::with_capacity(list.raw_len());
                for t in list.sequence_values::<Table>() {
                    recs.push(record_arg(&lua, t?)?);
                }
                if let Some(l) = &limiter {
                    wait_units(l, recs.len() as u32).await;
                }
                let base = OpScope::of(&lua);
                // Records of a batch mostly share their topic and tags: build each tag set once.
                type Key = (String, Option<crate::metrics::Tags>);
                let mut tag_sets: Vec<(Key, Rc<crate::metrics::Tags>)> = Vec::new();
                let sends = recs.into_iter().map(|(rec, extra)| {
                    let found = tag_sets
                        .iter()
                        .find(|((topic, e), _)| *topic == rec.topic && *e == extra)
                        .map(|(_, rc)| rc.clone());
                    let tags = match found {
                        Some(rc) => rc,
                        None => {
                            let rc = record_tags(&base.tags, &rec.topic, extra.clone());
                            tag_sets.push(((rec.topic.clone(), extra), rc.clone()));
                            rc
                        }
                    };
                    let scope = OpScope {
                        recorder: base.recorder.clone(),
                        tags,
                        lateness: base.lateness,
                    };
                    let producer = producer.clone();
                    async move {
                        scope
                            .time("kafka.produce", client::producer::send(&producer, rec))
                            .await
                    }
                });
                let results = futures_util::future::join_all(sends).await;
                let out = lua.create_table()?;
                let failed = results.iter().filter(|r| r.is_err()).count();
                out.set("sent", results.len() - failed)?;
                out.set("failed", failed)?;
                if let Some(Err(e)) = results.iter().find(|r| r.is_err()) {
                    result_error(&out, e)?;
                }
                Ok(out)
            }
        });
        // send_async{...}: returns at once; the delivery is still timed and recorded.
        m.add_method("send_async", |lua, this, t: Table| {
            let (rec, extra) = record_arg(lua, t)?;
            let mut scope = OpScope::of(lua);
            scope.tags = record_tags(&scope.tags, &rec.topic, extra);
            let producer = offline_client(lua, &this.inner, "kafka.producer")?;
            let limiter = this.limiter.clone();
            tokio::task::spawn_local(async move {
                let _ = send_timed(producer, limiter, rec, scope).await;
            });
            Ok(())
        });
        m.add_async_method("flush", |lua, this, timeout: Option<Value>| {
            let producer = this.inner.clone();
            async move {
                let producer = offline_client(&lua, &producer, "kafka.producer")?;
                let t = match timeout {
                    Some(v) => duration_arg(&lua, &v, "flush")?,
                    None => Duration::from_secs(30),
                };
                let out = lua.create_table()?;
                let r = tokio::task::spawn_blocking(move || client::producer::flush(&producer, t))
                    .await
                    .map_err(|e| lua_error(&lua, format!("flush: {e}")))?;
                match r {
                    Ok(()) => out.set("ok", true)?,
                    Err(e) => result_error(&out, &e)?,
                }
                Ok(out)
            }
        });
    }
}

pub(super) fn producer(lua: &Lua, o: Table) -> mlua::Result<Producer> {
    check_keys(
        lua,
        "kafka.producer",
        &o,
        &[
            "brokers",
            "acks",
            "compression",
            "linger_ms",
            "batch_size",
            "idempotence",
            "rate_limit",
            "burst",
            "timeout",
            "config",
            "healthcheck",
            "name",
        ],
    )?;
    let acks = match o.get::<Value>("acks")? {
        Value::Nil => None,
        Value::Integer(i) => Some(i.to_string()),
        Value::String(s) => Some(s.to_string_lossy()),
        other => {
            return Err(lua_error(
                lua,
                format!(
                    "kafka.producer acks: expected \"all\", 0 or 1, got {}",
                    other.type_name()
                ),
            ))
        }
    };
    let cfg = ProducerConfig {
        brokers: brokers_arg(&o)?,
        acks,
        compression: o.get("compression")?,
        linger_ms: o.get("linger_ms")?,
        batch_size: o.get("batch_size")?,
        idempotence: o.get("idempotence")?,
        timeout: match o.get::<Option<Value>>("timeout")? {
            Some(v) => Some(duration_arg(lua, &v, "kafka.producer timeout")?),
            None => None,
        },
        extra: string_map(lua, o.get("config")?, "kafka.producer config")?,
    };
    // The shared producer is made by the first VU to get here (VU 0, in init), so a bad setting in
    // `config` fails there, before any load; other VUs reuse it.
    let brokers = cfg.brokers.clone();
    healthcheck(lua, &o, &format!("kafka {brokers}"), move || {
        client::admin::healthcheck(&brokers, HEALTHCHECK_TIMEOUT).map(|_| ())
    })?;
    let name: Option<String> = o.get("name")?;
    let rate_limit: Option<f64> = o.get("rate_limit")?;
    let burst: Option<u32> = o.get("burst")?;
    // What makes this producer what it is: every setting librdkafka gets (secrets as a hash, so they
    // never reach a key or a message) and its rate limit.
    let mut settings = cfg
        .client_config()
        .config_map()
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::util::hide_secret(k, v)))
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(r) = rate_limit {
        settings.push_str(&format!(", rate_limit={r}, burst={burst:?}"));
    }
    let shared = state(lua).shared.clone();
    let inner = if shared.offline() {
        // Settings are still checked (librdkafka refuses unknown ones here), without a client.
        cfg.client_config()
            .create_native_config()
            .map_err(|e| lua_error(lua, format!("kafka producer ({}): {e}", cfg.brokers)))?;
        None
    } else {
        // Shared by its settings or by its name.
        Some(shared_instance(
            lua,
            "kafka.producer",
            name.as_deref(),
            settings.clone(),
            || cfg.create(),
        )?)
    };
    // The budget belongs to this producer: another producer with the same rate has its own.
    let limiter = match rate_limit {
        Some(r) => Some(make_limiter(
            lua,
            "kafka.producer rate_limit",
            name.as_deref(),
            &settings,
            r,
            burst,
        )?),
        None => None,
    };
    Ok(Producer { inner, limiter })
}

//! `kafka.producer{...}` and its methods: `send`, `send_batch`, `send_async`, `flush`.

use super::{brokers, offline_client, HEALTHCHECK_TIMEOUT};
use crate::bindings::config::{parse, texts, Secs, Strings, Text};
use crate::bindings::kafka::client::{
    self,
    producer::{Delivery, KafkaProducer, ProducerConfig as Settings, Record},
};
use crate::bindings::{check_keys, healthcheck_if, result_error};
use crate::metrics::OpError;
use crate::script::core::{duration_arg, make_limiter, tags_arg, wait_units};
use crate::script::{json, lua_error, shared_instance, state, OpScope};
use mlua::{Lua, Table, UserData, UserDataMethods, Value};
use std::collections::BTreeMap;
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

/// `acks`: "all", 0 or 1 (librdkafka takes it as text, and checks it).
#[derive(Debug, serde::Deserialize)]
#[serde(untagged, expecting = "expected \"all\", 0 or 1")]
enum Acks {
    Number(i64),
    Name(String),
}

/// `kafka.producer{...}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ProducerConfig {
    brokers: Option<Strings>,
    acks: Option<Acks>,
    compression: Option<String>,
    linger_ms: Option<u64>,
    batch_size: Option<u64>,
    idempotence: Option<bool>,
    /// How long a record may wait for delivery (`message.timeout.ms`).
    timeout: Option<Secs>,
    /// Any other librdkafka setting.
    config: Option<BTreeMap<String, Text>>,
    /// false: records go without the `loadgen-sent-us` header (default true).
    sent_header: Option<bool>,
    healthcheck: Option<bool>,
    /// Records per second, shared by every VU (`name` tells two producers apart).
    rate_limit: Option<f64>,
    burst: Option<u32>,
    name: Option<String>,
}

impl ProducerConfig {
    fn settings(&self) -> Settings {
        Settings {
            brokers: brokers(&self.brokers),
            acks: self.acks.as_ref().map(|a| match a {
                Acks::Number(n) => n.to_string(),
                Acks::Name(s) => s.clone(),
            }),
            compression: self.compression.clone(),
            linger_ms: self.linger_ms,
            batch_size: self.batch_size,
            idempotence: self.idempotence,
            timeout: self.timeout.map(|t| t.0),
            no_sent_header: self.sent_header == Some(false),
            extra: texts(self.config.clone()),
        }
    }
}

/// Every setting librdkafka gets, secrets as a hash of their values, so that they never reach a key
/// or a message. (rdkafka's `config_map` shows every secret as one placeholder: producers that
/// differed only in their password were one producer, shared, with the first one's password.)
fn identity(cfg: &Settings) -> String {
    let c = cfg.client_config();
    c.config_map()
        .keys()
        .map(|k| {
            let v = c.get(k).unwrap_or_default();
            format!("{k}={}", crate::util::hide_secret(k, v))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn producer(lua: &Lua, o: Table) -> mlua::Result<Producer> {
    let c: ProducerConfig = parse(lua, "kafka.producer", Some(&o))?;
    let cfg = c.settings();
    // The shared producer is made by the first VU to get here (VU 0, in init), so a bad setting in
    // `config` fails there, before any load; other VUs reuse it.
    let brokers = cfg.brokers.clone();
    let target = format!("kafka {brokers}");
    healthcheck_if(lua, c.healthcheck != Some(false), &target, move || {
        client::admin::healthcheck(&brokers, HEALTHCHECK_TIMEOUT).map(|_| ())
    });
    let (name, rate_limit, burst) = (c.name, c.rate_limit, c.burst);
    // What makes this producer what it is: its settings and its rate limit.
    let mut settings = identity(&cfg);
    if cfg.no_sent_header {
        settings.push_str(", sent_header=false");
    }
    if let Some(r) = rate_limit {
        settings.push_str(&format!(", rate_limit={r}, burst={burst:?}"));
    }
    let shared = state(lua).shared.clone();
    let inner = if shared.offline() {
        // Settings are still checked (librdkafka refuses unknown ones here; the delivery timeout
        // as `run` reads it), without a client.
        cfg.message_timeout_ms()
            .map_err(|e| lua_error(lua, format!("kafka producer ({}): {e}", cfg.brokers)))?;
        cfg.client_config().create_native_config().map_err(|e| {
            let e = client::shown(&e);
            lua_error(lua, format!("kafka producer ({}): {e}", cfg.brokers))
        })?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::config::from_json;
    use serde_json::json;

    fn config(v: serde_json::Value) -> Result<Settings, String> {
        Ok(from_json::<ProducerConfig>("kafka.producer", v)?.settings())
    }

    #[test]
    fn producer_config_from_literals() {
        let s = config(json!({})).unwrap();
        assert_eq!(s.brokers, "127.0.0.1:9092");
        assert_eq!((s.acks, s.timeout), (None, None));
        assert!(!s.no_sent_header);
        assert!(
            config(json!({ "sent_header": false }))
                .unwrap()
                .no_sent_header
        );
        assert!(
            !config(json!({ "sent_header": true }))
                .unwrap()
                .no_sent_header
        );
        let s = config(
            json!({ "brokers": ["a:9092", "b:9092"], "acks": "all", "linger_ms": 5,
            "idempotence": true, "timeout": "20s", "config": { "message.max.bytes": 1000 } }),
        )
        .unwrap();
        assert_eq!(s.brokers, "a:9092,b:9092");
        assert_eq!(s.acks.as_deref(), Some("all"));
        assert_eq!(s.timeout, Some(Duration::from_secs(20)));
        let c = s.client_config();
        assert_eq!(c.get("linger.ms"), Some("5"));
        assert_eq!(c.get("message.timeout.ms"), Some("20000"));
        assert_eq!(c.get("message.max.bytes"), Some("1000"));
        let s = config(json!({ "brokers": "c:9092", "acks": 0 })).unwrap();
        assert_eq!(
            (s.brokers.as_str(), s.acks.as_deref()),
            ("c:9092", Some("0"))
        );
        for (bad, says) in [
            (
                json!({ "acks": true }),
                "kafka.producer: acks: expected \"all\", 0 or 1",
            ),
            (json!({ "acks": 0.5 }), "acks: expected \"all\", 0 or 1"),
            (json!({ "linger_ms": "5" }), "kafka.producer: linger_ms: invalid type"),
            (json!({ "config": { "a": [] } }), "config.a: expected a string"),
            (
                json!({ "ack": 1 }),
                "unknown option 'ack'; valid: acks, batch_size, brokers, burst, compression, config, healthcheck, idempotence, linger_ms, name, rate_limit, sent_header, timeout",
            ),
        ] {
            let e = config(bad).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn producers_that_differ_only_in_a_secret_are_two_producers() {
        let a = config(json!({ "config": { "sasl.password": "pw-a" } })).unwrap();
        let b = config(json!({ "config": { "sasl.password": "pw-b" } })).unwrap();
        let (ia, ib) = (identity(&a), identity(&b));
        assert_ne!(ia, ib);
        assert!(
            ia.contains("sasl.password=<hidden ") && !ia.contains("pw-a"),
            "{ia}"
        );
    }
}

//! `kafka.consumer{...}` and its methods: `poll`, `commit`, `lag`, `close`.

use super::lag::{count_per_partition, lag_table, set_lag_gauges};
use super::{brokers, HEALTHCHECK_TIMEOUT};
use crate::bindings::config::{parse, texts, Secs, Strings, Text};
use crate::bindings::kafka::client::{
    self,
    consumer::{ConsumerConfig as Settings, GroupConsumer},
    poll::Consumed,
};
use crate::bindings::timing::{measure, record_measured};
use crate::bindings::{check_keys, healthcheck_if, result_error};
use crate::metrics::lag::LagHistory;
use crate::metrics::recorder::Units;
use crate::metrics::OpError;
use crate::script::core::duration_arg;
use crate::script::{lua_error, OpScope};
use mlua::{Lua, Table, UserData, UserDataMethods, Value};
use rdkafka::consumer::{CommitMode, Consumer as _, RebalanceProtocol};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A consumer joins its group on the first poll, so VU 0 (which only reads the options) never
/// joins and causes no rebalance.
pub(super) struct ConsumerHandle {
    cfg: Settings,
    inner: RefCell<Option<Rc<GroupConsumer>>>,
    /// How long the consumer may go without partitions before an empty poll is an error.
    join_timeout: Duration,
    /// When the lag gauges were last set (at most once a second, from a poll).
    gauges_at: Rc<Cell<Option<Instant>>>,
    /// Each partition's recent lag, for its trend.
    history: Rc<RefCell<LagHistory>>,
}

/// Why a consumer without partitions gets nothing, from its group membership (the run's warning
/// names this alone, so that it stays one line however the client's errors vary).
fn unassigned_reason(c: &GroupConsumer) -> &'static str {
    if matches!(c.rebalance_protocol(), RebalanceProtocol::None) {
        "not in the group yet: waiting for the group coordinator or for the join to finish"
    } else {
        "in the group without partitions: a rebalance in progress, or more consumers than partitions"
    }
}

impl ConsumerHandle {
    fn get(&self) -> Result<Rc<GroupConsumer>, String> {
        if let Some(c) = self.inner.borrow().as_ref() {
            return Ok(c.clone());
        }
        let c = Rc::new(self.cfg.create()?);
        *self.inner.borrow_mut() = Some(c.clone());
        Ok(c)
    }
}

/// A record table's field names, made once per poll rather than once per record.
struct RecordKeys {
    topic: mlua::LuaString,
    partition: mlua::LuaString,
    offset: mlua::LuaString,
    key: mlua::LuaString,
    value: mlua::LuaString,
    timestamp: mlua::LuaString,
    headers: mlua::LuaString,
}

impl RecordKeys {
    fn new(lua: &Lua) -> mlua::Result<RecordKeys> {
        Ok(RecordKeys {
            topic: lua.create_string("topic")?,
            partition: lua.create_string("partition")?,
            offset: lua.create_string("offset")?,
            key: lua.create_string("key")?,
            value: lua.create_string("value")?,
            timestamp: lua.create_string("timestamp")?,
            headers: lua.create_string("headers")?,
        })
    }
}

fn consumed_table(lua: &Lua, k: &RecordKeys, c: &Consumed) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 7)?;
    t.raw_set(&k.topic, &*c.topic)?;
    t.raw_set(&k.partition, c.partition)?;
    t.raw_set(&k.offset, c.offset)?;
    if let Some(key) = &c.key {
        t.raw_set(&k.key, lua.create_string(key)?)?;
    }
    if let Some(v) = &c.value {
        t.raw_set(&k.value, lua.create_string(v)?)?;
    }
    if let Some(ts) = c.timestamp_ms {
        t.raw_set(&k.timestamp, ts)?;
    }
    let h = lua.create_table_with_capacity(0, c.headers.len())?;
    for (name, v) in &c.headers {
        h.raw_set(name.as_str(), lua.create_string(v)?)?;
    }
    t.raw_set(&k.headers, h)?;
    Ok(t)
}

impl UserData for ConsumerHandle {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        // poll(timeout = "1s", max = 1): a list of up to `max` records (empty when none came). While
        // the consumer has no partitions the list also says so (`unassigned_s`, `reason`); past
        // `join_timeout` such an empty poll is a `timeout` error and the run gets a warning.
        m.add_async_method(
            "poll",
            |lua, this, (timeout, max, o): (Option<Value>, Option<usize>, Option<Table>)| {
                let consumer = this.get();
                let join_timeout = this.join_timeout;
                let group = this.cfg.group.clone();
                let gauges_at = this.gauges_at.clone();
                let history = this.history.clone();
                async move {
                    let out = lua.create_table()?;
                    let consumer = match consumer {
                        Ok(c) => c,
                        Err(e) => {
                            result_error(
                                &out,
                                &OpError::new(crate::metrics::ErrorKind::Client, e),
                            )?;
                            return Ok(out);
                        }
                    };
                    let timeout = match timeout {
                        Some(v) => duration_arg(&lua, &v, "poll")?,
                        None => Duration::from_secs(1),
                    };
                    let max = max.unwrap_or(1).max(1);
                    // { records = false }: count the records and their bytes, return no list (a
                    // consumer that only drains, as Kafka's ConsumerPerformance does).
                    let want_records = match &o {
                        Some(o) => {
                            check_keys(&lua, "poll", o, &["records"])?;
                            o.get::<Option<bool>>("records")?.unwrap_or(true)
                        }
                        None => true,
                    };
                    let scope = OpScope::of(&lua);
                    // Measured now, recorded below only if the poll got records or an error.
                    let ((got, mut first_error, units, bytes), consume) =
                        measure(scope.meta("kafka.consume"), async {
                            let batch =
                                client::poll::poll_batch(&consumer, timeout, max, want_records)
                                    .await;
                            let (got, first_error) = (batch.records, batch.error);
                            let mut units = Units::none();
                            let bytes: usize = got.iter().map(Consumed::size).sum();
                            if !got.is_empty() {
                                units = units
                                    .with("records", got.len() as u64)
                                    .with("bytes", bytes as u64);
                            }
                            (got, first_error, units, bytes)
                        })
                        .await;
                    let state = consumer.context().0.clone();
                    // The join's wait since subscribing, once per consumer.
                    if let Some(j) = state.take_join() {
                        record_measured(scope.meta("kafka.join"), j, None, &Units::none());
                    }
                    if got.is_empty() && first_error.is_none() && state.assigned() == 0 {
                        let waited = state.unassigned_for();
                        let why = unassigned_reason(&consumer);
                        let reason = match state.last_error() {
                            Some(e) => format!("{why}; last client error: {e}"),
                            None => why.to_string(),
                        };
                        out.set("unassigned_s", waited.as_secs_f64())?;
                        out.set("reason", reason.as_str())?;
                        if waited >= join_timeout {
                            first_error = Some(OpError::new(
                                crate::metrics::ErrorKind::Timeout,
                                format!(
                                    "kafka consumer group '{group}': no partitions assigned for {:.1} s ({reason})",
                                    waited.as_secs_f64()
                                ),
                            ));
                            scope.recorder.borrow_mut().warn(&format!(
                                "kafka consumer group '{group}': polls got nothing because no partitions were assigned for more than {} s ({why}); see kafka.consume's timeout errors",
                                join_timeout.as_secs_f64()
                            ));
                        }
                    }
                    if !got.is_empty() || first_error.is_some() {
                        consume.record(first_error.as_ref().map(|e| e.kind), &units);
                    }
                    state.consumed_all(&got);
                    count_per_partition(&scope, &group, crate::script::state(&lua).vu_id, &got);
                    if gauges_at
                        .get()
                        .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
                    {
                        gauges_at.set(Some(Instant::now()));
                        set_lag_gauges(&scope, &group, &state, &history);
                    }
                    // kafka.e2e, one series lookup per run of records of the same topic.
                    let now_us = crate::util::epoch_micros();
                    let mut e2e: Vec<f64> = Vec::with_capacity(got.len());
                    let mut topic: Option<&str> = None;
                    let flush = |topic: Option<&str>, e2e: &mut Vec<f64>| {
                        if let Some(t) = topic {
                            let mut tags = (*scope.tags).clone();
                            tags.insert("topic".into(), t.to_string());
                            scope
                                .recorder
                                .borrow_mut()
                                .add_trend_values("kafka.e2e", &tags, e2e);
                        }
                        e2e.clear();
                    };
                    let keys = if want_records {
                        Some(RecordKeys::new(&lua)?)
                    } else {
                        None
                    };
                    for (i, c) in got.iter().enumerate() {
                        if topic != Some(&*c.topic) {
                            flush(topic, &mut e2e);
                            topic = Some(&*c.topic);
                        }
                        let sent_us = c.sent_us.or(c.timestamp_ms.map(|ms| ms * 1000));
                        if let Some(sent) = sent_us {
                            e2e.push((now_us - sent).max(0) as f64 / 1000.0);
                        }
                        if let Some(k) = &keys {
                            out.raw_set(i + 1, consumed_table(&lua, k, c)?)?;
                        }
                    }
                    flush(topic, &mut e2e);
                    out.raw_set("count", got.len())?;
                    out.raw_set("bytes", bytes)?;
                    if let Some(e) = first_error {
                        result_error(&out, &e)?;
                    }
                    Ok(out)
                }
            },
        );
        m.add_method("commit", |lua, this, ()| {
            let out = lua.create_table()?;
            if let Some(c) = this.inner.borrow().as_ref() {
                match c.commit_consumer_state(CommitMode::Async) {
                    Ok(()) => out.set("ok", true)?,
                    Err(e) => result_error(
                        &out,
                        &OpError::new(client::classify(&e), format!("commit: {e}")),
                    )?,
                }
            } else {
                out.set("ok", true)?;
            }
            Ok(out)
        });
        // lag(timeout = "5s"): the assigned partitions as the brokers report them now (position,
        // committed offset, high watermark, lag, lag_s); blocks this VU for the requests.
        m.add_method("lag", |lua, this, timeout: Option<Value>| {
            let timeout = match timeout {
                Some(v) => duration_arg(lua, &v, "lag")?,
                None => Duration::from_secs(5),
            };
            let Some(c) = this.inner.borrow().clone() else {
                return lua.create_table();
            };
            match client::consumer::lag_now(&c, timeout) {
                Ok(parts) => lag_table(lua, &parts),
                Err(e) => {
                    let out = lua.create_table()?;
                    result_error(&out, &e)?;
                    Ok(out)
                }
            }
        });
        m.add_method("close", |_, this, ()| {
            if let Some(c) = this.inner.borrow_mut().take() {
                c.unsubscribe();
            }
            Ok(())
        });
    }
}

/// `kafka.consumer{...}`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsumerConfig {
    brokers: Option<Strings>,
    group: Option<String>,
    topics: Option<Strings>,
    /// Where a group without committed offsets starts: "earliest" or "latest".
    from: Option<String>,
    /// Any other librdkafka setting.
    config: Option<BTreeMap<String, Text>>,
    healthcheck: Option<bool>,
    /// How long the consumer may go without partitions before an empty poll is an error.
    join_timeout: Option<Secs>,
}

impl ConsumerConfig {
    fn settings(&self) -> Result<Settings, String> {
        let Some(topics) = self.topics.clone() else {
            return Err("kafka.consumer: 'topics' (a list of names) is required".into());
        };
        let Some(group) = self.group.clone() else {
            return Err("kafka.consumer: 'group' is required".into());
        };
        let from = self.from.clone().unwrap_or_else(|| "earliest".into());
        if from != "earliest" && from != "latest" {
            return Err(format!(
                "kafka.consumer from: expected \"earliest\" or \"latest\", got \"{from}\""
            ));
        }
        Ok(Settings {
            brokers: brokers(&self.brokers),
            group,
            topics: topics.into_vec(),
            from,
            extra: texts(self.config.clone()),
        })
    }

    fn join_timeout(&self) -> Duration {
        self.join_timeout.map_or(Duration::from_secs(30), |t| t.0)
    }
}

pub(super) fn consumer(lua: &Lua, o: Table) -> mlua::Result<ConsumerHandle> {
    let c: ConsumerConfig = parse(lua, "kafka.consumer", Some(&o))?;
    let cfg = c.settings().map_err(|e| lua_error(lua, e))?;
    let brokers = cfg.brokers.clone();
    let target = format!("kafka {brokers}");
    healthcheck_if(lua, c.healthcheck != Some(false), &target, move || {
        client::admin::healthcheck(&brokers, HEALTHCHECK_TIMEOUT).map(|_| ())
    });
    Ok(ConsumerHandle {
        cfg,
        inner: RefCell::new(None),
        join_timeout: c.join_timeout(),
        gauges_at: Rc::new(Cell::new(None)),
        history: Rc::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::config::from_json;
    use serde_json::json;

    fn config(v: serde_json::Value) -> Result<(Settings, Duration), String> {
        let c = from_json::<ConsumerConfig>("kafka.consumer", v)?;
        Ok((c.settings()?, c.join_timeout()))
    }

    #[test]
    fn consumer_config_from_literals() {
        let (s, join) = config(json!({ "group": "g", "topics": "t" })).unwrap();
        assert_eq!(s.brokers, "127.0.0.1:9092");
        assert_eq!((s.group.as_str(), s.from.as_str()), ("g", "earliest"));
        assert_eq!(s.topics, ["t"]);
        assert_eq!(join, Duration::from_secs(30));
        let (s, join) = config(json!({ "brokers": ["a:1", "b:2"], "group": "g",
            "topics": ["t", "u"], "from": "latest", "join_timeout": "3s",
            "config": { "session.timeout.ms": 6000 } }))
        .unwrap();
        assert_eq!(s.brokers, "a:1,b:2");
        assert_eq!((s.topics.len(), s.from.as_str()), (2, "latest"));
        assert_eq!(s.extra["session.timeout.ms"], "6000");
        assert_eq!(join, Duration::from_secs(3));
        for (bad, says) in [
            (json!({ "group": "g" }), "kafka.consumer: 'topics' (a list of names) is required"),
            (json!({ "topics": ["t"] }), "kafka.consumer: 'group' is required"),
            (
                json!({ "group": "g", "topics": "t", "from": "start" }),
                "kafka.consumer from: expected \"earliest\" or \"latest\", got \"start\"",
            ),
            (
                json!({ "group": "g", "topics": "t", "join_timeout": true }),
                "kafka.consumer: join_timeout: invalid type",
            ),
            (
                json!({ "group": "g", "topic": "t" }),
                "unknown option 'topic'; valid: brokers, config, from, group, healthcheck, join_timeout, topics",
            ),
        ] {
            let e = config(bad).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }
}

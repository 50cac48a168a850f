//! The Lua face of `loadgen.kafka`. Every operation returns a table; a failed one has `err` (its
//! kind) and `error` (a message) set and never raises.

use super::client::{self, ConsumerConfig, ProducerConfig, Record};
use crate::bindings::{check_keys, healthcheck, result_error, string_map};
use crate::metrics::lag::LagHistory;
use crate::metrics::recorder::Units;
use crate::metrics::{OpError, Tags};
use crate::script::core::{duration_arg, make_limiter, tags_arg, wait_units};
use crate::script::{json, lua_error, shared_instance, state, OpScope};
use mlua::{Lua, Table, UserData, UserDataMethods, Value};
use rdkafka::consumer::{CommitMode, Consumer as _, RebalanceProtocol};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

const DEFAULT_BROKERS: &str = "127.0.0.1:9092";
const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(10);

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

struct Producer {
    /// None under `loadgen check`, which makes no client that would connect.
    inner: Option<Arc<client::KafkaProducer>>,
    limiter: Option<Arc<governor::DefaultDirectRateLimiter>>,
}

async fn send_timed(
    producer: Arc<client::KafkaProducer>,
    limiter: Option<Arc<governor::DefaultDirectRateLimiter>>,
    rec: Record,
    scope: OpScope,
) -> Result<client::Delivery, OpError> {
    if let Some(l) = limiter {
        l.until_ready().await;
    }
    scope
        .time("kafka.produce", client::send(&producer, rec))
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
                            .time("kafka.produce", client::send(&producer, rec))
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
                let r = tokio::task::spawn_blocking(move || client::flush(&producer, t))
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

fn brokers_arg(o: &Table) -> mlua::Result<String> {
    Ok(match o.get::<Value>("brokers")? {
        Value::Table(t) => t
            .sequence_values::<String>()
            .collect::<mlua::Result<Vec<_>>>()?
            .join(","),
        Value::String(s) => s.to_string_lossy(),
        _ => DEFAULT_BROKERS.to_string(),
    })
}

fn producer(lua: &Lua, o: Table) -> mlua::Result<Producer> {
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
        client::healthcheck(&brokers, HEALTHCHECK_TIMEOUT).map(|_| ())
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

/// A consumer joins its group on the first poll, so VU 0 (which only reads the options) never
/// joins and causes no rebalance.
struct ConsumerHandle {
    cfg: ConsumerConfig,
    inner: RefCell<Option<Rc<client::GroupConsumer>>>,
    /// How long the consumer may go without partitions before an empty poll is an error.
    join_timeout: Duration,
    /// When the lag gauges were last set (at most once a second, from a poll).
    gauges_at: Rc<Cell<Option<Instant>>>,
    /// Each partition's recent lag, for its trend.
    history: Rc<RefCell<LagHistory>>,
}

/// Sets the lag gauges of every partition the consumer has (from librdkafka's statistics, once a
/// second): `kafka.consumer_lag` (records behind the high watermark) and `kafka.consumer_lag_s`
/// (now minus the timestamp of the last record read), `kafka.consumer_position`,
/// `kafka.consumer_committed` and `kafka.partition_high_watermark`, tagged with the group, topic and
/// partition; per group `kafka.rebalances` and `kafka.rebalance_ms` (time from revokes to the next
/// assignments, summed).
fn set_lag_gauges(
    scope: &OpScope,
    group: &str,
    state: &client::GroupState,
    history: &RefCell<LagHistory>,
) {
    let now_ms = crate::util::epoch_micros() / 1000;
    let now = Instant::now();
    let mut rec = scope.recorder.borrow_mut();
    let partitions = state.partitions();
    history.borrow_mut().retain(
        &partitions
            .iter()
            .map(|p| (p.topic.clone(), p.partition))
            .collect::<Vec<_>>(),
    );
    for p in partitions {
        let tags = partition_tags(scope, group, &p.topic, p.partition);
        if let Some(lag) = p.lag() {
            rec.set_gauge("kafka.consumer_lag", &tags, lag as f64);
            let trend = history
                .borrow_mut()
                .add(&p.topic, p.partition, now, lag, p.position);
            if let Some((growth, trend)) = trend {
                rec.set_gauge("kafka.consumer_lag_growth", &tags, growth);
                rec.set_gauge("kafka.consumer_lag_trend", &tags, trend.code());
            }
        }
        if let Some(s) = p.lag_seconds(now_ms) {
            rec.set_gauge("kafka.consumer_lag_s", &tags, s);
        }
        // The offsets behind the lag, as librdkafka last reported them (-1, not known, is left out).
        for (name, v) in [
            ("kafka.consumer_position", p.position),
            ("kafka.consumer_committed", p.committed),
            ("kafka.partition_high_watermark", p.high_watermark),
        ] {
            if v >= 0 {
                rec.set_gauge(name, &tags, v as f64);
            }
        }
    }
    let mut tags = (*scope.tags).clone();
    tags.insert("group".into(), group.to_string());
    if let Some(n) = state.rebalances() {
        rec.set_gauge("kafka.rebalances", &tags, n as f64);
    }
    rec.set_gauge("kafka.rebalance_ms", &tags, state.rebalance_ms() as f64);
}

/// The scope's tags with a consumer's group, topic and partition.
fn partition_tags(scope: &OpScope, group: &str, topic: &str, partition: i32) -> Tags {
    let mut tags = (*scope.tags).clone();
    tags.insert("group".into(), group.to_string());
    tags.insert("topic".into(), topic.to_string());
    tags.insert("partition".into(), partition.to_string());
    tags
}

/// Counters per partition, once per poll: `kafka.partition_records` and `kafka.partition_bytes`
/// (keys and values), tagged with the group, topic, partition and VU, so the result has each
/// partition's consume rate per second and which VU read it.
fn count_per_partition(scope: &OpScope, group: &str, vu: u64, got: &[client::Consumed]) {
    let mut per: Vec<(&str, i32, u64, u64)> = Vec::new();
    for c in got {
        let bytes = c.size() as u64;
        match per
            .iter_mut()
            .find(|p| p.1 == c.partition && p.0 == &*c.topic)
        {
            Some(p) => {
                p.2 += 1;
                p.3 += bytes;
            }
            None => per.push((&*c.topic, c.partition, 1, bytes)),
        }
    }
    if per.is_empty() {
        return;
    }
    let mut rec = scope.recorder.borrow_mut();
    for (topic, partition, n, bytes) in per {
        let mut tags = partition_tags(scope, group, topic, partition);
        tags.insert("vu".into(), vu.to_string());
        rec.add_counter("kafka.partition_records", &tags, n as f64);
        rec.add_counter("kafka.partition_bytes", &tags, bytes as f64);
    }
}

fn lag_table(lua: &Lua, parts: &[client::PartitionLag]) -> mlua::Result<Table> {
    let now_ms = crate::util::epoch_micros() / 1000;
    let out = lua.create_table()?;
    for (i, p) in parts.iter().enumerate() {
        let t = lua.create_table()?;
        t.set("topic", p.topic.as_str())?;
        t.set("partition", p.partition)?;
        let known = |v: i64| (v >= 0).then_some(v);
        t.set("position", known(p.position))?;
        t.set("committed", known(p.committed))?;
        t.set("high_watermark", known(p.high_watermark))?;
        t.set("lag", p.lag())?;
        t.set("lag_s", p.lag_seconds(now_ms))?;
        out.raw_set(i + 1, t)?;
    }
    Ok(out)
}

/// Why a consumer without partitions gets nothing, from its group membership (the run's warning
/// names this alone, so that it stays one line however the client's errors vary).
fn unassigned_reason(c: &client::GroupConsumer) -> &'static str {
    if matches!(c.rebalance_protocol(), RebalanceProtocol::None) {
        "not in the group yet: waiting for the group coordinator or for the join to finish"
    } else {
        "in the group without partitions: a rebalance in progress, or more consumers than partitions"
    }
}

impl ConsumerHandle {
    fn get(&self) -> Result<Rc<client::GroupConsumer>, String> {
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

fn consumed_table(lua: &Lua, k: &RecordKeys, c: &client::Consumed) -> mlua::Result<Table> {
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
                    let start = tokio::time::Instant::now();
                    let batch = client::poll_batch(&consumer, timeout, max, want_records).await;
                    let (got, mut first_error) = (batch.records, batch.error);
                    let mut units = Units::none();
                    let bytes: usize = got.iter().map(client::Consumed::size).sum();
                    if !got.is_empty() {
                        units = units
                            .with("records", got.len() as u64)
                            .with("bytes", bytes as u64);
                    }
                    let service = start.elapsed();
                    let state = consumer.context().0.clone();
                    // The join's wait since subscribing, once per consumer.
                    if let Some(j) = state.take_join() {
                        scope.recorder.borrow_mut().record_op(
                            "kafka.join",
                            &scope.tags,
                            j,
                            j,
                            None,
                            &Units::none(),
                        );
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
                        scope.recorder.borrow_mut().record_op(
                            "kafka.consume",
                            &scope.tags,
                            service + scope.lateness,
                            service,
                            first_error.as_ref().map(|e| e.kind),
                            &units,
                        );
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
            match client::lag_now(&c, timeout) {
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

fn consumer(lua: &Lua, o: Table) -> mlua::Result<ConsumerHandle> {
    check_keys(
        lua,
        "kafka.consumer",
        &o,
        &[
            "brokers",
            "group",
            "topics",
            "from",
            "config",
            "healthcheck",
            "join_timeout",
        ],
    )?;
    let topics: Vec<String> = match o.get::<Value>("topics")? {
        Value::Table(t) => t.sequence_values::<String>().collect::<mlua::Result<_>>()?,
        Value::String(s) => vec![s.to_string_lossy()],
        _ => {
            return Err(lua_error(
                lua,
                "kafka.consumer: 'topics' (a list of names) is required",
            ))
        }
    };
    let group: String = o
        .get::<Option<String>>("group")?
        .ok_or_else(|| lua_error(lua, "kafka.consumer: 'group' is required"))?;
    let from = o
        .get::<Option<String>>("from")?
        .unwrap_or_else(|| "earliest".into());
    if from != "earliest" && from != "latest" {
        return Err(lua_error(
            lua,
            format!("kafka.consumer from: expected \"earliest\" or \"latest\", got \"{from}\""),
        ));
    }
    let cfg = ConsumerConfig {
        brokers: brokers_arg(&o)?,
        group,
        topics,
        from,
        extra: string_map(lua, o.get("config")?, "kafka.consumer config")?,
    };
    let brokers = cfg.brokers.clone();
    healthcheck(lua, &o, &format!("kafka {brokers}"), move || {
        client::healthcheck(&brokers, HEALTHCHECK_TIMEOUT).map(|_| ())
    })?;
    let join_timeout = match o.get::<Option<Value>>("join_timeout")? {
        Some(v) => duration_arg(lua, &v, "kafka.consumer join_timeout")?,
        None => Duration::from_secs(30),
    };
    Ok(ConsumerHandle {
        cfg,
        inner: RefCell::new(None),
        join_timeout,
        gauges_at: Rc::new(Cell::new(None)),
        history: Rc::default(),
    })
}

/// Times a topic administration call as `kafka.admin`: `{ ok = true }` or `{ err, error }`.
async fn admin_op(
    lua: &Lua,
    op: impl std::future::Future<Output = Result<(), OpError>>,
) -> mlua::Result<Table> {
    let scope = OpScope::of(lua);
    let r = scope
        .time("kafka.admin", async { (op.await, Units::none()) })
        .await;
    let out = lua.create_table()?;
    match r {
        Ok(()) => out.set("ok", true)?,
        Err(e) => result_error(&out, &e)?,
    }
    Ok(out)
}

struct Admin {
    brokers: String,
    /// None under `loadgen check`.
    inner: Option<Arc<rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext>>>,
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
                    client::create_topic(&admin, &name, partitions, replication, &config, timeout),
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
                    client::delete_topic(&admin, &name, Duration::from_secs(30)),
                )
                .await
            }
        });
        m.add_async_method("describe", |lua, this, name: String| {
            let brokers = this.brokers.clone();
            async move {
                let out = lua.create_table()?;
                match client::describe(brokers, name.clone(), Duration::from_secs(10)).await {
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

fn admin(lua: &Lua, o: Option<Table>) -> mlua::Result<Admin> {
    let o = match o {
        Some(o) => o,
        None => lua.create_table()?,
    };
    check_keys(lua, "kafka.admin", &o, &["brokers", "healthcheck"])?;
    let brokers = brokers_arg(&o)?;
    let b = brokers.clone();
    healthcheck(lua, &o, &format!("kafka {brokers}"), move || {
        client::healthcheck(&b, HEALTHCHECK_TIMEOUT).map(|_| ())
    })?;
    let inner = if state(lua).shared.offline() {
        None
    } else {
        Some(Arc::new(
            client::admin(&brokers).map_err(|e| lua_error(lua, e))?,
        ))
    };
    Ok(Admin { brokers, inner })
}

pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    m.set(
        "producer",
        lua.create_function(|lua, o: Table| producer(lua, o))?,
    )?;
    m.set(
        "consumer",
        lua.create_function(|lua, o: Table| consumer(lua, o))?,
    )?;
    m.set(
        "admin",
        lua.create_function(|lua, o: Option<Table>| admin(lua, o))?,
    )?;
    Ok(m)
}

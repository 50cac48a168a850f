//! A consumer's figures per partition: the lag gauges, the per-partition counters, and the table
//! `c:lag()` returns.

use crate::bindings::kafka::client::{
    group::{GroupState, PartitionLag},
    poll::Consumed,
};
use crate::metrics::lag::LagHistory;
use crate::metrics::Tags;
use crate::script::OpScope;
use mlua::{Lua, Table};
use std::cell::RefCell;
use std::time::Instant;

/// Sets the lag gauges of every partition the consumer has (from librdkafka's statistics, once a
/// second): `kafka.consumer_lag` (records behind the high watermark) and `kafka.consumer_lag_s`
/// (now minus the timestamp of the last record read), `kafka.consumer_position`,
/// `kafka.consumer_committed` and `kafka.partition_high_watermark`, tagged with the group, topic and
/// partition; per group `kafka.rebalances` and `kafka.rebalance_ms` (time from revokes to the next
/// assignments, summed).
pub(super) fn set_lag_gauges(
    scope: &OpScope,
    group: &str,
    state: &GroupState,
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
pub(super) fn count_per_partition(scope: &OpScope, group: &str, vu: u64, got: &[Consumed]) {
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

pub(super) fn lag_table(lua: &Lua, parts: &[PartitionLag]) -> mlua::Result<Table> {
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

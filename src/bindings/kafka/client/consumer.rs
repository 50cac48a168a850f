//! The group consumer: its settings, making and subscribing it, and its partitions' lag as the
//! brokers report it.

use super::group::{GroupContext, GroupState, PartitionLag};
use super::op_error;
use crate::bindings::kafka::batch::BatchQueue;
use crate::metrics::OpError;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The assigned partitions as the brokers report them now: the consumer's position, the group's
/// committed offsets and each partition's high watermark (one request per partition; blocking, for
/// `c:lag()`, not for every poll).
pub fn lag_now(c: &GroupConsumer, timeout: Duration) -> Result<Vec<PartitionLag>, OpError> {
    let err = |e: KafkaError, what: &str| op_error(&e, what);
    let assigned = c.assignment().map_err(|e| err(e, "assignment"))?;
    let position = c.position().map_err(|e| err(e, "position"))?;
    let committed = c
        .committed_offsets(assigned.clone(), timeout)
        .map_err(|e| err(e, "committed offsets"))?;
    let offset = |l: &TopicPartitionList, t: &str, p: i32| match l
        .find_partition(t, p)
        .map(|e| e.offset())
    {
        Some(Offset::Offset(o)) => o,
        _ => -1,
    };
    let known = c.context().0.partitions();
    let mut out = Vec::new();
    for e in assigned.elements() {
        let (t, p) = (e.topic(), e.partition());
        let (low, high) = c
            .fetch_watermarks(t, p, timeout)
            .map_err(|e| err(e, &format!("watermarks of {t}/{p}")))?;
        out.push(PartitionLag {
            topic: t.to_string(),
            partition: p,
            position: offset(&position, t, p),
            committed: offset(&committed, t, p),
            high_watermark: high,
            low_watermark: low,
            from_earliest: c.context().0.from_earliest,
            last_record_ms: known
                .iter()
                .find(|k| k.topic == t && k.partition == p)
                .and_then(|k| k.last_record_ms),
        });
    }
    Ok(out)
}

/// A group consumer: rdkafka's stream consumer, whose records are read in batches from a queue of
/// our own (batch.rs).
pub struct GroupConsumer {
    inner: StreamConsumer<GroupContext>,
}

impl std::ops::Deref for GroupConsumer {
    type Target = StreamConsumer<GroupContext>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl Drop for GroupConsumer {
    /// Our queue goes before the consumer does (librdkafka's queues must not outlive their client);
    /// a rebalance while closing then finds none to forward to.
    fn drop(&mut self) {
        if let Ok(mut b) = self.inner.context().0.batch.lock() {
            b.take();
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ConsumerConfig {
    pub brokers: String,
    pub group: String,
    pub topics: Vec<String>,
    /// `earliest` or `latest`: where a group without committed offsets starts.
    pub from: String,
    pub extra: BTreeMap<String, String>,
}

impl ConsumerConfig {
    pub fn create(&self) -> Result<GroupConsumer, String> {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers)
            .set("group.id", &self.group)
            .set("auto.offset.reset", &self.from)
            .set("enable.partition.eof", "false")
            // Positions, committed offsets and high watermarks once a second (the lag gauges).
            .set("statistics.interval.ms", "1000")
            // librdkafka waits 1 s (its default) before fetching again for a partition whose
            // queue is over queued.min.messages: at 100 bytes a record that capped one consumer
            // at about 119,000 records/s; 20 ms keeps a consumer that drains 800,000 records/s
            // from emptying a partition's queue while it waits (docs/benchmarks.md, Kafka consume).
            .set("fetch.queue.backoff.ms", "20");
        for (k, v) in &self.extra {
            c.set(k, v);
        }
        let inner: StreamConsumer<GroupContext> = c
            .create_with_context(GroupContext(Arc::new(GroupState::new(
                self.from == "earliest",
            ))))
            .map_err(|e| format!("kafka consumer ({}): {}", self.brokers, super::shown(&e)))?;
        // SAFETY: the queue is dropped by GroupConsumer's drop, before the consumer.
        let queue = unsafe { BatchQueue::new(inner.client().native_ptr()) }
            .ok_or_else(|| format!("kafka consumer ({}): cannot make a queue", self.brokers))?;
        if let Ok(mut b) = inner.context().0.batch.lock() {
            *b = Some(Arc::new(queue));
        }
        let consumer = GroupConsumer { inner };
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(|e| format!("kafka consumer: cannot subscribe to {topics:?}: {e}"))?;
        Ok(consumer)
    }
}

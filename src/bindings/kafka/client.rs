//! Kafka through librdkafka (rdkafka). Plain Rust, no Lua.

use super::batch::{self, BatchQueue};
use crate::metrics::recorder::Units;
use crate::metrics::{ErrorKind, OpError};
use futures_util::FutureExt;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What librdkafka told us about the brokers: a record that times out while every broker is down
/// failed to connect, not to be answered in time.
#[derive(Debug, Default)]
pub struct Health {
    all_down: AtomicBool,
}

/// Our librdkafka context: quiet logging, and broker health for error classification.
pub struct Context(Arc<Health>);

impl ClientContext for Context {
    fn error(&self, error: KafkaError, _reason: &str) {
        if matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::AllBrokersDown | RDKafkaErrorCode::BrokerTransportFailure)
        ) {
            self.0.all_down.store(true, Ordering::Relaxed);
        }
    }
}

/// A producer and what is known of its brokers' health.
pub struct KafkaProducer {
    pub inner: FutureProducer<Context>,
    pub health: Arc<Health>,
}

/// Header the producer writes: the send time in epoch microseconds, read back for `kafka.e2e`.
pub const SENT_HEADER: &str = "loadgen-sent-us";

#[derive(Debug, Clone, Default)]
pub struct ProducerConfig {
    pub brokers: String,
    pub acks: Option<String>,
    pub compression: Option<String>,
    pub linger_ms: Option<u64>,
    pub batch_size: Option<u64>,
    pub idempotence: Option<bool>,
    /// How long a record may wait for delivery (message.timeout.ms).
    pub timeout: Option<Duration>,
    /// Any other librdkafka setting.
    pub extra: BTreeMap<String, String>,
}

impl ProducerConfig {
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        if let Some(v) = &self.acks {
            c.set("acks", v);
        }
        if let Some(v) = &self.compression {
            c.set("compression.type", v);
        }
        if let Some(v) = self.linger_ms {
            c.set("linger.ms", v.to_string());
        }
        if let Some(v) = self.batch_size {
            c.set("batch.size", v.to_string());
        }
        if let Some(v) = self.idempotence {
            c.set("enable.idempotence", v.to_string());
        }
        if let Some(t) = self.timeout {
            c.set("message.timeout.ms", t.as_millis().to_string());
        }
        for (k, v) in &self.extra {
            c.set(k, v);
        }
        c
    }

    pub fn create(&self) -> Result<KafkaProducer, String> {
        let health = Arc::new(Health::default());
        let inner = self
            .client_config()
            .create_with_context(Context(health.clone()))
            .map_err(|e| format!("kafka producer ({}): {e}", self.brokers))?;
        Ok(KafkaProducer { inner, health })
    }
}

/// What a consumer knows about its place in its group, kept by librdkafka's callbacks: whether it has
/// partitions, since when it has had none, and the last client error. An empty poll is explained from
/// it (no coordinator or join in progress, rebalancing) instead of being silent.
#[derive(Debug)]
pub struct GroupState {
    /// When the consumer subscribed.
    pub since: Instant,
    /// Partitions assigned now.
    assigned: AtomicUsize,
    /// Milliseconds after `since` when the first assignment (the end of the join) arrived (u64::MAX:
    /// not yet).
    first_assigned_ms: AtomicU64,
    /// Milliseconds after `since` when the consumer last had no partitions left (subscribe or revoke).
    unassigned_at_ms: AtomicU64,
    /// Whether the join was handed out (take_join) to be recorded.
    join_taken: AtomicBool,
    last_error: Mutex<Option<String>>,
    /// The assigned partitions as librdkafka's statistics last reported them (once a second).
    partitions: Mutex<BTreeMap<(String, i32), PartitionLag>>,
    /// Rebalances of this consumer's group membership (librdkafka's count; -1: no statistics yet).
    rebalances: AtomicI64,
    /// Milliseconds after `since` of the last revoke not yet followed by an assignment (u64::MAX: none).
    revoked_at_ms: AtomicU64,
    /// Milliseconds spent between a revoke and the next assignment, summed (the first join is not in it:
    /// `kafka.join` times that).
    rebalance_ms: AtomicU64,
    /// `auto.offset.reset` is earliest.
    from_earliest: bool,
    /// The queue the assigned partitions' records are read from in batches (None once closing).
    batch: Mutex<Option<Arc<BatchQueue>>>,
}

/// One assigned partition, as librdkafka's statistics (or, for `lag_now`, the brokers) report it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    /// The next offset the application reads (-1: not known yet).
    pub position: i64,
    /// The group's committed offset (-1: none).
    pub committed: i64,
    /// The high watermark: the offset the next record written to the partition gets (-1: not known).
    pub high_watermark: i64,
    /// The low watermark: the partition's first offset (-1: not known).
    pub low_watermark: i64,
    /// Where a consumer without a position or a committed offset starts: the low watermark
    /// (`from = "earliest"`), else the high watermark.
    pub from_earliest: bool,
    /// Epoch ms of the last record this consumer read from the partition.
    pub last_record_ms: Option<i64>,
}

impl PartitionLag {
    /// Records behind: the high watermark minus the position (before the first read: minus the
    /// committed offset, or without one where the consumer starts). None while unknown.
    pub fn lag(&self) -> Option<i64> {
        let from = if self.position >= 0 {
            self.position
        } else if self.committed >= 0 {
            self.committed
        } else if self.from_earliest {
            self.low_watermark
        } else {
            self.high_watermark
        };
        (from >= 0 && self.high_watermark >= 0).then(|| (self.high_watermark - from).max(0))
    }

    /// Seconds behind: now minus the timestamp of the last record read (None before the first).
    pub fn lag_seconds(&self, now_ms: i64) -> Option<f64> {
        self.last_record_ms
            .map(|t| (now_ms - t).max(0) as f64 / 1000.0)
    }
}

impl GroupState {
    fn new(from_earliest: bool) -> GroupState {
        GroupState {
            since: Instant::now(),
            assigned: AtomicUsize::new(0),
            first_assigned_ms: AtomicU64::new(u64::MAX),
            unassigned_at_ms: AtomicU64::new(0),
            join_taken: AtomicBool::new(false),
            last_error: Mutex::new(None),
            partitions: Mutex::new(BTreeMap::new()),
            rebalances: AtomicI64::new(-1),
            revoked_at_ms: AtomicU64::new(u64::MAX),
            rebalance_ms: AtomicU64::new(0),
            from_earliest,
            batch: Mutex::new(None),
        }
    }

    /// The batch queue, while the consumer is open.
    pub fn batch_queue(&self) -> Option<Arc<BatchQueue>> {
        self.batch.lock().ok().and_then(|b| b.clone())
    }

    fn now_ms(&self) -> u64 {
        self.since.elapsed().as_millis() as u64
    }

    /// Partitions assigned now.
    pub fn assigned(&self) -> usize {
        self.assigned.load(Ordering::Relaxed)
    }

    /// How long the join took: from subscribing to the first assignment (None: not joined yet).
    pub fn joined_after(&self) -> Option<Duration> {
        match self.first_assigned_ms.load(Ordering::Relaxed) {
            u64::MAX => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// The join's duration, once: the first call after the join returns it, every other None.
    pub fn take_join(&self) -> Option<Duration> {
        let j = self.joined_after()?;
        (!self.join_taken.swap(true, Ordering::Relaxed)).then_some(j)
    }

    /// How long the consumer has been without partitions (zero while it has some).
    pub fn unassigned_for(&self) -> Duration {
        if self.assigned() > 0 {
            return Duration::ZERO;
        }
        let at = self.unassigned_at_ms.load(Ordering::Relaxed);
        Duration::from_millis(self.now_ms().saturating_sub(at))
    }

    /// The last error librdkafka reported for this consumer.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    /// The assigned partitions as the last statistics saw them, by topic and partition.
    pub fn partitions(&self) -> Vec<PartitionLag> {
        self.partitions
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Rebalances of this consumer's group membership so far (None before the first statistics).
    pub fn rebalances(&self) -> Option<i64> {
        Some(self.rebalances.load(Ordering::Relaxed)).filter(|n| *n >= 0)
    }

    /// Milliseconds this consumer spent in rebalances so far: from each revoke to the next assignment,
    /// a rebalance still in progress counted up to now.
    pub fn rebalance_ms(&self) -> u64 {
        let done = self.rebalance_ms.load(Ordering::Relaxed);
        match self.revoked_at_ms.load(Ordering::Relaxed) {
            u64::MAX => done,
            at => done + self.now_ms().saturating_sub(at),
        }
    }

    /// Notes the last record read from each partition in a poll's records (its timestamp, epoch ms).
    pub fn consumed_all(&self, records: &[Consumed]) {
        // The last record of each partition, in the order they came (a poll holds few partitions).
        let mut last: Vec<&Consumed> = Vec::new();
        for c in records.iter().rev() {
            if c.timestamp_ms.is_some()
                && !last
                    .iter()
                    .any(|l| l.partition == c.partition && l.topic == c.topic)
            {
                last.push(c);
            }
        }
        let Ok(mut m) = self.partitions.lock() else {
            return;
        };
        for c in last {
            let key = (c.topic.to_string(), c.partition);
            let e = m.entry(key).or_insert_with(|| PartitionLag {
                topic: c.topic.to_string(),
                partition: c.partition,
                position: -1,
                committed: -1,
                high_watermark: -1,
                low_watermark: -1,
                from_earliest: self.from_earliest,
                last_record_ms: None,
            });
            e.last_record_ms = c.timestamp_ms;
        }
    }

    /// Takes in librdkafka's statistics: the partitions this consumer fetches now replace the
    /// previous set (a revoked partition drops out), keeping each one's last record time.
    fn on_stats(&self, s: &Statistics) {
        if let Some(g) = &s.cgrp {
            self.rebalances.store(g.rebalance_cnt, Ordering::Relaxed);
        }
        let Ok(mut m) = self.partitions.lock() else {
            return;
        };
        let mut now = BTreeMap::new();
        for (name, t) in &s.topics {
            for p in t.partitions.values() {
                // Partition -1 is librdkafka's internal "unassigned" queue.
                if p.partition < 0 || !(p.desired || p.fetch_state == "active") {
                    continue;
                }
                let key = (name.clone(), p.partition);
                let last = m.get(&key).and_then(|e| e.last_record_ms);
                now.insert(
                    key,
                    PartitionLag {
                        topic: name.clone(),
                        partition: p.partition,
                        position: p.app_offset,
                        committed: p.committed_offset,
                        high_watermark: p.hi_offset,
                        low_watermark: p.lo_offset,
                        from_earliest: self.from_earliest,
                        last_record_ms: last,
                    },
                );
            }
        }
        *m = now;
    }

    fn on_rebalance(&self, r: &Rebalance<'_>) {
        match r {
            Rebalance::Assign(tpl) => {
                let n = tpl.count();
                self.assigned.store(n, Ordering::Relaxed);
                let at = self.revoked_at_ms.swap(u64::MAX, Ordering::Relaxed);
                if at != u64::MAX {
                    self.rebalance_ms
                        .fetch_add(self.now_ms().saturating_sub(at), Ordering::Relaxed);
                }
                // The first assignment, even an empty one, ends the join.
                if self.first_assigned_ms.load(Ordering::Relaxed) == u64::MAX {
                    self.first_assigned_ms
                        .store(self.now_ms(), Ordering::Relaxed);
                }
                if n == 0 {
                    self.unassigned_at_ms
                        .store(self.now_ms(), Ordering::Relaxed);
                }
            }
            Rebalance::Revoke(_) => {
                self.assigned.store(0, Ordering::Relaxed);
                self.revoked_at_ms.store(self.now_ms(), Ordering::Relaxed);
                self.unassigned_at_ms
                    .store(self.now_ms(), Ordering::Relaxed);
            }
            Rebalance::Error(e) => {
                if let Ok(mut l) = self.last_error.lock() {
                    *l = Some(format!("rebalance: {e}"));
                }
            }
        }
    }
}

/// The consumer's librdkafka context: quiet logging, and the group state above.
pub struct GroupContext(pub Arc<GroupState>);

impl ClientContext for GroupContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if let Ok(mut l) = self.0.last_error.lock() {
            *l = Some(format!("{error}: {reason}"));
        }
    }

    fn stats(&self, statistics: Statistics) {
        self.0.on_stats(&statistics);
    }
}

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

impl ConsumerContext for GroupContext {
    fn post_rebalance(&self, c: &rdkafka::consumer::BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let (Rebalance::Assign(tpl), Some(b)) = (rebalance, self.0.batch_queue()) {
            let parts: Vec<(String, i32)> = tpl
                .elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect();
            // SAFETY: called by the consumer itself while it is open; the queue was made on it.
            unsafe { b.forward(c.client().native_ptr(), &parts) };
        }
        self.0.on_rebalance(rebalance);
    }
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
            .map_err(|e| format!("kafka consumer ({}): {e}", self.brokers))?;
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

/// Sorts a Kafka error into the error kinds.
pub fn classify(e: &KafkaError) -> ErrorKind {
    let code = match e {
        KafkaError::MessageProduction(c)
        | KafkaError::MessageConsumption(c)
        | KafkaError::AdminOp(c)
        | KafkaError::Global(c)
        | KafkaError::MetadataFetch(c) => Some(*c),
        KafkaError::ClientCreation(_) | KafkaError::ClientConfig(..) => return ErrorKind::Client,
        _ => e.rdkafka_error_code(),
    };
    match code {
        Some(
            RDKafkaErrorCode::MessageTimedOut
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::OperationTimedOut,
        ) => ErrorKind::Timeout,
        Some(
            RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::Resolve
            | RDKafkaErrorCode::NetworkException,
        ) => ErrorKind::Connect,
        Some(
            RDKafkaErrorCode::InvalidMessageSize
            | RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::UnknownTopicOrPartition
            | RDKafkaErrorCode::UnknownTopic
            | RDKafkaErrorCode::UnknownPartition
            | RDKafkaErrorCode::InvalidArgument
            | RDKafkaErrorCode::TopicAlreadyExists
            | RDKafkaErrorCode::InvalidTopic
            | RDKafkaErrorCode::InvalidPartitions
            | RDKafkaErrorCode::InvalidReplicationFactor
            | RDKafkaErrorCode::QueueFull,
        ) => ErrorKind::Client,
        Some(_) => ErrorKind::Server,
        None => ErrorKind::Protocol,
    }
}

fn op_error(e: &KafkaError, what: &str) -> OpError {
    OpError::new(classify(e), format!("{what}: {e}"))
}

/// One record to produce.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub partition: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delivery {
    pub partition: i32,
    pub offset: i64,
}

/// Sends a record and waits for its delivery report. The send time goes into a header.
pub async fn send(producer: &KafkaProducer, rec: Record) -> (Result<Delivery, OpError>, Units) {
    let bytes = rec.key.as_ref().map_or(0, Vec::len) + rec.value.as_ref().map_or(0, Vec::len);
    let units = Units::none().with("records", 1).with("bytes", bytes as u64);
    let sent = crate::util::epoch_micros().to_string();
    let mut headers = OwnedHeaders::new_with_capacity(rec.headers.len() + 1).insert(Header {
        key: SENT_HEADER,
        value: Some(sent.as_bytes()),
    });
    for (k, v) in &rec.headers {
        headers = headers.insert(Header {
            key: k.as_str(),
            value: Some(v.as_slice()),
        });
    }
    let mut fr: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&rec.topic).headers(headers);
    if let Some(k) = &rec.key {
        fr = fr.key(k.as_slice());
    }
    if let Some(v) = &rec.value {
        fr = fr.payload(v.as_slice());
    }
    if let Some(p) = rec.partition {
        fr = fr.partition(p);
    }
    // Enqueue without waiting on a full queue: a full queue is the generator outrunning the
    // client, reported as a client error rather than hidden in the latency.
    match producer.inner.send(fr, Duration::ZERO).await {
        Ok(d) => {
            producer.health.all_down.store(false, Ordering::Relaxed);
            (
                Ok(Delivery {
                    partition: d.partition,
                    offset: d.offset,
                }),
                units,
            )
        }
        Err((e, _)) => {
            let mut err = op_error(&e, &format!("produce to {}", rec.topic));
            if err.kind == ErrorKind::Timeout && producer.health.all_down.load(Ordering::Relaxed) {
                err.kind = ErrorKind::Connect;
                err.message.push_str(" (no broker reachable)");
            }
            (Err(err), Units::none())
        }
    }
}

/// A consumed record.
#[derive(Debug, Clone)]
pub struct Consumed {
    /// Shared by the records of a poll that come from the same topic.
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    /// Key and value, copied only when the records go to the script (`poll_batch`'s `copy`).
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
    /// Bytes of its key and value (what `bytes` counts when consuming), copied or not.
    pub bytes: usize,
    /// Record timestamp, epoch ms.
    pub timestamp_ms: Option<i64>,
    /// When the producer sent it (our header), epoch µs.
    pub sent_us: Option<i64>,
}

impl Consumed {
    /// Bytes of its key and value.
    pub fn size(&self) -> usize {
        self.bytes
    }
}

/// What one `poll` read: up to `max` records, and the error that ended it early.
#[derive(Debug, Default)]
pub struct Batch {
    pub records: Vec<Consumed>,
    pub error: Option<OpError>,
}

/// Turns librdkafka's records into `Consumed`, sharing a topic's name between its records.
struct Reader {
    copy: bool,
    topic: Option<(*const std::ffi::c_void, Arc<str>)>,
}

impl Reader {
    /// Adds the record `m` to `out`, or returns its error.
    ///
    /// # Safety
    /// `m` is a live record.
    unsafe fn take(
        &mut self,
        m: *const rdkafka::bindings::rd_kafka_message_t,
        out: &mut Vec<Consumed>,
    ) -> Result<(), OpError> {
        let r = unsafe { batch::read(m) };
        if r.err != rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            let e = KafkaError::MessageConsumption(r.err.into());
            return Err(op_error(&e, "consume"));
        }
        let mut headers = Vec::new();
        let mut sent_us = None;
        let copy = self.copy;
        unsafe {
            batch::each_header(r.headers, |name, value| {
                if name == SENT_HEADER {
                    sent_us = value
                        .and_then(|v| std::str::from_utf8(v).ok())
                        .and_then(|s| s.parse().ok());
                } else if copy {
                    headers.push((
                        name.to_string(),
                        value.map(<[u8]>::to_vec).unwrap_or_default(),
                    ));
                }
            })
        };
        let topic = match &self.topic {
            Some((h, t)) if *h == r.topic_handle => t.clone(),
            _ => {
                let t: Arc<str> = Arc::from(r.topic);
                self.topic = Some((r.topic_handle, t.clone()));
                t
            }
        };
        out.push(Consumed {
            topic,
            partition: r.partition,
            offset: r.offset,
            key: if copy {
                r.key.map(<[u8]>::to_vec)
            } else {
                None
            },
            value: if copy {
                r.value.map(<[u8]>::to_vec)
            } else {
                None
            },
            headers,
            bytes: r.key.map_or(0, <[u8]>::len) + r.value.map_or(0, <[u8]>::len),
            timestamp_ms: r.timestamp_ms,
            sent_us,
        });
        Ok(())
    }
}

/// Waits up to `timeout` for a first record, then takes whatever else is already queued, up to
/// `max` records. With `copy` false a record's key, value and other headers are not copied out of
/// librdkafka's buffer (a consumer that only counts records and bytes, as Kafka's
/// ConsumerPerformance does); the sent-time header and the timestamp are read either way.
///
/// The consumer's own queue is served first (rebalances, errors, and records fetched before their
/// partition was forwarded), then the batch queue (batch.rs); while both are empty, it waits for
/// either until the timeout.
pub async fn poll_batch(
    consumer: &GroupConsumer,
    timeout: Duration,
    max: usize,
    copy: bool,
) -> Batch {
    use futures_util::StreamExt;
    let mut out = Batch {
        records: Vec::with_capacity(max.min(1024)),
        error: None,
    };
    let queue = consumer.context().0.batch_queue();
    let mut reader = Reader { copy, topic: None };
    let mut stream = consumer.stream();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        while out.records.len() < max && out.error.is_none() {
            match stream.next().now_or_never() {
                // SAFETY: m is alive for the call.
                Some(Some(Ok(m))) => {
                    if let Err(e) = unsafe { reader.take(m.ptr(), &mut out.records) } {
                        out.error = Some(e);
                    }
                }
                Some(Some(Err(e))) => out.error = Some(op_error(&e, "consume")),
                _ => break,
            }
        }
        if let Some(q) = &queue {
            let room = max - out.records.len();
            if out.error.is_none() && room > 0 {
                let mut first_error = None;
                q.drain(room, |m| {
                    // SAFETY: m is alive until drain's callback returns.
                    if let Err(e) = unsafe { reader.take(m, &mut out.records) } {
                        first_error.get_or_insert(e);
                    }
                });
                out.error = first_error;
            }
        }
        if !out.records.is_empty() || out.error.is_some() || timeout.is_zero() {
            return out;
        }
        let not_empty = async {
            match &queue {
                Some(q) => q.notify.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            m = stream.next() => match m {
                // SAFETY: m is alive for the call.
                Some(Ok(m)) => {
                    if let Err(e) = unsafe { reader.take(m.ptr(), &mut out.records) } {
                        out.error = Some(e);
                    }
                }
                Some(Err(e)) => out.error = Some(op_error(&e, "consume")),
                None => return out,
            },
            _ = not_empty => {}
            _ = tokio::time::sleep_until(deadline) => return out,
        }
    }
}

pub fn admin(brokers: &str) -> Result<AdminClient<DefaultClientContext>, String> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(|e| format!("kafka admin ({brokers}): {e}"))
}

pub async fn create_topic(
    admin: &AdminClient<DefaultClientContext>,
    name: &str,
    partitions: i32,
    replication: i32,
    config: &BTreeMap<String, String>,
    timeout: Duration,
) -> Result<(), OpError> {
    let mut t = NewTopic::new(name, partitions, TopicReplication::Fixed(replication));
    for (k, v) in config {
        t = t.set(k, v);
    }
    let opts = AdminOptions::new().operation_timeout(Some(timeout));
    let results = tokio::time::timeout(
        timeout + Duration::from_secs(1),
        admin.create_topics([&t], &opts),
    )
    .await
    .map_err(|_| {
        OpError::new(
            ErrorKind::Timeout,
            format!("create topic {name}: no answer"),
        )
    })?
    .map_err(|e| op_error(&e, &format!("create topic {name}")))?;
    for r in results {
        if let Err((topic, code)) = r {
            let e = KafkaError::AdminOp(code);
            return Err(op_error(&e, &format!("create topic {topic}")));
        }
    }
    Ok(())
}

pub async fn delete_topic(
    admin: &AdminClient<DefaultClientContext>,
    name: &str,
    timeout: Duration,
) -> Result<(), OpError> {
    let opts = AdminOptions::new().operation_timeout(Some(timeout));
    let results = tokio::time::timeout(
        timeout + Duration::from_secs(1),
        admin.delete_topics(&[name], &opts),
    )
    .await
    .map_err(|_| {
        OpError::new(
            ErrorKind::Timeout,
            format!("delete topic {name}: no answer"),
        )
    })?
    .map_err(|e| op_error(&e, &format!("delete topic {name}")))?;
    for r in results {
        if let Err((topic, code)) = r {
            return Err(op_error(
                &KafkaError::AdminOp(code),
                &format!("delete topic {topic}"),
            ));
        }
    }
    Ok(())
}

/// A partition of a topic as the metadata describes it.
#[derive(Debug, Clone)]
pub struct PartitionInfo {
    pub id: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// The log's first offset and its high watermark (the offset after the last committed record);
    /// `None` when the partition's leader could not say (no leader: a broker down, a new topic).
    pub low: Option<i64>,
    pub high: Option<i64>,
}

/// Topic metadata (partitions, leaders, replicas); `None` for topic lists every broker.
pub async fn describe(
    brokers: String,
    topic: String,
    timeout: Duration,
) -> Result<(Vec<i32>, Vec<PartitionInfo>), OpError> {
    // fetch_metadata blocks: run it off the worker thread.
    tokio::task::spawn_blocking(move || {
        let admin = admin(&brokers).map_err(|e| OpError::new(ErrorKind::Client, e))?;
        let md = admin
            .inner()
            .fetch_metadata(Some(&topic), timeout)
            .map_err(|e| op_error(&e, &format!("describe {topic} on {brokers}")))?;
        let brokers: Vec<i32> = md.brokers().iter().map(|b| b.id()).collect();
        let mut parts = Vec::new();
        for t in md.topics() {
            if let Some(code) = t.error() {
                let e = KafkaError::MetadataFetch(code.into());
                return Err(op_error(&e, &format!("describe {topic}")));
            }
            for p in t.partitions() {
                let (low, high) = match admin.inner().fetch_watermarks(&topic, p.id(), timeout) {
                    Ok((l, h)) => (Some(l), Some(h)),
                    Err(_) => (None, None),
                };
                parts.push(PartitionInfo {
                    id: p.id(),
                    leader: p.leader(),
                    replicas: p.replicas().to_vec(),
                    isr: p.isr().to_vec(),
                    low,
                    high,
                });
            }
        }
        Ok((brokers, parts))
    })
    .await
    .map_err(|e| OpError::new(ErrorKind::Protocol, format!("describe: {e}")))?
}

/// Reaches the brokers within `timeout`, or says which could not be reached.
pub fn healthcheck(brokers: &str, timeout: Duration) -> Result<usize, String> {
    let admin = admin(brokers)?;
    let md = admin
        .inner()
        .fetch_metadata(None, timeout)
        .map_err(|e| format!("kafka: cannot reach brokers {brokers} within {timeout:?}: {e}"))?;
    Ok(md.brokers().len())
}

/// Waits until queued records are delivered.
pub fn flush(producer: &KafkaProducer, timeout: Duration) -> Result<(), OpError> {
    producer
        .inner
        .flush(timeout)
        .map_err(|e| op_error(&e, "flush"))
}

#[cfg(test)]
mod tests {
    use super::PartitionLag;

    fn part(position: i64, committed: i64, low: i64, high: i64, earliest: bool) -> PartitionLag {
        PartitionLag {
            topic: "t".into(),
            partition: 0,
            position,
            committed,
            high_watermark: high,
            low_watermark: low,
            from_earliest: earliest,
            last_record_ms: Some(1_000),
        }
    }

    #[test]
    fn lag_counts_from_the_position_then_the_commit_then_where_the_consumer_starts() {
        assert_eq!(part(40, 30, 0, 100, true).lag(), Some(60));
        assert_eq!(part(-1, 30, 0, 100, true).lag(), Some(70));
        assert_eq!(part(-1, -1, 10, 100, true).lag(), Some(90));
        assert_eq!(part(-1, -1, 10, 100, false).lag(), Some(0));
        assert_eq!(part(40, 30, 0, -1, true).lag(), None);
        assert_eq!(part(120, -1, 0, 100, true).lag(), Some(0));
        assert_eq!(part(1, 1, 0, 1, true).lag_seconds(3_500), Some(2.5));
    }
}

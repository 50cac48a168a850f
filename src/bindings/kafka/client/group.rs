//! What a group consumer knows of its group, kept by librdkafka's callbacks (assignments, revokes,
//! statistics, errors), and the lag of its partitions.

use super::poll::Consumed;
use crate::bindings::kafka::batch::BatchQueue;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    pub(super) from_earliest: bool,
    /// The queue the assigned partitions' records are read from in batches (None once closing).
    pub(super) batch: Mutex<Option<Arc<BatchQueue>>>,
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
    pub(super) fn new(from_earliest: bool) -> GroupState {
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

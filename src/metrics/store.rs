//! The run-wide metric store, kept by the coordinator: totals per series and a 1-second time series
//! per metric name, both built by merging worker snapshots exactly.

use super::entry::{Entry, SeriesKey};
use super::recorder::{Snapshot, Tags};
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone)]
pub struct MetricStore {
    /// Per series.
    pub totals: BTreeMap<SeriesKey, Entry>,
    /// Per unix second, per metric name (tags folded). Seconds more than [`SEAL_AFTER_S`] behind
    /// the newest keep their histogram compressed in `sealed` (read them with [`MetricStore::second`]).
    pub series: BTreeMap<i64, BTreeMap<String, Entry>>,
    /// The latency (or values) histogram of each sealed second's metric, HdrHistogram V2 deflate:
    /// a few hundred bytes instead of up to a few hundred KiB, so a long run's series stays small.
    sealed: BTreeMap<(i64, String), String>,
    /// Seconds up to this one are sealed.
    sealed_until: Option<i64>,
    pub script_errors: BTreeMap<String, u64>,
    /// Bindings' warnings (Recorder::warn), by message.
    pub warnings: BTreeMap<String, u64>,
}

/// How many seconds behind the newest a second of the series is sealed (late snapshots still merge
/// into a sealed second; it is opened again for that).
pub const SEAL_AFTER_S: i64 = 5;

impl MetricStore {
    /// Adds a snapshot of the load to the totals and to the second `unix_sec` of the series.
    pub fn add(&mut self, unix_sec: i64, snapshot: Snapshot) {
        if self.sealed_until.is_some_and(|s| unix_sec <= s) {
            self.unseal(unix_sec);
        }
        let second = self.series.entry(unix_sec).or_default();
        for e in &snapshot.entries {
            match second.get_mut(&e.name) {
                Some(s) => s.merge(e),
                None => {
                    let mut s = Entry::new(&e.name, Tags::new(), e.kind);
                    s.merge(e);
                    second.insert(e.name.clone(), s);
                }
            }
        }
        self.add_totals(snapshot);
        self.seal_before(unix_sec - SEAL_AFTER_S);
    }

    /// Seals every second up to `last`: histograms compressed, service times dropped (the series
    /// keeps only latency, or a trend's values).
    fn seal_before(&mut self, last: i64) {
        let from = self.sealed_until.map_or(i64::MIN, |s| s + 1);
        if from > last {
            return;
        }
        for (t, metrics) in self.series.range_mut(from..=last) {
            for (name, e) in metrics.iter_mut() {
                e.service = None;
                if let Some(h) = e.hist.take() {
                    self.sealed
                        .insert((*t, name.clone()), super::hist::encode(&h));
                }
            }
        }
        self.sealed_until = Some(last.max(self.sealed_until.unwrap_or(i64::MIN)));
    }

    /// Opens second `t` again (a late snapshot for it arrived): its histograms decoded.
    fn unseal(&mut self, t: i64) {
        let Some(metrics) = self.series.get_mut(&t) else {
            return;
        };
        for (name, e) in metrics.iter_mut() {
            if let Some(text) = self.sealed.remove(&(t, name.clone())) {
                e.hist = super::hist::decode(&text).ok();
            }
        }
    }

    /// Second `t` of the series with every histogram in place (decoded if sealed).
    pub fn second(&self, t: i64) -> BTreeMap<String, Entry> {
        let mut out = self.series.get(&t).cloned().unwrap_or_default();
        for (name, e) in out.iter_mut() {
            if e.hist.is_none() {
                if let Some(text) = self.sealed.get(&(t, name.clone())) {
                    e.hist = super::hist::decode(text).ok();
                }
            }
        }
        out
    }

    /// Adds a snapshot to the totals only: what `setup()` and `teardown()` recorded, which happened
    /// outside the load's seconds and so stays out of its time series.
    pub fn add_totals(&mut self, snapshot: Snapshot) {
        for e in snapshot.entries {
            let key = SeriesKey::of(&e);
            match self.totals.get_mut(&key) {
                Some(t) => t.merge(&e),
                None => {
                    self.totals.insert(key, e);
                }
            }
        }
        for (msg, n) in snapshot.script_errors {
            *self.script_errors.entry(msg).or_default() += n;
        }
        for (msg, n) in snapshot.warnings {
            *self.warnings.entry(msg).or_default() += n;
        }
    }

    /// Merges all series of `name` whose tags include every pair of `filter`.
    pub fn select(&self, name: &str, filter: &Tags) -> Option<Entry> {
        let mut out: Option<Entry> = None;
        for e in self.totals.values().filter(|e| e.name == name) {
            if filter.iter().all(|(k, v)| e.tags.get(k) == Some(v)) {
                match out.as_mut() {
                    Some(o) => o.merge(e),
                    None => {
                        let mut o = Entry::new(name, filter.clone(), e.kind);
                        o.merge(e);
                        out = Some(o);
                    }
                }
            }
        }
        out
    }

    /// Metric names in order.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.totals.values().map(|e| e.name.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// Total per metric name (all tags folded).
    pub fn by_name(&self) -> BTreeMap<String, Entry> {
        self.names()
            .into_iter()
            .filter_map(|n| self.select(&n, &Tags::new()).map(|e| (n, e)))
            .collect()
    }

    pub fn merge_store(&mut self, other: &MetricStore) {
        for (key, e) in &other.totals {
            match self.totals.get_mut(key) {
                Some(t) => t.merge(e),
                None => {
                    self.totals.insert(key.clone(), e.clone());
                }
            }
        }
        for sec in other.series.keys() {
            let metrics = other.second(*sec);
            if self.sealed_until.is_some_and(|s| *sec <= s) {
                self.unseal(*sec);
            }
            let mine = self.series.entry(*sec).or_default();
            for (name, e) in &metrics {
                match mine.get_mut(name) {
                    Some(m) => m.merge(e),
                    None => {
                        mine.insert(name.clone(), e.clone());
                    }
                }
            }
        }
        for (msg, n) in &other.script_errors {
            *self.script_errors.entry(msg.clone()).or_default() += n;
        }
        for (msg, n) in &other.warnings {
            *self.warnings.entry(msg.clone()).or_default() += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::recorder::{Recorder, Units};
    use std::time::Duration;

    fn snapshot(ms: u64) -> Snapshot {
        let mut r = Recorder::new();
        let d = Duration::from_millis(ms);
        r.record_op("x.op", &Tags::new(), d, d, None, &Units::none());
        r.take()
    }

    /// Seconds far enough behind are kept compressed and read back exactly, and a late snapshot
    /// still merges into its (sealed) second.
    #[test]
    fn old_seconds_are_sealed_and_read_back_exactly() {
        let mut store = MetricStore::default();
        for t in 0..20 {
            store.add(t, snapshot(10 + t as u64));
        }
        let sealed = &store.series[&3]["x.op"];
        assert!(sealed.hist.is_none() && sealed.service.is_none());
        assert!(
            store.series[&19]["x.op"].hist.is_some(),
            "recent seconds stay open"
        );
        let back = store.second(3);
        let h = back["x.op"].hist.as_ref().unwrap();
        assert_eq!(h.len(), 1);
        assert!(h.equivalent(h.max(), 13_000));
        // A late sample for second 3 opens it, merges, and it is sealed again by the next add.
        store.add(3, snapshot(500));
        store.add(20, snapshot(1));
        let h = store.second(3)["x.op"].hist.clone().unwrap();
        assert_eq!(h.len(), 2);
        assert!(h.equivalent(h.max(), 500_000));
        assert_eq!(store.totals[&SeriesKey::parse("x.op").unwrap()].count, 22);
    }
}

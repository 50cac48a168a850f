//! The run-wide metric store, kept by the coordinator: totals per series and a 1-second time series
//! per metric name, both built by merging worker snapshots exactly.

use super::entry::{series_key, Entry};
use super::recorder::{Snapshot, Tags};
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone)]
pub struct MetricStore {
    /// Per series key (`name{tags}`).
    pub totals: BTreeMap<String, Entry>,
    /// Per unix second, per metric name (tags folded).
    pub series: BTreeMap<i64, BTreeMap<String, Entry>>,
    pub script_errors: BTreeMap<String, u64>,
    /// Bindings' warnings (Recorder::warn), by message.
    pub warnings: BTreeMap<String, u64>,
}

impl MetricStore {
    /// Adds a snapshot of the load to the totals and to the second `unix_sec` of the series.
    pub fn add(&mut self, unix_sec: i64, snapshot: Snapshot) {
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
    }

    /// Adds a snapshot to the totals only: what `setup()` and `teardown()` recorded, which happened
    /// outside the load's seconds and so stays out of its time series.
    pub fn add_totals(&mut self, snapshot: Snapshot) {
        for e in snapshot.entries {
            let key = series_key(&e.name, &e.tags);
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
        for (sec, metrics) in &other.series {
            let mine = self.series.entry(*sec).or_default();
            for (name, e) in metrics {
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

//! The run-wide metric store, kept by the coordinator: totals per series and a 1-second time series
//! per metric name, both built by merging worker snapshots exactly.

use super::entry::{Entry, SeriesKey};
use super::recorder::{Snapshot, Tags};
use super::spill::Spill;
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone)]
pub struct MetricStore {
    /// Per series.
    pub totals: BTreeMap<SeriesKey, Entry>,
    /// Per unix second, per metric name (tags folded): the seconds still open. Seconds more than
    /// [`SEAL_AFTER_S`] behind the newest are sealed into `sealed` (read every second with
    /// [`MetricStore::seconds`] and [`MetricStore::second`]).
    pub series: BTreeMap<i64, BTreeMap<String, Entry>>,
    /// Sealed seconds, compressed, out of memory: a run's memory does not grow with its length.
    sealed: Spill,
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
        self.unseal(unix_sec);
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

    /// Seals every open second up to `last`: it leaves memory, compressed, without its service
    /// times (the series keeps only latency, or a trend's values).
    fn seal_before(&mut self, last: i64) {
        while let Some(entry) = self.series.first_entry() {
            if *entry.key() > last {
                break;
            }
            let (t, metrics) = entry.remove_entry();
            if let Some(why) = self.sealed.put(t, &metrics) {
                *self.warnings.entry(why).or_default() += 1;
            }
        }
    }

    /// Opens second `t` again if it is sealed (a late snapshot for it arrived).
    fn unseal(&mut self, t: i64) {
        if let Some(metrics) = self.sealed.take(t) {
            self.series.insert(t, metrics);
        }
    }

    /// Every second of the series, sealed or open, in order.
    pub fn seconds(&self) -> Vec<i64> {
        let mut all: Vec<i64> = self
            .sealed
            .seconds()
            .chain(self.series.keys().copied())
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Second `t` of the series with every histogram in place (read back if sealed).
    pub fn second(&self, t: i64) -> BTreeMap<String, Entry> {
        match self.series.get(&t) {
            Some(m) => m.clone(),
            None => self.sealed.get(t),
        }
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
        for sec in other.seconds() {
            let metrics = other.second(sec);
            self.unseal(sec);
            let mine = self.series.entry(sec).or_default();
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
        // Sealed seconds leave memory; the newest stay open.
        assert_eq!(
            store.series.keys().copied().collect::<Vec<_>>(),
            (15..20).collect::<Vec<_>>()
        );
        assert!(store.series[&19]["x.op"].hist.is_some());
        assert_eq!(store.seconds(), (0..20).collect::<Vec<_>>());
        let back = store.second(3);
        assert!(
            back["x.op"].service.is_none(),
            "a sealed second keeps no service times"
        );
        assert_eq!(back["x.op"].count, 1);
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
        assert!(!store.series.contains_key(&3), "sealed again");
        // A copy reads the sealed seconds into its own memory: both read the same.
        let copy = store.clone();
        assert_eq!(copy.seconds(), store.seconds());
        assert_eq!(copy.second(3)["x.op"].count, 2);
        // Merging stores goes through every second, sealed or not.
        let mut merged = MetricStore::default();
        merged.merge_store(&store);
        merged.merge_store(&copy);
        assert_eq!(merged.second(3)["x.op"].count, 4);
        assert_eq!(merged.seconds(), store.seconds());
    }

    /// Every field a sealed second keeps comes back as it went in, for each kind of metric.
    #[test]
    fn a_sealed_second_reads_back_every_field() {
        use crate::metrics::entry::{Gauge, MetricKind};
        let mut store = MetricStore::default();
        let mut r = Recorder::new();
        let d = Duration::from_millis(7);
        r.record_op("a.op", &Tags::new(), d, d, None, &Units::none());
        let mut snap = r.take();
        let mut g = Entry::new("lag", Tags::new(), MetricKind::Gauge);
        g.gauge = Some(Gauge {
            value: 3.0,
            min: 1.0,
            max: 9.0,
            at_us: 42,
        });
        g.count = 2;
        let mut rate = Entry::new("checks", Tags::new(), MetricKind::Rate);
        rate.count = 5;
        rate.passes = 4;
        let mut c = Entry::new("sent", Tags::new(), MetricKind::Counter);
        c.sum = 12.5;
        c.count = 3;
        c.units.insert("bytes".into(), 100);
        c.errors.insert("timeout".into(), 2);
        c.censored = 1;
        snap.entries.extend([g, rate, c]);
        store.add(1, snap);
        store.add(10, Snapshot::default());
        assert!(!store.series.contains_key(&1), "second 1 is sealed");
        let back = store.second(1);
        assert_eq!(
            back["lag"].gauge,
            Some(Gauge {
                value: 3.0,
                min: 1.0,
                max: 9.0,
                at_us: 42
            })
        );
        assert_eq!((back["checks"].count, back["checks"].passes), (5, 4));
        let s = &back["sent"];
        assert_eq!((s.sum, s.count, s.censored), (12.5, 3, 1));
        assert_eq!(s.units["bytes"], 100);
        assert_eq!(s.errors["timeout"], 2);
        assert_eq!(back["a.op"].hist.as_ref().unwrap().len(), 1);
    }

    /// A script can make a trend of `x / 0` or a gauge of `0 / 0`: the second keeps them, and every
    /// other metric of it.
    #[test]
    fn a_sealed_second_keeps_infinities_and_nan() {
        use crate::metrics::entry::{Gauge, MetricKind};
        let mut store = MetricStore::default();
        let mut snap = snapshot(5);
        let mut c = Entry::new("rate", Tags::new(), MetricKind::Counter);
        c.sum = f64::INFINITY;
        let mut g = Entry::new("g", Tags::new(), MetricKind::Gauge);
        g.gauge = Some(Gauge {
            value: f64::NAN,
            min: f64::NEG_INFINITY,
            max: 1.0,
            at_us: 1,
        });
        snap.entries.extend([c, g]);
        store.add(1, snap);
        store.add(10, Snapshot::default());
        let back = store.second(1);
        assert_eq!(back["rate"].sum, f64::INFINITY);
        let g = back["g"].gauge.unwrap();
        assert!(g.value.is_nan() && g.min == f64::NEG_INFINITY && g.max == 1.0);
        assert_eq!(back["x.op"].count, 1);
    }
}

//! The per-worker recorder: one per worker thread, no locks. Every second the worker takes what was
//! recorded ([`Recorder::take`]) and sends it to the coordinator, which merges it.

use super::entry::{write_series_key, Entry, Gauge, MetricKind};
use super::ErrorKind;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

pub type Tags = BTreeMap<String, String>;

/// Distinct script error messages kept per interval; the rest are counted under one line.
const MAX_ERROR_MESSAGES: usize = 50;
const OTHER_ERRORS: &str = "(other error messages, not kept)";

/// What a worker recorded in one interval.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub entries: Vec<Entry>,
    /// Iteration errors raised by the script, by message.
    pub script_errors: BTreeMap<String, u64>,
    /// What a binding wants the run's reader told (e.g. why a consumer gets nothing), by message.
    pub warnings: BTreeMap<String, u64>,
}

#[derive(Debug, Default)]
pub struct Recorder {
    entries: HashMap<String, Entry>,
    script_errors: BTreeMap<String, u64>,
    warnings: BTreeMap<String, u64>,
    key: String,
    /// Operations taken so far (completed and censored), by series: kept across [`Recorder::take`]
    /// (updated there, once a second, not per operation) for [`Recorder::censor_unstarted`].
    taken_ops: HashMap<String, (String, Tags, u64)>,
}

/// A sample's microseconds, as the histograms hold them.
fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, super::MAX_TRACKABLE_US)
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder::default()
    }

    fn entry(&mut self, name: &str, tags: &Tags, kind: MetricKind) -> &mut Entry {
        write_series_key(&mut self.key, name, tags);
        if !self.entries.contains_key(self.key.as_str()) {
            self.entries
                .insert(self.key.clone(), Entry::new(name, tags.clone(), kind));
        }
        self.entries
            .get_mut(self.key.as_str())
            .expect("inserted above")
    }

    /// Records one timed operation. `latency` = service time + the iteration's lateness.
    pub fn record_op(
        &mut self,
        name: &str,
        tags: &Tags,
        latency: Duration,
        service: Duration,
        error: Option<ErrorKind>,
        units: &Units,
    ) {
        let e = self.entry(name, tags, MetricKind::Operation);
        e.count += 1;
        if let Some(kind) = error {
            *e.errors.entry(kind.as_str().to_string()).or_default() += 1;
        }
        for (unit, n) in units.iter() {
            *e.units.entry(unit.to_string()).or_default() += n;
        }
        if let Some(h) = e.hist.as_mut() {
            h.record(micros(latency)).ok();
        }
        if let Some(h) = e.service.as_mut() {
            h.record(micros(service)).ok();
        }
    }

    /// Records a censored operation: cut off in flight, or due and never started, so `at_least` is a
    /// lower bound of its latency. It enters the latency histogram and `censored`, not `count` (which
    /// counts what completed) nor the service time (never measured).
    pub fn censor_op(&mut self, name: &str, tags: &Tags, at_least: Duration) {
        let e = self.entry(name, tags, MetricKind::Operation);
        e.censored += 1;
        if let Some(h) = e.hist.as_mut() {
            h.record(micros(at_least)).ok();
        }
    }

    /// Records a censored `iteration_duration`: an iteration cut off after running `at_least`.
    pub fn censor_iteration(&mut self, tags: &Tags, at_least: Duration) {
        let e = self.entry("iteration_duration", tags, MetricKind::Trend);
        e.censored += 1;
        if let Some(h) = e.hist.as_mut() {
            // Trends hold value x 1000; the value is in milliseconds, so this is microseconds.
            h.record(micros(at_least)).ok();
        }
    }

    /// Iterations of a scenario (tagged `scenario_tags`) that were due and never started, each with
    /// a lower bound of its latency (the end of scheduling minus its due time): every operation series
    /// this scenario recorded gets, per such iteration, as many censored samples as it had operations
    /// per iteration (`iterations` = iterations that ran, cut off included). Returns how many samples
    /// it recorded (none when the scenario recorded no operation).
    pub fn censor_unstarted(
        &mut self,
        scenario_tags: &Tags,
        iterations: u64,
        bounds: &[Duration],
    ) -> u64 {
        if bounds.is_empty() {
            return 0;
        }
        let mut counts: HashMap<String, (String, Tags, u64)> = self.taken_ops.clone();
        for (k, e) in &self.entries {
            if e.kind == MetricKind::Operation {
                let c = counts
                    .entry(k.clone())
                    .or_insert_with(|| (e.name.clone(), e.tags.clone(), 0));
                c.2 += e.count + e.censored;
            }
        }
        let mine = counts.into_values().filter(|(_, tags, n)| {
            *n > 0 && scenario_tags.iter().all(|(k, v)| tags.get(k) == Some(v))
        });
        let mut recorded = 0;
        for (name, tags, n) in mine.collect::<Vec<_>>() {
            let per_iteration = if iterations > 0 {
                n as f64 / iterations as f64
            } else {
                1.0
            };
            // Spread a fractional share evenly: 0.5 operations per iteration gives every other one.
            let mut owed = 0.0;
            for b in bounds {
                owed += per_iteration;
                while owed >= 1.0 - 1e-9 {
                    self.censor_op(&name, &tags, *b);
                    owed -= 1.0;
                    recorded += 1;
                }
            }
        }
        recorded
    }

    pub fn add_counter(&mut self, name: &str, tags: &Tags, value: f64) {
        let e = self.entry(name, tags, MetricKind::Counter);
        e.count += 1;
        e.sum += value;
    }

    /// Adds a trend value (milliseconds when the trend is a time). Negative values count as 0.
    pub fn add_trend(&mut self, name: &str, tags: &Tags, value: f64) {
        self.add_trend_values(name, tags, &[value]);
    }

    /// Adds several values of one trend at once (one series lookup for all).
    pub fn add_trend_values(&mut self, name: &str, tags: &Tags, values: &[f64]) {
        if values.is_empty() {
            return;
        }
        let e = self.entry(name, tags, MetricKind::Trend);
        for &value in values {
            e.count += 1;
            e.sum += value;
            // Clamped to 1e15 (a trillion in the trend's unit) so one wild value cannot grow the
            // histogram without bound.
            let scaled = (value * 1000.0).round().clamp(0.0, 1e15) as u64;
            if let Some(h) = e.hist.as_mut() {
                h.record(scaled).ok();
            }
        }
    }

    pub fn add_rate(&mut self, name: &str, tags: &Tags, pass: bool) {
        let e = self.entry(name, tags, MetricKind::Rate);
        e.count += 1;
        if pass {
            e.passes += 1;
        }
    }

    pub fn set_gauge(&mut self, name: &str, tags: &Tags, value: f64) {
        let e = self.entry(name, tags, MetricKind::Gauge);
        e.count += 1;
        let at_us = crate::util::epoch_micros();
        e.gauge = Some(match e.gauge {
            None => Gauge {
                value,
                min: value,
                max: value,
                at_us,
            },
            Some(g) => Gauge {
                value,
                min: g.min.min(value),
                max: g.max.max(value),
                at_us,
            },
        });
    }

    /// Records a finished iteration: `iterations` (with `script` errors when it raised) and
    /// `iteration_duration` in milliseconds.
    pub fn add_iteration(&mut self, tags: &Tags, took: Duration, error: Option<&str>) {
        let e = self.entry("iterations", tags, MetricKind::Counter);
        e.count += 1;
        e.sum += 1.0;
        if error.is_some() {
            *e.errors.entry("script".into()).or_default() += 1;
        }
        self.add_trend("iteration_duration", tags, took.as_secs_f64() * 1000.0);
        if let Some(msg) = error {
            self.script_error(msg);
        }
    }

    /// Counts an error raised by the script inside an iteration.
    pub fn script_error(&mut self, message: &str) {
        if let Some(n) = self.script_errors.get_mut(message) {
            *n += 1;
        } else if self.script_errors.len() < MAX_ERROR_MESSAGES {
            self.script_errors.insert(message.to_string(), 1);
        } else {
            *self.script_errors.entry(OTHER_ERRORS.into()).or_default() += 1;
        }
    }

    /// Counts a warning for the result's `warnings` (same message: counted once more, not repeated).
    pub fn warn(&mut self, message: &str) {
        if let Some(n) = self.warnings.get_mut(message) {
            *n += 1;
        } else if self.warnings.len() < MAX_ERROR_MESSAGES {
            self.warnings.insert(message.to_string(), 1);
        }
    }

    /// Takes everything recorded so far, leaving the recorder empty.
    pub fn take(&mut self) -> Snapshot {
        for (k, e) in &self.entries {
            if e.kind == MetricKind::Operation {
                if let Some(t) = self.taken_ops.get_mut(k.as_str()) {
                    t.2 += e.count + e.censored;
                } else {
                    self.taken_ops.insert(
                        k.clone(),
                        (e.name.clone(), e.tags.clone(), e.count + e.censored),
                    );
                }
            }
        }
        Snapshot {
            entries: std::mem::take(&mut self.entries).into_values().collect(),
            script_errors: std::mem::take(&mut self.script_errors),
            warnings: std::mem::take(&mut self.warnings),
        }
    }
}

/// Store units counted by one operation (records, docs, rows, bytes). At most four kinds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Units {
    items: [(&'static str, u64); 4],
    len: usize,
}

impl Units {
    pub fn none() -> Units {
        Units::default()
    }

    pub fn with(mut self, unit: &'static str, n: u64) -> Units {
        self.add(unit, n);
        self
    }

    pub fn add(&mut self, unit: &'static str, n: u64) {
        if let Some(slot) = self.items[..self.len].iter_mut().find(|(u, _)| *u == unit) {
            slot.1 += n;
        } else if self.len < self.items.len() {
            self.items[self.len] = (unit, n);
            self.len += 1;
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.items[..self.len].iter().copied()
    }

    /// Adds another operation's units (an operation made of several requests).
    pub fn merge(&mut self, other: &Units) {
        for (u, n) in other.iter() {
            self.add(u, n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_ops_per_series_and_takes_them() {
        let mut r = Recorder::new();
        let a: Tags = [("name".to_string(), "a".to_string())].into();
        let ms = Duration::from_millis;
        r.record_op(
            "http.request",
            &a,
            ms(5),
            ms(2),
            None,
            &Units::none().with("bytes", 10),
        );
        r.record_op(
            "http.request",
            &a,
            ms(7),
            ms(7),
            Some(ErrorKind::Server),
            &Units::none().with("bytes", 5),
        );
        r.record_op(
            "http.request",
            &Tags::new(),
            ms(1),
            ms(1),
            None,
            &Units::none(),
        );
        let snap = r.take();
        assert_eq!(snap.entries.len(), 2);
        let e = snap.entries.iter().find(|e| !e.tags.is_empty()).unwrap();
        assert_eq!(e.count, 2);
        assert_eq!(e.errors.get("server"), Some(&1));
        assert_eq!(e.units.get("bytes"), Some(&15));
        assert!((7.0..7.01).contains(&e.latency().unwrap().max));
        assert!((2.0..2.01).contains(&e.service_time().unwrap().min));
        assert!(r.take().entries.is_empty());
    }

    #[test]
    fn script_errors_are_capped() {
        let mut r = Recorder::new();
        for i in 0..(MAX_ERROR_MESSAGES + 10) {
            r.script_error(&format!("boom {i}"));
        }
        let snap = r.take();
        assert_eq!(snap.script_errors.len(), MAX_ERROR_MESSAGES + 1);
        assert_eq!(snap.script_errors.get(OTHER_ERRORS), Some(&10));
    }

    /// Each unstarted iteration gets, in every operation series of its scenario, as many censored
    /// samples as that series had operations per iteration, including what was taken earlier.
    #[test]
    fn unstarted_iterations_are_censored_in_proportion_to_each_series() {
        let ms = Duration::from_millis;
        let mut r = Recorder::new();
        let tag = |s: &str| Tags::from([("scenario".to_string(), s.to_string())]);
        let a = tag("a");
        let mut with = a.clone();
        with.insert("name".into(), "x".into());
        // Scenario a: 4 iterations ran, with 8 `q` operations (2 each) and 2 `w` (every other one).
        for _ in 0..4 {
            r.record_op("q", &a, ms(1), ms(1), None, &Units::none());
        }
        let _ = r.take();
        for _ in 0..4 {
            r.record_op("q", &a, ms(1), ms(1), None, &Units::none());
        }
        r.record_op("w", &with, ms(1), ms(1), None, &Units::none());
        r.record_op("w", &with, ms(1), ms(1), None, &Units::none());
        // Another scenario's series is left alone.
        r.record_op("q", &tag("b"), ms(1), ms(1), None, &Units::none());
        let bounds = [ms(500), ms(400), ms(300), ms(200)];
        assert_eq!(r.censor_unstarted(&a, 4, &bounds), 8 + 2);
        let snap = r.take();
        let get = |name: &str, t: &Tags| {
            snap.entries
                .iter()
                .find(|e| e.name == name && &e.tags == t)
                .unwrap()
        };
        let q = get("q", &a);
        assert_eq!(
            (q.count, q.censored),
            (4, 8),
            "the taken 4 are in the earlier snapshot"
        );
        assert!((500.0..501.0).contains(&q.latency().unwrap().max));
        let w = get("w", &with);
        assert_eq!((w.count, w.censored), (2, 2));
        assert_eq!(get("q", &tag("b")).censored, 0);
        // Nothing ran at all: one sample per series seen (here none), no division by zero.
        let mut empty = Recorder::new();
        assert_eq!(empty.censor_unstarted(&a, 0, &bounds), 0);
    }
}

//! The result file's structure. Version 1. Every field is documented in docs/result-format.md and
//! constrained by docs/result.schema.json (checked against real output in the tests).

use super::hist;

use super::outcome::{GeneratorReport, RunOutcome, ScenarioStats, Status};
use crate::metrics::entry::{Entry, Gauge, MetricKind, SeriesKey, Summary};
use crate::metrics::thresholds::Outcome;
use crate::metrics::MetricStore;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const SCHEMA_VERSION: u64 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ResultFile {
    pub schema_version: u64,
    pub loadgen_version: String,
    pub run_id: String,
    pub script: ScriptInfo,
    pub status: Status,
    pub exit_code: u8,
    /// Why the run failed, was aborted or interrupted.
    pub failure: Option<String>,
    pub start: String,
    pub end: String,
    /// Seconds from the start of the load to its end (setup and teardown excluded).
    pub duration_s: f64,
    pub host: Host,
    pub tags: BTreeMap<String, String>,
    pub seed: u64,
    /// Files merged into this one (by `loadgen merge`); empty for a single run.
    pub merged_from: Vec<String>,
    pub scenarios: Vec<ScenarioStats>,
    /// Per metric name, all tags folded.
    pub metrics: BTreeMap<String, MetricResult>,
    /// Per series: metric name and its full tag set (`http.request{name:get,scenario:default}`).
    pub series_totals: BTreeMap<String, MetricResult>,
    /// One entry per second of the run.
    pub series: Vec<Second>,
    pub thresholds: Vec<Outcome>,
    pub script_errors: BTreeMap<String, u64>,
    pub generator: GeneratorReport,
    pub warnings: Vec<String>,
    /// `--instance I/N`: this file is one part of a distributed run. Absent for a run of one
    /// process (and in a merged file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceInfo>,
    /// sha256 of the script and the resolved plan (see `cli::plan_id::plan_hash`): `merge` combines
    /// only files that share it. Absent in files written before it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_hash: Option<String>,
    /// `--start-at`: when the load really started minus the time asked for, ms (negative: early).
    /// In a merged file: the largest of its files'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_skew_ms: Option<f64>,
}

/// Which part of a distributed run a file is (1-based, as the flag).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InstanceInfo {
    pub index: u64,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScriptInfo {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Host {
    pub hostname: String,
    pub cores: usize,
    pub memory_bytes: u64,
    pub os: String,
}

impl Host {
    pub fn this() -> Host {
        Host {
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            cores: crate::util::cores(),
            memory_bytes: crate::util::memory_bytes(),
            os: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
        }
    }
}

/// One metric (or series) in the result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricResult {
    #[serde(rename = "type")]
    pub kind: MetricKind,
    pub tags: BTreeMap<String, String>,
    pub count: u64,
    pub errors: BTreeMap<String, u64>,
    pub error_count: u64,
    pub error_rate: f64,
    /// count per second of the run (for counters: sum per second).
    pub throughput: f64,
    pub units: BTreeMap<String, u64>,
    /// Units per second.
    pub unit_throughput: BTreeMap<String, f64>,
    /// Operations: from the scheduled start (includes the iteration's lateness).
    pub latency: Option<Summary>,
    /// Operations: from the moment the request left.
    pub service_time: Option<Summary>,
    /// Trends: the values' distribution.
    pub values: Option<Summary>,
    /// Counters: the sum. Trends: the sum of values.
    pub sum: f64,
    /// Rates: share of true values (0..1).
    pub rate: Option<f64>,
    pub gauge: Option<Gauge>,
    /// Serialised histograms (HdrHistogram V2, deflate, base64): `latency`, `service_time`, `values`.
    pub hist: BTreeMap<String, String>,
    /// Censored samples in `latency` (operations) or `values` (`iteration_duration`): lower bounds,
    /// not measurements, for what was cut off in flight or due and never started. Not in `count`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub censored: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One second of the run, per metric name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Second {
    /// Unix time, seconds.
    pub t: i64,
    pub metrics: BTreeMap<String, SecondMetric>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecondMetric {
    #[serde(rename = "type")]
    pub kind: MetricKind,
    pub count: u64,
    pub errors: u64,
    /// The second's failures by kind (`errors` is their sum); absent when there were none, and in
    /// files written before it was added (their failures count as kind `any` when read back).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_kinds: BTreeMap<String, u64>,
    pub units: BTreeMap<String, u64>,
    pub sum: f64,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    /// Operations and trends: the highest latency or value. Gauges: the highest value any of the
    /// gauge's series was set to in the second.
    pub max: Option<f64>,
    /// Latency (operations) or values (trends), serialised as in `MetricResult.hist`.
    pub hist: Option<String>,
}

/// Below this many seconds of load (a run that failed before its load, say in `setup()`), per-second
/// figures are left at 0: over microseconds they would read as millions a second.
pub const MIN_RATE_SECONDS: f64 = 0.001;

impl MetricResult {
    pub fn from_entry(e: &Entry, secs: f64) -> MetricResult {
        let per_s = |n: f64| {
            if secs >= MIN_RATE_SECONDS {
                n / secs
            } else {
                0.0
            }
        };
        let errors = e.error_count();
        let mut hists = BTreeMap::new();
        let (mut latency, mut service_time, mut values) = (None, None, None);
        match e.kind {
            MetricKind::Operation => {
                if let Some(h) = &e.hist {
                    latency = Some(Summary::of(h));
                    hists.insert("latency".to_string(), hist::encode(h));
                }
                if let Some(h) = &e.service {
                    service_time = Some(Summary::of(h));
                    hists.insert("service_time".to_string(), hist::encode(h));
                }
            }
            MetricKind::Trend => {
                if let Some(h) = &e.hist {
                    values = Some(Summary::of(h));
                    hists.insert("values".to_string(), hist::encode(h));
                }
            }
            _ => {}
        }
        MetricResult {
            kind: e.kind,
            tags: e.tags.clone(),
            count: e.count,
            errors: e.errors.clone(),
            error_count: errors,
            error_rate: if e.count > 0 {
                errors as f64 / e.count as f64
            } else {
                0.0
            },
            throughput: per_s(if e.kind == MetricKind::Counter {
                e.sum
            } else {
                e.count as f64
            }),
            units: e.units.clone(),
            unit_throughput: e
                .units
                .iter()
                .map(|(k, v)| (k.clone(), per_s(*v as f64)))
                .collect(),
            latency,
            service_time,
            values,
            sum: e.sum,
            rate: (e.kind == MetricKind::Rate).then(|| {
                if e.count > 0 {
                    e.passes as f64 / e.count as f64
                } else {
                    0.0
                }
            }),
            gauge: e.gauge,
            hist: hists,
            censored: e.censored,
        }
    }

    /// Back to an entry, histograms decoded exactly.
    pub fn to_entry(&self, name: &str) -> Result<Entry, String> {
        let mut e = Entry::new(name, self.tags.clone(), self.kind);
        e.count = self.count;
        e.errors = self.errors.clone();
        e.units = self.units.clone();
        e.sum = self.sum;
        e.gauge = self.gauge;
        e.censored = self.censored;
        e.passes = self
            .rate
            .map(|r| (r * self.count as f64).round() as u64)
            .unwrap_or(0);
        let get = |k: &str| self.hist.get(k).map(|s| hist::decode(s)).transpose();
        match self.kind {
            MetricKind::Operation => {
                e.hist = Some(get("latency")?.unwrap_or_else(crate::metrics::new_histogram));
                e.service =
                    Some(get("service_time")?.unwrap_or_else(crate::metrics::new_histogram));
            }
            MetricKind::Trend => {
                e.hist = Some(get("values")?.unwrap_or_else(crate::metrics::new_histogram));
            }
            _ => {}
        }
        Ok(e)
    }
}

impl SecondMetric {
    pub(crate) fn from_entry(e: &Entry) -> SecondMetric {
        let s = e.hist.as_ref().filter(|h| !h.is_empty()).map(Summary::of);
        // A gauge's second keeps the highest value any of its series was set to in that second
        // (the partition furthest behind, say).
        let gauge_max = e
            .gauge
            .filter(|_| e.kind == MetricKind::Gauge)
            .map(|g| g.max);
        SecondMetric {
            kind: e.kind,
            count: e.count,
            errors: e.error_count(),
            error_kinds: e
                .errors
                .iter()
                // `any`: a second read from a file older than error_kinds; not a kind to write.
                .filter(|(k, n)| **n > 0 && k.as_str() != "any")
                .map(|(k, n)| (k.clone(), *n))
                .collect(),
            units: e.units.clone(),
            sum: e.sum,
            p50: s.map(|s| s.p50),
            p90: s.map(|s| s.p90),
            p99: s.map(|s| s.p99),
            max: s.map(|s| s.max).or(gauge_max),
            hist: e.hist.as_ref().filter(|h| !h.is_empty()).map(hist::encode),
        }
    }

    pub(crate) fn to_entry(&self, name: &str) -> Result<Entry, String> {
        let mut e = Entry::new(name, BTreeMap::new(), self.kind);
        e.count = self.count;
        if !self.error_kinds.is_empty() {
            e.errors = self.error_kinds.clone();
        } else if self.errors > 0 {
            e.errors.insert("any".into(), self.errors);
        }
        e.units = self.units.clone();
        e.sum = self.sum;
        if let Some(h) = &self.hist {
            e.hist = Some(hist::decode(h)?);
        }
        if let (MetricKind::Gauge, Some(max)) = (self.kind, self.max) {
            e.gauge = Some(Gauge {
                value: max,
                min: max,
                max,
                at_us: 0,
            });
        }
        Ok(e)
    }
}

/// Everything needed to write a result file besides the outcome.
pub struct RunInfo {
    pub script_path: String,
    pub script_sha256: String,
    pub tags: BTreeMap<String, String>,
    pub seed: u64,
    pub exit_code: u8,
    /// A part of a distributed run (count > 1), or None.
    pub instance: Option<crate::plan::Instance>,
    pub plan_hash: Option<String>,
}

/// A run's id: the start time in microseconds and 32 random bits (from the standard library's
/// randomly keyed hasher, not the script's seeded generator, so that two runs with one seed differ).
pub fn run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let t = crate::util::epoch_micros() as u64;
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(t ^ (std::process::id() as u64) << 32);
    format!("{:016x}{:08x}", t, h.finish() as u32)
}

impl ResultFile {
    pub fn from_store(
        store: &MetricStore,
        secs: f64,
    ) -> (
        BTreeMap<String, MetricResult>,
        BTreeMap<String, MetricResult>,
        Vec<Second>,
    ) {
        let metrics = store
            .by_name()
            .iter()
            .map(|(n, e)| (n.clone(), MetricResult::from_entry(e, secs)))
            .collect();
        let series_totals = store
            .totals
            .iter()
            .map(|(k, e)| (k.to_string(), MetricResult::from_entry(e, secs)))
            .collect();
        let series = store
            .seconds()
            .into_iter()
            .map(|t| Second {
                t,
                metrics: store
                    .second(t)
                    .iter()
                    .map(|(n, e)| (n.clone(), SecondMetric::from_entry(e)))
                    .collect(),
            })
            .collect();
        (metrics, series_totals, series)
    }

    pub fn new(outcome: &RunOutcome, info: RunInfo) -> ResultFile {
        let secs = outcome.elapsed.as_secs_f64();
        let (metrics, series_totals, series) = ResultFile::from_store(&outcome.store, secs);
        ResultFile {
            schema_version: SCHEMA_VERSION,
            loadgen_version: env!("CARGO_PKG_VERSION").to_string(),
            run_id: run_id(),
            script: ScriptInfo {
                path: info.script_path,
                sha256: info.script_sha256,
            },
            status: outcome.status,
            exit_code: info.exit_code,
            failure: outcome.failure.as_ref().map(|(_, m)| m.clone()),
            start: crate::util::rfc3339(outcome.started),
            end: crate::util::rfc3339(outcome.ended),
            duration_s: secs,
            host: Host::this(),
            tags: info.tags,
            seed: info.seed,
            merged_from: Vec::new(),
            scenarios: outcome.scenarios.clone(),
            metrics,
            series_totals,
            series,
            thresholds: outcome.thresholds.clone(),
            script_errors: outcome.store.script_errors.clone(),
            generator: outcome.generator.clone(),
            warnings: outcome.warnings.clone(),
            instance: info.instance.map(|i| InstanceInfo {
                index: i.index + 1,
                count: i.count,
            }),
            plan_hash: info.plan_hash,
            start_skew_ms: outcome.start_skew_ms,
        }
    }

    /// Rebuilds the metric store from the file (exact, through the histograms).
    pub fn store(&self) -> Result<MetricStore, String> {
        let mut store = MetricStore::default();
        for (key, m) in &self.series_totals {
            let key = SeriesKey::parse(key).map_err(|e| format!("series_totals: {e}"))?;
            let entry = m.to_entry(&key.name)?;
            store.totals.insert(key, entry);
        }
        for s in &self.series {
            let mut second = BTreeMap::new();
            for (name, m) in &s.metrics {
                second.insert(name.clone(), m.to_entry(name)?);
            }
            store.series.insert(s.t, second);
        }
        store.script_errors = self.script_errors.clone();
        Ok(store)
    }
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;

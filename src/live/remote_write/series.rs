//! The run's totals as Prometheus series: names, labels and values of one push.
//!
//! Names (docs/prometheus.md has the table): a metric `M` (sanitised: `kafka.produce` ->
//! `kafka_produce`) becomes
//! - operation: `loadgen_M_operations_total`, `loadgen_M_errors_total{kind}`,
//!   `loadgen_M_<unit>_total`, `loadgen_M_latency_seconds` and `loadgen_M_service_time_seconds`
//!   (histograms);
//! - counter: `loadgen_M_total` (the sum); rate: `loadgen_M_total` and `loadgen_M_passes_total`;
//!   gauge: `loadgen_M`; trend: `loadgen_M` (a histogram in the trend's own unit);
//!
//! plus the generator's `loadgen_vus_busy`, `loadgen_generator_cpu_seconds_total` and
//! `loadgen_scheduler_lateness_max_seconds`. Labels: the run's tags, `run_id`, and each series'
//! own tags (scenario, name, ...).

use super::histogram;
use super::proto::{label_name, metric_name, Label, Sample, TimeSeries, WriteRequest};
use crate::live::Tick;
use crate::metrics::entry::{Entry, MetricKind};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// How latency histograms are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Native,
    Classic,
}

/// What one push carries: every series' totals at one moment and the generator's own gauges.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The samples' time, unix milliseconds.
    pub at_ms: i64,
    pub totals: Totals,
    pub busy_vus: u64,
    pub cpu_s: f64,
    /// The highest scheduler lateness since the previous push, ms (None: no late wake-up).
    pub lateness_max_ms: Option<f64>,
}

/// A tick's totals are shared with the other subscribers, not copied.
#[derive(Clone, Debug)]
pub enum Totals {
    Tick(Arc<Tick>),
    Final(Arc<Vec<Entry>>),
}

impl Totals {
    fn entries(&self) -> &[Entry] {
        match self {
            Totals::Tick(t) => &t.totals,
            Totals::Final(e) => e,
        }
    }
}

/// Label names that loadgen sets itself; a tag of that name is sent as `tag_<name>`.
const RESERVED: [&str; 3] = ["run_id", "kind", "le"];

/// A tag's label name: sanitised, and kept clear of the labels loadgen sets and of the names
/// Prometheus reserves (`__...`).
pub fn tag_label(tag: &str) -> String {
    let name = label_name(tag);
    if name.starts_with("__") || RESERVED.contains(&name.as_str()) {
        format!("tag_{name}")
    } else {
        name
    }
}

/// The labels every series of the run carries: its tags and `run_id`.
pub fn run_labels(run_id: &str, tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    add_tags(&mut out, tags);
    out.insert("run_id".to_string(), run_id.to_string());
    out
}

/// Adds tags as labels; an empty value is left out (Prometheus reads it as no label).
fn add_tags(out: &mut BTreeMap<String, String>, tags: &BTreeMap<String, String>) {
    for (k, v) in tags.iter().filter(|(_, v)| !v.is_empty()) {
        out.insert(tag_label(k), v.clone());
    }
}

/// The write request for one snapshot.
pub fn build(s: &Snapshot, run: &BTreeMap<String, String>, mode: Mode) -> WriteRequest {
    // Two series that differ only in characters sanitising replaces would give the receiver two
    // samples of one series at one time, and it would refuse the whole request: merge them first.
    let mut grouped: BTreeMap<(String, u8, BTreeMap<String, String>), Entry> = BTreeMap::new();
    for e in s.totals.entries() {
        let mut labels = run.clone();
        add_tags(&mut labels, &e.tags);
        let key = (metric_name(&e.name), e.kind as u8, labels);
        match grouped.get_mut(&key) {
            Some(into) => into.merge(e),
            None => {
                grouped.insert(key, e.clone());
            }
        }
    }
    let mut out = Out {
        at_ms: s.at_ms,
        series: Vec::new(),
        seen: BTreeSet::new(),
    };
    for ((m, _, labels), e) in &grouped {
        out.entry(m, labels, e, mode);
    }
    out.sample("loadgen_vus_busy", run, None, s.busy_vus as f64);
    out.sample("loadgen_generator_cpu_seconds_total", run, None, s.cpu_s);
    let late_s = s.lateness_max_ms.unwrap_or(0.0) / 1000.0;
    out.sample("loadgen_scheduler_lateness_max_seconds", run, None, late_s);
    WriteRequest {
        timeseries: out.series,
    }
}

struct Out {
    at_ms: i64,
    series: Vec<TimeSeries>,
    /// Label sets sent, so that no series goes twice into one request.
    seen: BTreeSet<Vec<Label>>,
}

impl Out {
    fn entry(&mut self, m: &str, labels: &BTreeMap<String, String>, e: &Entry, mode: Mode) {
        let name = |suffix: &str| format!("loadgen_{m}{suffix}");
        match e.kind {
            MetricKind::Operation => {
                self.sample(&name("_operations_total"), labels, None, e.count as f64);
                for (kind, n) in &e.errors {
                    let extra = Some(("kind", kind.as_str()));
                    self.sample(&name("_errors_total"), labels, extra, *n as f64);
                }
                for (unit, n) in &e.units {
                    let unit = format!("_{}_total", label_name(unit));
                    self.sample(&name(&unit), labels, None, *n as f64);
                }
                if let Some(h) = &e.hist {
                    self.histogram(&name("_latency_seconds"), labels, h, 1e-6, mode);
                }
                if let Some(h) = &e.service {
                    self.histogram(&name("_service_time_seconds"), labels, h, 1e-6, mode);
                }
            }
            MetricKind::Counter => self.sample(&name("_total"), labels, None, e.sum),
            MetricKind::Rate => {
                self.sample(&name("_total"), labels, None, e.count as f64);
                self.sample(&name("_passes_total"), labels, None, e.passes as f64);
            }
            MetricKind::Gauge => {
                if let Some(g) = e.gauge {
                    self.sample(&name(""), labels, None, g.value);
                }
            }
            // Trend histograms hold value x 1000.
            MetricKind::Trend => {
                if let Some(h) = &e.hist {
                    self.histogram(&name(""), labels, h, 1e-3, mode);
                }
            }
        }
    }

    fn histogram(
        &mut self,
        name: &str,
        labels: &BTreeMap<String, String>,
        h: &hdrhistogram::Histogram<u64>,
        scale: f64,
        mode: Mode,
    ) {
        match mode {
            Mode::Native => {
                let at = self.at_ms;
                if let Some(ts) = self.series(name, labels, None) {
                    ts.histograms.push(histogram::native(h, scale, at));
                }
            }
            Mode::Classic => {
                let c = histogram::classic(h, scale);
                let bucket = format!("{name}_bucket");
                for (le, n) in &c.buckets {
                    self.sample(&bucket, labels, Some(("le", le)), *n as f64);
                }
                self.sample(&format!("{name}_count"), labels, None, c.count as f64);
                self.sample(&format!("{name}_sum"), labels, None, c.sum);
            }
        }
    }

    fn sample(
        &mut self,
        name: &str,
        labels: &BTreeMap<String, String>,
        extra: Option<(&str, &str)>,
        value: f64,
    ) {
        let at = self.at_ms;
        if let Some(ts) = self.series(name, labels, extra) {
            ts.samples.push(Sample {
                value,
                timestamp: at,
            });
        }
    }

    /// A new series with these labels, sorted by name as the protocol requires (a BTreeMap sorts
    /// by bytes, as the receivers compare); None when it was already sent in this request.
    fn series(
        &mut self,
        name: &str,
        labels: &BTreeMap<String, String>,
        extra: Option<(&str, &str)>,
    ) -> Option<&mut TimeSeries> {
        let mut all = labels.clone();
        all.insert("__name__".to_string(), name.to_string());
        if let Some((k, v)) = extra {
            all.insert(k.to_string(), v.to_string());
        }
        let labels: Vec<Label> = all
            .into_iter()
            .map(|(name, value)| Label { name, value })
            .collect();
        if !self.seen.insert(labels.clone()) {
            return None;
        }
        self.series.push(TimeSeries {
            labels,
            samples: Vec::new(),
            histograms: Vec::new(),
        });
        self.series.last_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::entry::Gauge;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn op(name: &str, t: &[(&str, &str)], count: u64) -> Entry {
        let mut e = Entry::new(name, tags(t), MetricKind::Operation);
        e.count = count;
        for _ in 0..count {
            e.hist.as_mut().unwrap().record(1500).unwrap();
            e.service.as_mut().unwrap().record(1000).unwrap();
        }
        e
    }

    fn snapshot(entries: Vec<Entry>) -> Snapshot {
        Snapshot {
            at_ms: 42,
            totals: Totals::Final(Arc::new(entries)),
            busy_vus: 3,
            cpu_s: 1.5,
            lateness_max_ms: Some(2.0),
        }
    }

    fn names(req: &WriteRequest) -> Vec<String> {
        req.timeseries
            .iter()
            .map(|ts| {
                let l: Vec<String> = ts
                    .labels
                    .iter()
                    .map(|l| format!("{}={}", l.name, l.value))
                    .collect();
                l.join(",")
            })
            .collect()
    }

    #[test]
    fn an_operation_gives_counts_errors_units_and_two_histograms_with_sorted_labels() {
        let mut e = op(
            "kafka.produce",
            &[("scenario", "default"), ("Topic", "t")],
            4,
        );
        e.errors.insert("timeout".into(), 1);
        e.units.insert("records".into(), 40);
        let run = run_labels("r1", &tags(&[("env", "ci"), ("le", "x"), ("", "y")]));
        let req = build(&snapshot(vec![e]), &run, Mode::Native);
        let got = names(&req);
        let base = "Topic=t,_=y,__name__=NAME,env=ci,run_id=r1,scenario=default,tag_le=x";
        let want: Vec<String> = [
            "loadgen_kafka_produce_operations_total",
            "loadgen_kafka_produce_errors_total",
            "loadgen_kafka_produce_records_total",
            "loadgen_kafka_produce_latency_seconds",
            "loadgen_kafka_produce_service_time_seconds",
            "loadgen_vus_busy",
            "loadgen_generator_cpu_seconds_total",
            "loadgen_scheduler_lateness_max_seconds",
        ]
        .iter()
        .map(|n| {
            let mut s = base.replace("NAME", n);
            if n.contains("errors") {
                s = s.replace(",run_id", ",kind=timeout,run_id");
            }
            if n.starts_with("loadgen_vus") || n.contains("generator") || n.contains("lateness") {
                s = format!("_=y,__name__={n},env=ci,run_id=r1,tag_le=x");
            }
            s
        })
        .collect();
        assert_eq!(got, want);
        let ts = &req.timeseries;
        assert_eq!(
            ts[0].samples,
            vec![Sample {
                value: 4.0,
                timestamp: 42
            }]
        );
        assert_eq!(ts[2].samples[0].value, 40.0);
        assert_eq!(ts[3].histograms[0].count_int, Some(4));
        assert!(ts[3].samples.is_empty());
        assert_eq!(ts[7].samples[0].value, 0.002);
    }

    #[test]
    fn series_that_sanitise_alike_are_merged_not_sent_twice() {
        let a = op("http.request", &[("name", "a.b")], 2);
        let b = op("http_request", &[("name", "a.b")], 3);
        let req = build(
            &snapshot(vec![a, b]),
            &run_labels("r", &tags(&[])),
            Mode::Native,
        );
        let ops: Vec<_> = req
            .timeseries
            .iter()
            .filter(|ts| {
                ts.labels
                    .iter()
                    .any(|l| l.value.ends_with("_operations_total"))
            })
            .collect();
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].samples[0].value, 5.0);
        let mut all: Vec<_> = req.timeseries.iter().map(|t| t.labels.clone()).collect();
        let n = all.len();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn classic_mode_sends_buckets_count_and_sum_and_other_kinds_map_by_kind() {
        let mut counter = Entry::new("iterations", tags(&[]), MetricKind::Counter);
        counter.sum = 7.0;
        let mut rate = Entry::new("checks", tags(&[]), MetricKind::Rate);
        (rate.count, rate.passes) = (10, 9);
        let mut gauge = Entry::new("lag", tags(&[]), MetricKind::Gauge);
        gauge.gauge = Some(Gauge {
            value: 5.0,
            min: 1.0,
            max: 9.0,
            at_us: 0,
        });
        let entries = vec![op("http.request", &[], 2), counter, rate, gauge];
        let req = build(
            &snapshot(entries),
            &run_labels("r", &tags(&[])),
            Mode::Classic,
        );
        let value = |name: &str| {
            req.timeseries
                .iter()
                .find(|ts| {
                    ts.labels
                        .iter()
                        .any(|l| l.name == "__name__" && l.value == name)
                })
                .map(|ts| ts.samples[0].value)
        };
        assert_eq!(value("loadgen_iterations_total"), Some(7.0));
        assert_eq!(value("loadgen_checks_total"), Some(10.0));
        assert_eq!(value("loadgen_checks_passes_total"), Some(9.0));
        assert_eq!(value("loadgen_lag"), Some(5.0));
        assert_eq!(
            value("loadgen_http_request_latency_seconds_count"),
            Some(2.0)
        );
        assert!(req.timeseries.iter().all(|ts| ts.histograms.is_empty()));
        let inf = req.timeseries.iter().find(|ts| {
            ts.labels
                .iter()
                .any(|l| l.value == "loadgen_http_request_latency_seconds_bucket")
                && ts
                    .labels
                    .iter()
                    .any(|l| l.name == "le" && l.value == "+Inf")
        });
        assert_eq!(inf.unwrap().samples[0].value, 2.0);
    }
}

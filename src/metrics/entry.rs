//! One metric series (a metric name and a tag set) and its statistics.

use super::new_histogram;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The kinds of metric, as k6 has them, plus `operation` for a timed binding call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// A timed call to a store: latency and service time, errors by kind, units.
    Operation,
    /// A sum.
    Counter,
    /// A distribution of values (milliseconds when the trend is a time).
    Trend,
    /// The share of true values (checks).
    Rate,
    /// The last value set.
    Gauge,
}

/// Everything recorded for one series. Histograms hold microseconds for operations, and value x 1000
/// for trends, so that both report `hist / 1000` (milliseconds, or the trend's own unit).
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub tags: BTreeMap<String, String>,
    pub kind: MetricKind,
    pub count: u64,
    pub errors: BTreeMap<String, u64>,
    /// Store units: records, docs, rows, bytes.
    pub units: BTreeMap<String, u64>,
    /// Latency (operations) or values (trends).
    pub hist: Option<Histogram<u64>>,
    /// Service time (operations only).
    pub service: Option<Histogram<u64>>,
    /// Counter sum.
    pub sum: f64,
    /// Rate: how many were true.
    pub passes: u64,
    /// Gauge: last value, min, max.
    pub gauge: Option<Gauge>,
    /// Censored samples in `hist`: lower bounds, not measurements (an operation cut off in flight,
    /// or due and never started), so that percentiles cannot read low when the target is overloaded.
    /// Not in `count`, which counts what completed.
    pub censored: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Gauge {
    pub value: f64,
    pub min: f64,
    pub max: f64,
    /// When `value` was set, µs since the epoch; decides which gauge wins a merge.
    pub at_us: i64,
}

/// Percentile summary in milliseconds (or the trend's unit).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Summary {
    pub min: f64,
    pub mean: f64,
    pub stddev: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    #[serde(rename = "p99.9")]
    pub p99_9: f64,
    #[serde(rename = "p99.99")]
    pub p99_99: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(h: &Histogram<u64>) -> Summary {
        if h.is_empty() {
            return Summary::default();
        }
        let ms = |v: u64| v as f64 / 1000.0;
        Summary {
            min: ms(h.min()),
            mean: h.mean() / 1000.0,
            stddev: h.stdev() / 1000.0,
            p50: ms(h.value_at_quantile(0.50)),
            p75: ms(h.value_at_quantile(0.75)),
            p90: ms(h.value_at_quantile(0.90)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            p99_9: ms(h.value_at_quantile(0.999)),
            p99_99: ms(h.value_at_quantile(0.9999)),
            max: ms(h.max()),
        }
    }
}

impl Entry {
    pub fn new(name: &str, tags: BTreeMap<String, String>, kind: MetricKind) -> Entry {
        let (hist, service) = match kind {
            MetricKind::Operation => (Some(new_histogram()), Some(new_histogram())),
            MetricKind::Trend => (Some(new_histogram()), None),
            _ => (None, None),
        };
        Entry {
            name: name.to_string(),
            tags,
            kind,
            count: 0,
            errors: BTreeMap::new(),
            units: BTreeMap::new(),
            hist,
            service,
            sum: 0.0,
            passes: 0,
            gauge: None,
            censored: 0,
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Adds `other` into `self`. Histograms merge exactly; counts add; the newer gauge wins.
    pub fn merge(&mut self, other: &Entry) {
        self.count += other.count;
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.units {
            *self.units.entry(k.clone()).or_default() += v;
        }
        merge_hist(&mut self.hist, &other.hist);
        merge_hist(&mut self.service, &other.service);
        self.sum += other.sum;
        self.passes += other.passes;
        self.censored += other.censored;
        self.gauge = match (self.gauge, other.gauge) {
            (None, g) | (g, None) => g,
            (Some(a), Some(b)) => {
                let newer = if b.at_us >= a.at_us { b } else { a };
                Some(Gauge {
                    value: newer.value,
                    min: a.min.min(b.min),
                    max: a.max.max(b.max),
                    at_us: newer.at_us,
                })
            }
        };
    }

    pub fn latency(&self) -> Option<Summary> {
        self.hist.as_ref().map(Summary::of)
    }

    #[cfg(test)]
    pub fn service_time(&self) -> Option<Summary> {
        self.service.as_ref().map(Summary::of)
    }
}

fn merge_hist(into: &mut Option<Histogram<u64>>, from: &Option<Histogram<u64>>) {
    if let Some(from) = from {
        let into = into.get_or_insert_with(new_histogram);
        // Both auto-resize, so adding cannot fail on range.
        into.add(from)
            .expect("auto-resizing histograms always merge");
    }
}

/// A series: a metric name and its full tag set, from the recorder's entries to the result file,
/// where it is written `name` or `name{a:1,b:2}` (tags sorted; [`SeriesKey::parse`] reads it back).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesKey {
    pub name: String,
    pub tags: BTreeMap<String, String>,
}

impl SeriesKey {
    /// The series an entry belongs to.
    pub fn of(e: &Entry) -> SeriesKey {
        SeriesKey {
            name: e.name.clone(),
            tags: e.tags.clone(),
        }
    }

    /// The metric name of a series key as written in a result file (`name{a:1}` -> `name`).
    pub fn name_of(key: &str) -> &str {
        key.find('{').map_or(key, |i| &key[..i])
    }

    /// Reads a series key as written in a result file.
    pub fn parse(key: &str) -> Result<SeriesKey, String> {
        let (name, tags) = super::thresholds::parse_metric_selector(key)?;
        Ok(SeriesKey { name, tags })
    }
}

impl std::fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut key = String::with_capacity(self.name.len() + 16 * self.tags.len());
        write_series_key(&mut key, &self.name, &self.tags);
        f.write_str(&key)
    }
}

/// Writes the series key into `key` (cleared first), reusing its allocation: the recorder's hot path.
pub fn write_series_key(key: &mut String, name: &str, tags: &BTreeMap<String, String>) {
    key.clear();
    key.push_str(name);
    if tags.is_empty() {
        return;
    }
    key.push('{');
    for (i, (k, v)) in tags.iter().enumerate() {
        if i > 0 {
            key.push(',');
        }
        key.push_str(k);
        key.push(':');
        key.push_str(v);
    }
    key.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn op_with(values: &[u64]) -> Entry {
        let mut e = Entry::new("x", BTreeMap::new(), MetricKind::Operation);
        for v in values {
            e.count += 1;
            e.hist.as_mut().unwrap().record(*v).unwrap();
            e.service.as_mut().unwrap().record(*v).unwrap();
        }
        e
    }

    proptest! {
        /// Merging two recorders gives exactly the histogram of recording everything in one.
        #[test]
        fn merge_is_exact(a in proptest::collection::vec(1u64..10_000_000, 0..200),
                          b in proptest::collection::vec(1u64..10_000_000, 0..200)) {
            let mut merged = op_with(&a);
            merged.merge(&op_with(&b));
            let all: Vec<u64> = a.iter().chain(b.iter()).copied().collect();
            let single = op_with(&all);
            prop_assert_eq!(merged.count, single.count);
            prop_assert_eq!(merged.latency(), single.latency());
            let (m, s) = (merged.hist.unwrap(), single.hist.unwrap());
            prop_assert_eq!(m.len(), s.len());
            for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
                prop_assert_eq!(m.value_at_quantile(q), s.value_at_quantile(q));
            }
        }
    }

    #[test]
    fn summary_is_in_milliseconds() {
        let e = op_with(&[1000, 2000, 3000]);
        let s = e.latency().unwrap();
        // HdrHistogram reports the highest value equivalent at 3 significant digits.
        assert!((1.0..1.001).contains(&s.min), "{s:?}");
        assert!((3.0..3.003).contains(&s.max), "{s:?}");
        assert!((2.0..2.002).contains(&s.p50), "{s:?}");
    }

    #[test]
    fn gauge_merge_keeps_newest_value_and_extremes() {
        let mut a = Entry::new("g", BTreeMap::new(), MetricKind::Gauge);
        a.gauge = Some(Gauge {
            value: 5.0,
            min: 1.0,
            max: 5.0,
            at_us: 10,
        });
        let mut b = Entry::new("g", BTreeMap::new(), MetricKind::Gauge);
        b.gauge = Some(Gauge {
            value: 3.0,
            min: 3.0,
            max: 9.0,
            at_us: 20,
        });
        a.merge(&b);
        assert_eq!(
            a.gauge,
            Some(Gauge {
                value: 3.0,
                min: 1.0,
                max: 9.0,
                at_us: 20
            })
        );
    }

    #[test]
    fn series_key_sorts_tags() {
        let tags: BTreeMap<String, String> = [
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "1".to_string()),
        ]
        .into();
        let key = SeriesKey {
            name: "m".into(),
            tags: tags.clone(),
        };
        assert_eq!(key.to_string(), "m{a:1,b:2}");
        assert_eq!(SeriesKey::parse("m{a:1,b:2}"), Ok(key));
        let bare = SeriesKey {
            name: "m".into(),
            tags: BTreeMap::new(),
        };
        assert_eq!(bare.to_string(), "m");
        assert_eq!(SeriesKey::parse("m"), Ok(bare));
    }
}

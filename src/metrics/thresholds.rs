//! Threshold expressions (`p(99) < 50ms`, `error_rate < 0.001`, `throughput >= 1000`) and their
//! evaluation against a metric.

use super::entry::{Entry, MetricKind};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregate {
    Percentile(f64),
    Avg,
    Min,
    Med,
    Max,
    Count,
    Errors,
    ErrorRate,
    Throughput,
    Rate,
    Value,
}

impl Aggregate {
    /// Whether the aggregate is a time (in ms for operations) and takes a duration unit.
    fn is_time(self) -> bool {
        matches!(
            self,
            Aggregate::Percentile(_)
                | Aggregate::Avg
                | Aggregate::Min
                | Aggregate::Med
                | Aggregate::Max
        )
    }
}

impl fmt::Display for Aggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aggregate::Percentile(p) => write!(f, "p({p})"),
            Aggregate::Avg => f.write_str("avg"),
            Aggregate::Min => f.write_str("min"),
            Aggregate::Med => f.write_str("med"),
            Aggregate::Max => f.write_str("max"),
            Aggregate::Count => f.write_str("count"),
            Aggregate::Errors => f.write_str("errors"),
            Aggregate::ErrorRate => f.write_str("error_rate"),
            Aggregate::Throughput => f.write_str("throughput"),
            Aggregate::Rate => f.write_str("rate"),
            Aggregate::Value => f.write_str("value"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

/// `aggregate op value`; times are kept in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expression {
    pub aggregate: Aggregate,
    pub op: Op,
    pub value: f64,
}

const AGGREGATES: &str =
    "p(N), avg, min, med, max, count, errors, error_rate, throughput, rate, value";

impl Expression {
    pub fn parse(text: &str) -> Result<Expression, String> {
        let s = text.trim();
        let op_at = s
            .find(['<', '>', '=', '!'])
            .ok_or_else(|| format!("'{text}' has no comparison (<, <=, >, >=, ==, !=)"))?;
        let (lhs, rest) = s.split_at(op_at);
        let (op, rhs) = if let Some(r) = rest.strip_prefix("<=") {
            (Op::Le, r)
        } else if let Some(r) = rest.strip_prefix(">=") {
            (Op::Ge, r)
        } else if let Some(r) = rest.strip_prefix("==") {
            (Op::Eq, r)
        } else if let Some(r) = rest.strip_prefix("!=") {
            (Op::Ne, r)
        } else if let Some(r) = rest.strip_prefix('<') {
            (Op::Lt, r)
        } else if let Some(r) = rest.strip_prefix('>') {
            (Op::Gt, r)
        } else {
            return Err(format!(
                "'{text}': unknown comparison; use <, <=, >, >=, == or !="
            ));
        };
        let lhs = lhs.trim().replace(' ', "");
        let aggregate = match lhs.as_str() {
            "avg" => Aggregate::Avg,
            "min" => Aggregate::Min,
            "med" => Aggregate::Med,
            "max" => Aggregate::Max,
            "count" => Aggregate::Count,
            "errors" => Aggregate::Errors,
            "error_rate" => Aggregate::ErrorRate,
            "throughput" => Aggregate::Throughput,
            "rate" => Aggregate::Rate,
            "value" => Aggregate::Value,
            p if p.starts_with("p(") && p.ends_with(')') => {
                let n: f64 = p[2..p.len() - 1]
                    .parse()
                    .map_err(|_| format!("'{text}': bad percentile '{p}'"))?;
                if !(0.0..=100.0).contains(&n) {
                    return Err(format!("'{text}': percentile {n} is not within 0..100"));
                }
                Aggregate::Percentile(n)
            }
            other => {
                return Err(format!(
                    "'{text}': unknown aggregate '{other}'; use one of {AGGREGATES}"
                ))
            }
        };
        let rhs = rhs.trim();
        if rhs.is_empty() {
            return Err(format!("'{text}': nothing to compare with"));
        }
        let value = if aggregate.is_time() {
            match rhs.parse::<f64>() {
                Ok(ms) => ms,
                Err(_) => {
                    crate::util::parse_duration(rhs)
                        .map_err(|e| format!("'{text}': {e}"))?
                        .as_secs_f64()
                        * 1000.0
                }
            }
        } else {
            rhs.parse::<f64>().map_err(|_| {
                format!("'{text}': '{rhs}' is not a number ({aggregate} takes no unit)")
            })?
        };
        Ok(Expression {
            aggregate,
            op,
            value,
        })
    }

    /// The observed value of the aggregate on `entry`, or None when the metric cannot give it.
    pub fn observe(&self, entry: &Entry, elapsed_secs: f64) -> Option<f64> {
        let hist = entry.hist.as_ref();
        let q = |q: f64| hist.map(|h| h.value_at_quantile(q) as f64 / 1000.0);
        match self.aggregate {
            Aggregate::Percentile(p) => q(p / 100.0),
            Aggregate::Med => q(0.5),
            Aggregate::Avg => hist.map(|h| h.mean() / 1000.0),
            Aggregate::Min => hist.map(|h| h.min() as f64 / 1000.0),
            Aggregate::Max => hist.map(|h| h.max() as f64 / 1000.0),
            Aggregate::Count => Some(match entry.kind {
                MetricKind::Counter => entry.sum,
                _ => entry.count as f64,
            }),
            Aggregate::Errors => Some(entry.error_count() as f64),
            Aggregate::ErrorRate => Some(if entry.count == 0 {
                0.0
            } else {
                entry.error_count() as f64 / entry.count as f64
            }),
            Aggregate::Throughput => {
                let n = match entry.kind {
                    MetricKind::Counter => entry.sum,
                    _ => entry.count as f64,
                };
                Some(if elapsed_secs > 0.0 {
                    n / elapsed_secs
                } else {
                    0.0
                })
            }
            Aggregate::Rate => (entry.kind == MetricKind::Rate).then(|| {
                if entry.count == 0 {
                    0.0
                } else {
                    entry.passes as f64 / entry.count as f64
                }
            }),
            Aggregate::Value => entry.gauge.map(|g| g.value),
        }
    }

    /// True when the threshold holds. A metric that never saw a value passes count-like checks at 0
    /// and fails time checks (nothing was measured, so nothing was proven).
    pub fn holds(&self, entry: Option<&Entry>, elapsed_secs: f64) -> (bool, Option<f64>) {
        let observed = entry.and_then(|e| {
            if e.hist.as_ref().is_some_and(|h| h.is_empty()) && self.aggregate.is_time() {
                None
            } else {
                self.observe(e, elapsed_secs)
            }
        });
        match observed {
            Some(v) => (self.op.holds(v, self.value), Some(v)),
            None => match self.aggregate {
                Aggregate::Count
                | Aggregate::Errors
                | Aggregate::ErrorRate
                | Aggregate::Throughput => (self.op.holds(0.0, self.value), Some(0.0)),
                _ => (false, None),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::recorder::{Recorder, Tags, Units};
    use proptest::prelude::*;
    use std::time::Duration;

    #[test]
    fn parses_the_documented_forms() {
        let e = Expression::parse("p(99) < 50ms").unwrap();
        assert_eq!(
            e,
            Expression {
                aggregate: Aggregate::Percentile(99.0),
                op: Op::Lt,
                value: 50.0
            }
        );
        assert_eq!(Expression::parse("avg<=1.5s").unwrap().value, 1500.0);
        assert_eq!(Expression::parse("p(99.9) < 200").unwrap().value, 200.0);
        assert_eq!(
            Expression::parse("error_rate < 0.001").unwrap().aggregate,
            Aggregate::ErrorRate
        );
        assert_eq!(Expression::parse("throughput >= 1000").unwrap().op, Op::Ge);
        assert!(Expression::parse("count > 5ms")
            .unwrap_err()
            .contains("takes no unit"));
        assert!(Expression::parse("p95 < 5")
            .unwrap_err()
            .contains("unknown aggregate 'p95'"));
        assert!(Expression::parse("p(101) < 5").is_err());
        assert!(Expression::parse("avg 5")
            .unwrap_err()
            .contains("no comparison"));
    }

    proptest! {
        /// Parsing never panics, whatever the input.
        #[test]
        fn parse_never_panics(s in ".{0,40}") {
            let _ = Expression::parse(&s);
        }

        /// A percentile threshold holds exactly when the observed percentile compares as written.
        #[test]
        fn percentile_threshold_matches_observation(values in proptest::collection::vec(1u64..5_000_000, 1..100),
                                                    limit_ms in 1u64..5000) {
            let mut r = Recorder::new();
            for v in &values {
                let d = Duration::from_micros(*v);
                r.record_op("m", &Tags::new(), d, d, None, &Units::none());
            }
            let e = r.take().entries.pop().unwrap();
            let expr = Expression::parse(&format!("p(95) < {limit_ms}ms")).unwrap();
            let (ok, observed) = expr.holds(Some(&e), 1.0);
            let p95 = e.hist.as_ref().unwrap().value_at_quantile(0.95) as f64 / 1000.0;
            prop_assert_eq!(observed, Some(p95));
            prop_assert_eq!(ok, p95 < limit_ms as f64);
        }
    }

    #[test]
    fn empty_metrics() {
        let e = Expression::parse("p(95) < 10").unwrap();
        assert_eq!(e.holds(None, 1.0), (false, None));
        let e = Expression::parse("errors == 0").unwrap();
        assert_eq!(e.holds(None, 1.0), (true, Some(0.0)));
    }
}

/// Thresholds on one metric (optionally a tagged sub-metric).
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdSpec {
    /// As written: `http.request` or `http.request{name:get}`.
    pub key: String,
    pub metric: String,
    pub tags: BTreeMap<String, String>,
    pub rules: Vec<ThresholdRule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdRule {
    pub expression: Expression,
    pub source: String,
    pub abort_on_fail: bool,
    pub delay_abort_eval: std::time::Duration,
}

/// Splits `http.request{name:get,phase:load}` into the metric name and its tag filter.
pub fn parse_metric_selector(key: &str) -> Result<(String, BTreeMap<String, String>), String> {
    let key = key.trim();
    let Some(open) = key.find('{') else {
        if key.is_empty() {
            return Err("empty metric name".into());
        }
        return Ok((key.to_string(), BTreeMap::new()));
    };
    if !key.ends_with('}') {
        return Err(format!("'{key}': a tag filter must end with '}}'"));
    }
    let name = key[..open].trim().to_string();
    let mut tags = BTreeMap::new();
    for pair in key[open + 1..key.len() - 1]
        .split(',')
        .filter(|p| !p.trim().is_empty())
    {
        let (k, v) = pair
            .split_once(':')
            .ok_or_else(|| format!("'{key}': tag filter '{pair}' is not key:value"))?;
        tags.insert(k.trim().to_string(), v.trim().to_string());
    }
    if name.is_empty() {
        return Err(format!("'{key}': no metric name before '{{'"));
    }
    Ok((name, tags))
}

/// The result of one threshold rule.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    /// The metric selector as written (`http.request{name:get}`).
    pub metric: String,
    pub threshold: String,
    pub ok: bool,
    /// The observed value (ms for times), or null when the metric had no value for it.
    pub observed: Option<f64>,
    pub abort_on_fail: bool,
}

/// Evaluates every rule against the store's totals.
pub fn evaluate(
    specs: &[ThresholdSpec],
    store: &super::MetricStore,
    elapsed_secs: f64,
) -> Vec<Outcome> {
    let mut out = Vec::new();
    for spec in specs {
        let entry = store.select(&spec.metric, &spec.tags);
        for rule in &spec.rules {
            let (ok, observed) = rule.expression.holds(entry.as_ref(), elapsed_secs);
            out.push(Outcome {
                metric: spec.key.clone(),
                threshold: rule.source.clone(),
                ok,
                observed,
                abort_on_fail: rule.abort_on_fail,
            });
        }
    }
    out
}

//! `loadgen compare A.json B.json [...]`: one table per metric, every file against the first
//! (the baseline), with the change in % and a mark where a later run is worse by more than the
//! tolerance (default 5%).

use super::schema::{MetricResult, ResultFile};
use crate::metrics::MetricKind;
use std::collections::BTreeSet;
use std::fmt::Write;

/// Which way is better for a field.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Better {
    Lower,
    Higher,
    /// Informational (a count): never marked.
    Neither,
}

/// The fields compared for a metric, with their direction.
pub fn fields(m: &MetricResult) -> Vec<(&'static str, Option<f64>, Better)> {
    let mut f = Vec::new();
    match m.kind {
        MetricKind::Operation => {
            f.push(("count", Some(m.count as f64), Better::Neither));
            f.push(("per second", Some(m.throughput), Better::Higher));
            f.push(("error rate", Some(m.error_rate), Better::Lower));
            let l = m.latency;
            f.push(("latency p50 ms", l.map(|l| l.p50), Better::Lower));
            f.push(("latency p90 ms", l.map(|l| l.p90), Better::Lower));
            f.push(("latency p99 ms", l.map(|l| l.p99), Better::Lower));
            f.push(("latency max ms", l.map(|l| l.max), Better::Lower));
            f.push((
                "service p99 ms",
                m.service_time.map(|s| s.p99),
                Better::Lower,
            ));
            for (unit, v) in &m.unit_throughput {
                let label: &'static str = match unit.as_str() {
                    "bytes" => "bytes/s",
                    "records" => "records/s",
                    "docs" => "docs/s",
                    "rows" => "rows/s",
                    _ => continue,
                };
                f.push((label, Some(*v), Better::Higher));
            }
        }
        MetricKind::Trend => {
            f.push(("count", Some(m.count as f64), Better::Neither));
            f.push(("p50", m.values.map(|v| v.p50), Better::Lower));
            f.push(("p99", m.values.map(|v| v.p99), Better::Lower));
        }
        MetricKind::Counter => {
            f.push(("total", Some(m.sum), Better::Neither));
            f.push(("per second", Some(m.throughput), Better::Higher));
            f.push(("error rate", Some(m.error_rate), Better::Lower));
        }
        MetricKind::Rate => f.push(("rate", m.rate, Better::Higher)),
        MetricKind::Gauge => f.push(("value", m.gauge.map(|g| g.value), Better::Neither)),
    }
    f
}

/// Change from `a` to `b` in %, and whether it is worse than `tolerance_pct`.
pub fn delta(a: f64, b: f64, better: Better, tolerance_pct: f64) -> (Option<f64>, bool) {
    let pct = if a == 0.0 {
        if b == 0.0 {
            Some(0.0)
        } else {
            None
        }
    } else {
        Some((b - a) / a.abs() * 100.0)
    };
    let worse = match (better, pct) {
        (Better::Lower, Some(p)) => p > tolerance_pct,
        (Better::Higher, Some(p)) => p < -tolerance_pct,
        // From zero to something: worse when lower is better (errors appeared).
        (Better::Lower, None) => b > a,
        (Better::Higher, None) => b < a,
        (Better::Neither, _) => false,
    };
    (pct, worse)
}

fn fmt_value(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v.abs() >= 1000.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 1.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.4}"),
    }
}

/// Renders the comparison; the bool says whether any later run is worse beyond the tolerance.
pub fn render(files: &[(String, ResultFile)], tolerance_pct: f64) -> (String, bool) {
    let mut out = String::new();
    let mut any_worse = false;
    let _ = writeln!(
        out,
        "runs (the first is the baseline; '!' marks worse by more than {tolerance_pct}%):"
    );
    for (i, (path, r)) in files.iter().enumerate() {
        let _ = writeln!(
            out,
            "  [{}] {path}  {}  {:?}  {:.1}s  script {}  loadgen {}",
            (b'A' + i as u8) as char,
            r.start,
            r.status,
            r.duration_s,
            r.script.path,
            r.loadgen_version
        );
    }
    let names: BTreeSet<&String> = files.iter().flat_map(|(_, r)| r.metrics.keys()).collect();
    let width = 14;
    for name in names {
        let _ = writeln!(out, "\n{name}");
        let mut header = format!("  {:<18}", "");
        for i in 0..files.len() {
            let label = (b'A' + i as u8) as char;
            if i == 0 {
                let _ = write!(header, " {:>width$}", label);
            } else {
                let _ = write!(header, " {:>width$} {:>9}", label, "change");
            }
        }
        let _ = writeln!(out, "{header}");
        let Some(proto) = files.iter().find_map(|(_, r)| r.metrics.get(name)) else {
            continue;
        };
        for (field, _, better) in fields(proto) {
            let values: Vec<Option<f64>> = files
                .iter()
                .map(|(_, r)| {
                    r.metrics.get(name).and_then(|m| {
                        fields(m)
                            .into_iter()
                            .find(|(f, _, _)| *f == field)
                            .and_then(|(_, v, _)| v)
                    })
                })
                .collect();
            let mut line = format!("  {field:<18} {:>width$}", fmt_value(values[0]));
            for v in &values[1..] {
                let (text, worse) = match (values[0], v) {
                    (Some(a), Some(b)) => {
                        let (pct, worse) = delta(a, *b, better, tolerance_pct);
                        let t = pct
                            .map(|p| format!("{p:+.1}%"))
                            .unwrap_or_else(|| "new".into());
                        (t, worse)
                    }
                    _ => ("-".into(), false),
                };
                any_worse |= worse;
                let _ = write!(
                    line,
                    " {:>width$} {:>8}{}",
                    fmt_value(*v),
                    text,
                    if worse { "!" } else { " " }
                );
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    (out, any_worse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn direction_decides_what_is_worse() {
        assert_eq!(delta(100.0, 110.0, Better::Lower, 5.0), (Some(10.0), true));
        assert_eq!(delta(100.0, 104.0, Better::Lower, 5.0), (Some(4.0), false));
        assert_eq!(delta(100.0, 90.0, Better::Higher, 5.0), (Some(-10.0), true));
        assert_eq!(
            delta(100.0, 200.0, Better::Neither, 5.0),
            (Some(100.0), false)
        );
        assert_eq!(delta(0.0, 0.01, Better::Lower, 5.0), (None, true));
        assert_eq!(delta(0.0, 0.0, Better::Lower, 5.0), (Some(0.0), false));
    }

    proptest! {
        /// Comparing a value with itself is never worse; swapping the runs flips the sign.
        #[test]
        fn delta_is_consistent(a in 0.001f64..1e6, b in 0.001f64..1e6, tol in 0.0f64..50.0) {
            for better in [Better::Lower, Better::Higher, Better::Neither] {
                prop_assert_eq!(delta(a, a, better, tol), (Some(0.0), false));
            }
            let (ab, _) = delta(a, b, Better::Lower, tol);
            let (ba, _) = delta(b, a, Better::Lower, tol);
            prop_assert_eq!(ab.unwrap().signum() * ba.unwrap().signum() <= 0.0, true);
            let (_, worse_lower) = delta(a, b, Better::Lower, tol);
            let (_, worse_higher) = delta(a, b, Better::Higher, tol);
            prop_assert!(!(worse_lower && worse_higher));
        }
    }
}

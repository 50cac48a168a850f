//! The end-of-run summary table (stdout).

use super::schema::{MetricResult, ResultFile};
use crate::metrics::entry::SeriesKey;
use crate::metrics::MetricKind;
use std::collections::BTreeMap;
use std::fmt::Write;

pub fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2}s", v / 1000.0)
    } else if v >= 1.0 {
        format!("{v:.2}ms")
    } else {
        format!("{:.0}us", v * 1000.0)
    }
}

fn row(out: &mut String, name: &str, m: &MetricResult, w: usize) {
    match m.kind {
        MetricKind::Operation => {
            let l = m.latency.unwrap_or_default();
            let _ = writeln!(
                out,
                "{name:<w$} {:>10} {:>8} {:>11.1} {:>9} {:>9} {:>9} {:>9} {:>9}",
                m.count,
                m.error_count,
                m.throughput,
                ms(l.p50),
                ms(l.p90),
                ms(l.p95),
                ms(l.p99),
                ms(l.max)
            );
            if let (Some(s), Some(l)) = (m.service_time, m.latency) {
                // Only worth a line when queueing made the two differ.
                if (l.p99 - s.p99).abs() > 0.05 * s.p99.max(0.001) {
                    let _ = writeln!(
                        out,
                        "{:<w$} {:>10} {:>8} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9}",
                        "  service time",
                        "",
                        "",
                        "",
                        ms(s.p50),
                        ms(s.p90),
                        ms(s.p95),
                        ms(s.p99),
                        ms(s.max)
                    );
                }
            }
            censored_row(out, m, w);
            for (unit, n) in &m.units {
                let rate = m.unit_throughput.get(unit).copied().unwrap_or(0.0);
                let _ = writeln!(
                    out,
                    "{:<w$} {n:>10} {:>8} {rate:>11.1}",
                    format!("  {unit}"),
                    ""
                );
            }
        }
        MetricKind::Trend => {
            let v = m.values.unwrap_or_default();
            let _ = writeln!(
                out,
                "{name:<w$} {:>10} {:>8} {:>11.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                m.count, m.error_count, m.throughput, v.p50, v.p90, v.p95, v.p99, v.max
            );
            censored_row(out, m, w);
        }
        MetricKind::Counter => {
            let _ = writeln!(
                out,
                "{name:<w$} {:>10} {:>8} {:>11.1}",
                m.sum, m.error_count, m.throughput
            );
        }
        MetricKind::Rate => {
            let passes = (m.rate.unwrap_or(0.0) * m.count as f64).round() as u64;
            let _ = writeln!(
                out,
                "{name:<w$} {:>10} {:>8} {:>11}  {:.2}% ({passes}/{})",
                m.count,
                "",
                "",
                m.rate.unwrap_or(0.0) * 100.0,
                m.count
            );
        }
        MetricKind::Gauge => {
            let g = m.gauge;
            let _ = writeln!(
                out,
                "{name:<w$} {:>10} {:>8} {:>11}  value {} (min {}, max {})",
                m.count,
                "",
                "",
                g.map(|g| g.value).unwrap_or(0.0),
                g.map(|g| g.min).unwrap_or(0.0),
                g.map(|g| g.max).unwrap_or(0.0)
            );
        }
    }
}

/// Under a metric with censored samples: how many of its percentiles' samples are lower bounds.
fn censored_row(out: &mut String, m: &MetricResult, w: usize) {
    if m.censored > 0 {
        let _ = writeln!(
            out,
            "{:<w$} {:>10}  lower bounds in the percentiles above (cut off, or due and never started)",
            "  censored", m.censored
        );
    }
}

/// `  {tag:value,...}`; a series without tags is written `  {}`.
fn series_label(name: &str, key: &str) -> String {
    let tags = &key[name.len()..];
    format!("  {}", if tags.is_empty() { "{}" } else { tags })
}

/// Series worth their own row: those of a metric recorded under more than one tag set.
fn interesting_series(r: &ResultFile) -> Vec<(&String, &MetricResult)> {
    let name_of = |k: &str| SeriesKey::name_of(k).to_string();
    r.series_totals
        .iter()
        .filter(|(key, _)| {
            let name = name_of(key);
            r.series_totals
                .keys()
                .filter(|k| name_of(k) == name)
                .count()
                > 1
        })
        .collect()
}

/// Per consumer group, from each partition's last lag sample: how many partitions keep up, catch
/// up, fall behind or stall; the partition furthest behind; and the skew (highest over median lag).
fn kafka_consumers(r: &ResultFile) -> String {
    use crate::metrics::lag::LagTrend;
    struct Part {
        name: String,
        lag: f64,
        lag_s: Option<f64>,
        growth: Option<f64>,
        trend: Option<LagTrend>,
    }
    let last = |metric: &str, key: &str| {
        let k = format!("{metric}{}", &key["kafka.consumer_lag".len()..]);
        r.series_totals
            .get(&k)
            .and_then(|m| m.gauge)
            .map(|g| g.value)
    };
    let mut groups: BTreeMap<String, Vec<Part>> = BTreeMap::new();
    for (key, m) in &r.series_totals {
        if !key.starts_with("kafka.consumer_lag{") {
            continue;
        }
        let (Some(g), Some(group)) = (m.gauge, m.tags.get("group")) else {
            continue;
        };
        groups.entry(group.clone()).or_default().push(Part {
            name: format!(
                "{}/{}",
                m.tags.get("topic").map_or("?", |s| s.as_str()),
                m.tags.get("partition").map_or("?", |s| s.as_str())
            ),
            lag: g.value,
            lag_s: last("kafka.consumer_lag_s", key),
            growth: last("kafka.consumer_lag_growth", key),
            trend: last("kafka.consumer_lag_trend", key).and_then(LagTrend::from_code),
        });
    }
    if groups.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nkafka consumers (each partition's last lag sample):\n");
    for (group, parts) in &groups {
        let mut counts: Vec<String> = Vec::new();
        for t in [
            LagTrend::FallingBehind,
            LagTrend::Stalled,
            LagTrend::CatchingUp,
            LagTrend::KeepingUp,
        ] {
            let n = parts.iter().filter(|p| p.trend == Some(t)).count();
            if n > 0 {
                counts.push(format!("{n} {}", t.words()));
            }
        }
        let unknown = parts.iter().filter(|p| p.trend.is_none()).count();
        if unknown > 0 {
            counts.push(format!("{unknown} too short to tell"));
        }
        let top = parts
            .iter()
            .max_by(|a, b| a.lag.total_cmp(&b.lag))
            .expect("a group has a partition");
        let _ = write!(
            out,
            "  group {group}: {} partition{}, {}; highest lag {} at {} records",
            parts.len(),
            if parts.len() == 1 { "" } else { "s" },
            counts.join(", "),
            top.name,
            super::report::plain(top.lag)
        );
        if let Some(s) = top.lag_s {
            let _ = write!(out, " ({s:.1} s behind)");
        }
        if let Some(g) = top.growth {
            let _ = write!(out, ", {g:+.1} records/s");
        }
        if parts.len() > 1 {
            let mut lags: Vec<f64> = parts.iter().map(|p| p.lag).collect();
            lags.sort_by(f64::total_cmp);
            let median = lags[lags.len() / 2];
            let _ = write!(
                out,
                "; skew: highest {} / median {}",
                super::report::plain(top.lag),
                super::report::plain(median)
            );
        }
        out.push('\n');
    }
    out
}

pub fn render(r: &ResultFile, out_path: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nloadgen {} - {} - {:?} after {:.1}s",
        r.loadgen_version, r.script.path, r.status, r.duration_s
    );
    if let Some(f) = &r.failure {
        let _ = writeln!(out, "  {f}");
    }
    let _ = writeln!(
        out,
        "\n{:<20} {:<22} {:>10} {:>8} {:>11} {:>8} {:>9} {:>8} {:>12}",
        "scenario",
        "executor",
        "iterations",
        "failed",
        "interrupted",
        "dropped",
        "unstarted",
        "max VUs",
        "max late"
    );
    for s in &r.scenarios {
        let _ = writeln!(
            out,
            "{:<20} {:<22} {:>10} {:>8} {:>11} {:>8} {:>9} {:>8} {:>12}",
            s.name,
            s.executor,
            s.iterations,
            s.failed_iterations,
            s.interrupted_iterations,
            s.dropped_iterations,
            s.unstarted_iterations,
            s.vus_max,
            ms(s.max_lateness_ms)
        );
    }
    let series = interesting_series(r);
    let w = r
        .metrics
        .keys()
        .cloned()
        .chain(
            series
                .iter()
                .map(|(k, _)| series_label(SeriesKey::name_of(k), k)),
        )
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(34, 80);
    let _ = writeln!(
        out,
        "\n{:<w$} {:>10} {:>8} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "metric", "count", "errors", "per second", "p50", "p90", "p95", "p99", "max"
    );
    for (name, m) in &r.metrics {
        row(&mut out, name, m, w);
        for (key, sm) in &series {
            if SeriesKey::name_of(key) == name.as_str() {
                row(&mut out, &series_label(name, key), sm, w);
            }
        }
    }
    let errors: Vec<String> = r
        .metrics
        .iter()
        .filter(|(_, m)| m.error_count > 0)
        .map(|(n, m)| {
            let kinds: Vec<String> = m.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
            format!("  {n}: {}", kinds.join(", "))
        })
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(out, "\nerrors by kind:\n{}", errors.join("\n"));
    }
    out.push_str(&kafka_consumers(r));
    if !r.script_errors.is_empty() {
        let _ = writeln!(out, "\nscript errors:");
        for (msg, n) in r.script_errors.iter().take(10) {
            let _ = writeln!(out, "  {n:>6} x {msg}");
        }
    }
    if !r.thresholds.is_empty() {
        let _ = writeln!(out, "\nthresholds:");
        for t in &r.thresholds {
            let observed = t
                .observed
                .map(|v| format!("{v:.3}"))
                .unwrap_or_else(|| "no data".into());
            let _ = writeln!(
                out,
                "  {} {} {}  (observed {observed})",
                if t.ok { "ok  " } else { "FAIL" },
                t.metric,
                t.threshold
            );
        }
    }
    let g = &r.generator;
    let _ = write!(
        out,
        "\ngenerator: {} workers, CPU {:.1}s ({:.0}% of the machine), peak RSS {:.0} MiB",
        g.workers,
        g.cpu_seconds,
        g.cpu_share * 100.0,
        g.peak_rss_bytes as f64 / 1048576.0
    );
    if let Some(l) = g.scheduler_lateness {
        let _ = write!(
            out,
            ", scheduler lateness p99 {} max {}",
            ms(l.p99),
            ms(l.max)
        );
    }
    let _ = writeln!(out);
    for w in &r.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    if let Some(p) = out_path {
        let _ = writeln!(out, "result: {p}");
    }
    out
}

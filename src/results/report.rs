//! `loadgen report`: one self-contained HTML page (no scripts, no outside files) for one or more
//! result files: per run, what ran and how it ended, a table of every metric, and per operation and
//! trend metric two charts over the run's seconds (operations a second; p50 and p99), drawn as SVG.

use super::schema::{ResultFile, Second};
use crate::metrics::entry::MetricKind;
use std::fmt::Write as _;

const W: f64 = 640.0;
const H: f64 = 150.0;
/// Left and bottom margins for the axis labels.
const ML: f64 = 56.0;
const MB: f64 = 22.0;

/// The page for `runs` (a label, usually the file name, and its content), in the order given.
pub fn render(runs: &[(String, ResultFile)]) -> String {
    let mut h = String::new();
    h.push_str(concat!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>loadgen report</title>\n<style>\n",
        "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}",
        "table{border-collapse:collapse;margin:8px 0 16px}",
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}",
        "td:first-child,th:first-child{text-align:left}",
        "h2{border-top:2px solid #444;padding-top:12px}.bad{color:#b00}",
        "svg{background:#fafafa;border:1px solid #ddd;margin:2px 8px 8px 0}",
        ".charts{display:flex;flex-wrap:wrap}",
        "</style></head><body>\n<h1>loadgen report</h1>\n"
    ));
    for (label, r) in runs {
        run_section(&mut h, label, r);
    }
    h.push_str("</body></html>\n");
    h
}

fn run_section(h: &mut String, label: &str, r: &ResultFile) {
    let status = format!("{:?}", r.status).to_lowercase();
    let _ = writeln!(h, "<h2>{}</h2>", esc(label));
    let _ = writeln!(
        h,
        "<p>script <code>{}</code>, loadgen {}, {} to {} ({:.1} s of load), status <b{}>{}</b>, exit code {}{}</p>",
        esc(&r.script.path),
        esc(&r.loadgen_version),
        esc(&r.start),
        esc(&r.end),
        r.duration_s,
        if status == "completed" { "" } else { " class=\"bad\"" },
        status,
        r.exit_code,
        r.failure
            .as_ref()
            .map(|f| format!(": {}", esc(f)))
            .unwrap_or_default()
    );
    h.push_str("<table><tr><th>metric</th><th>type</th><th>count</th><th>errors</th><th>per second</th><th>value</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>units per second</th></tr>\n");
    for (name, m) in &r.metrics {
        let summary = m.latency.as_ref().or(m.values.as_ref());
        let cell = |f: fn(&crate::metrics::entry::Summary) -> f64| {
            summary.map(|s| format!("{:.2}", f(s))).unwrap_or_default()
        };
        let units = m
            .unit_throughput
            .iter()
            .map(|(u, v)| format!("{v:.1} {}", esc(u)))
            .collect::<Vec<_>>()
            .join(", ");
        let rate = m.rate.map(|r| format!(" ({:.1} %)", r * 100.0));
        // What a gauge last said, or a counter's total.
        let value = match (m.kind, &m.gauge) {
            (MetricKind::Gauge, Some(g)) => plain(g.value),
            (MetricKind::Counter, _) => plain(m.sum),
            _ => String::new(),
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}{}</td><td>{}</td><td{}>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            kind_name(m.kind),
            rate.unwrap_or_default(),
            count_cell(m),
            if m.error_count > 0 { " class=\"bad\"" } else { "" },
            m.error_count,
            m.throughput,
            value,
            cell(|s| s.p50),
            cell(|s| s.p90),
            cell(|s| s.p99),
            cell(|s| s.max),
            units
        );
    }
    h.push_str("</table>\n<p>Times in ms. Charts: one point per second of the run.");
    if r.metrics.values().any(|m| m.censored > 0) {
        h.push_str(
            " <b>Censored</b>: samples in the percentiles that are lower bounds, not measurements \
             (iterations due and never started, operations and iterations cut off): the target \
             could not keep up, and the true percentiles are at least these.",
        );
    }
    h.push_str("</p>\n");
    for (name, m) in &r.metrics {
        if m.kind == MetricKind::Gauge {
            let highest = gauge_per_second(&r.series, name);
            if !highest.is_empty() {
                let span = highest.last().map_or(1.0, |(x, _)| *x);
                let _ = writeln!(h, "<h3>{}</h3>\n<div class=\"charts\">", esc(name));
                h.push_str(&chart(
                    "highest value set in the second (over every series of the gauge)",
                    span,
                    &[("#a52", &highest)],
                ));
                h.push_str("</div>\n");
            }
            continue;
        }
        if !matches!(m.kind, MetricKind::Operation | MetricKind::Trend) {
            continue;
        }
        let (count, errors, p50, p99) = per_second(&r.series, name);
        if count.is_empty() {
            continue;
        }
        let failed = errors.iter().any(|(_, e)| *e > 0.0);
        let per = match (m.kind == MetricKind::Operation, failed) {
            (true, true) => "operations a second (green), of which failed (red)",
            (true, false) => "operations a second",
            _ => "values a second",
        };
        // Both charts span the whole run, so they line up.
        let span = count.last().map_or(1.0, |(x, _)| *x);
        let _ = writeln!(h, "<h3>{}</h3>\n<div class=\"charts\">", esc(name));
        if failed {
            h.push_str(&chart(per, span, &[("#2a6", &count), ("#c33", &errors)]));
        } else {
            h.push_str(&chart(per, span, &[("#2a6", &count)]));
        }
        h.push_str(&chart(
            "ms: p50 (blue), p99 (red)",
            span,
            &[("#26c", &p50), ("#c33", &p99)],
        ));
        h.push_str("</div>\n");
    }
}

type Points = Vec<(f64, f64)>;

/// (seconds from the first second, value) of one metric: its count, errors, p50 and p99 per second.
fn per_second(series: &[Second], name: &str) -> (Points, Points, Points, Points) {
    let Some(t0) = series.first().map(|s| s.t) else {
        return Default::default();
    };
    let (mut count, mut errors, mut p50, mut p99) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for s in series {
        let x = (s.t - t0) as f64;
        match s.metrics.get(name) {
            Some(m) => {
                count.push((x, m.count as f64));
                errors.push((x, m.errors as f64));
                if let Some(v) = m.p50 {
                    p50.push((x, v));
                }
                if let Some(v) = m.p99 {
                    p99.push((x, v));
                }
            }
            None => {
                count.push((x, 0.0));
                errors.push((x, 0.0));
            }
        }
    }
    if count.iter().all(|(_, c)| *c == 0.0) {
        count.clear();
    }
    (count, errors, p50, p99)
}

/// (seconds from the first second, highest value) of a gauge, for the seconds it was set in.
fn gauge_per_second(series: &[Second], name: &str) -> Points {
    let Some(t0) = series.first().map(|s| s.t) else {
        return Vec::new();
    };
    series
        .iter()
        .filter_map(|s| {
            let m = s.metrics.get(name)?;
            Some(((s.t - t0) as f64, m.max?))
        })
        .collect()
}

/// An SVG line chart of one or more series sharing the axes: x from 0 to `span` seconds (or the
/// largest x), y from 0 to the largest value.
fn chart(title: &str, span: f64, lines: &[(&str, &Points)]) -> String {
    let xmax = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(x, _)| *x))
        .fold(span.max(1.0), f64::max);
    let top = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
        .fold(0.0_f64, f64::max);
    // Below zero only for values that go there (a lag's growth while it shrinks).
    let bottom = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
        .fold(0.0_f64, f64::min);
    // 5 % headroom above the highest value; an all-zero chart gets a scale of 1.
    let range = top - bottom;
    let scale = if range > 0.0 { range * 1.05 } else { 1.0 };
    let px = |x: f64| ML + x / xmax * (W - ML - 8.0);
    let py = |y: f64| (H - MB) - (y - bottom) / scale * (H - MB - 18.0);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\">\
         <text x=\"{ML}\" y=\"12\" font-size=\"11\">{}</text>\
         <line x1=\"{ML}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>\
         <line x1=\"{ML}\" y1=\"18\" x2=\"{ML}\" y2=\"{}\" stroke=\"#999\"/>\
         <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>\
         <text x=\"{ML}\" y=\"{}\" font-size=\"10\">0 s</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{} s</text>",
        esc(title),
        H - MB,
        W - 8.0,
        H - MB,
        H - MB,
        ML - 4.0,
        py(top) + 4.0,
        number(top),
        ML - 4.0,
        H - MB,
        number(bottom),
        H - 6.0,
        W - 8.0,
        H - 6.0,
        number(xmax)
    );
    for (color, points) in lines {
        if points.is_empty() {
            continue;
        }
        let path = points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect::<Vec<_>>()
            .join(" ");
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{path}\"/>"
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A metric's count, and the censored samples its percentiles hold beside it.
fn count_cell(m: &crate::results::schema::MetricResult) -> String {
    if m.censored > 0 {
        format!(
            "{} <span class=\"bad\">+{} censored</span>",
            m.count, m.censored
        )
    } else {
        m.count.to_string()
    }
}

pub(crate) fn number(v: f64) -> String {
    if v == 0.0 {
        "0".to_string()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn kind_name(k: MetricKind) -> &'static str {
    match k {
        MetricKind::Operation => "operation",
        MetricKind::Counter => "counter",
        MetricKind::Trend => "trend",
        MetricKind::Rate => "rate",
        MetricKind::Gauge => "gauge",
    }
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// A table value as a person reads it: up to 3 decimals, no trailing zeros.
pub(crate) fn plain(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }

    #[test]
    fn a_chart_spans_its_data() {
        let pts = vec![(0.0, 0.0), (1.0, 50.0), (2.0, 100.0)];
        let svg = chart("t", 0.0, &[("#000", &pts)]);
        // x from the left margin to the right edge; the highest point at the top of the plot area.
        assert!(svg.contains(&format!("{:.1},{:.1}", ML, H - MB)), "{svg}");
        let top = (H - MB) - 100.0 / 105.0 * (H - MB - 18.0);
        assert!(svg.contains(&format!("{:.1},{:.1}", W - 8.0, top)), "{svg}");
        assert!(svg.contains(">100</text>"), "{svg}");
        assert!(svg.contains(">2.0 s</text>"), "{svg}");
        // No data above zero: the top label says so (it once said 0.952).
        let flat = chart("t", 3.0, &[("#000", &vec![(0.0, 0.0), (3.0, 0.0)])]);
        assert!(flat.contains(">0</text>"), "{flat}");
    }

    #[test]
    fn numbers_read_plainly() {
        assert_eq!(plain(41052.33333), "41052.333");
        assert_eq!(plain(217.1), "217.1");
        assert_eq!(plain(3.0), "3");
        assert_eq!(plain(0.0), "0");
        // An axis that starts at zero says 0, not 0.000.
        assert_eq!(number(0.0), "0");
        assert_eq!(number(0.25), "0.250");
        assert_eq!(number(7498.0), "7498");
        assert_eq!(number(-512.4), "-512");
    }

    #[test]
    fn a_chart_with_negative_values_starts_below_zero() {
        let pts = vec![(0.0, -50.0), (1.0, 100.0)];
        let svg = chart("t", 1.0, &[("#000", &pts)]);
        // The lowest point on the bottom line, labelled with its value.
        assert!(svg.contains(&format!("{:.1},{:.1}", ML, H - MB)), "{svg}");
        assert!(svg.contains(">-50.0</text>"), "{svg}");
    }

    #[test]
    fn failed_operations_are_counted_per_second_beside_all_of_them() {
        use crate::results::schema::{Second, SecondMetric};
        let m = |count, errors| SecondMetric {
            kind: MetricKind::Operation,
            count,
            errors,
            error_kinds: Default::default(),
            units: Default::default(),
            sum: 0.0,
            p50: Some(1.0),
            p90: None,
            p99: Some(2.0),
            max: None,
            hist: None,
        };
        let second = |t, metrics: Vec<(&str, SecondMetric)>| Second {
            t,
            metrics: metrics
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        };
        let series = vec![
            second(100, vec![("op", m(10, 0))]),
            second(101, vec![("op", m(10, 4))]),
            second(102, vec![]),
        ];
        let (count, errors, _, _) = per_second(&series, "op");
        assert_eq!(count, vec![(0.0, 10.0), (1.0, 10.0), (2.0, 0.0)]);
        assert_eq!(errors, vec![(0.0, 0.0), (1.0, 4.0), (2.0, 0.0)]);
    }
}

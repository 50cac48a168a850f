//! `loadgen report --evaluation`: the store evaluation's one page (scripts/suite/evaluate.sh), built
//! from its result files alone. Each file says what it is through its run tags (`suite=evaluation`,
//! `phase` = load | cold | hot | sweep | mixed | validate, `store`, `loaders`, `query`, `rate`, and the
//! data's `rows`, `seed`, `data_sha256`); the metric names are the suite's (scripts/suite/*.lua).
//! Sections: method, validation, load (table and chart), queries cold and hot (table and chart), the
//! open-model sweep (one latency-versus-throughput chart per query class, every store on it, and the
//! sustainable throughput), the mixed load, and what each phase cost the servers.

mod charts;
mod sweep;

use super::report::{esc, number, plain};
use super::schema::{MetricResult, ResultFile};
use crate::metrics::entry::{SeriesKey, Summary};
use charts::bar_chart;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use sweep::{cost_section, mixed_section, sweep_section};

/// The queries in the suite's canonical order (scripts/suite/events.lua).
const QUERIES: [&str; 8] = [
    "count_by_status",
    "errors_per_service",
    "latency_by_service",
    "top_slowest",
    "trace_lookup",
    "range_scan",
    "fulltext",
    "histogram",
];

/// A store's colour on every chart.
fn color(store: &str) -> &'static str {
    match store {
        "elasticsearch" => "#1f77b4",
        "hive" => "#e6720f",
        "phoenix" => "#2a9d2a",
        _ => "#777",
    }
}

struct File<'a> {
    label: &'a str,
    r: &'a ResultFile,
}

impl File<'_> {
    fn tag(&self, k: &str) -> &str {
        self.r.tags.get(k).map(String::as_str).unwrap_or("")
    }
    fn metric(&self, name: &str) -> Option<&MetricResult> {
        self.r.metrics.get(name)
    }
    fn gauge(&self, name: &str) -> Option<f64> {
        self.metric(name)
            .and_then(|m| m.gauge.as_ref())
            .map(|g| g.value)
    }
    fn values(&self, name: &str) -> Option<&Summary> {
        self.metric(name).and_then(|m| m.values.as_ref())
    }
    /// The series whose key starts with `name{` and carries every `k:v` in `tags`.
    fn series(&self, name: &str, tags: &[&str]) -> Option<&MetricResult> {
        let prefix = format!("{name}{{");
        self.r.series_totals.iter().find_map(|(k, m)| {
            (k.starts_with(&prefix) && tags.iter().all(|t| has_tag(k, t))).then_some(m)
        })
    }
    /// The share of passed checks (1 when every check passed; None without checks).
    fn checks_ok(&self) -> Option<f64> {
        self.metric("checks").and_then(|m| m.rate)
    }
}

/// Whether the series key `name{a:b,c:d}` has the tag `t` (`k:v`) exactly.
fn has_tag(key: &str, t: &str) -> bool {
    let (Ok(key), Some((k, v))) = (SeriesKey::parse(key), t.split_once(':')) else {
        return false;
    };
    key.tags.get(k).is_some_and(|x| x == v)
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

/// The page, or why the files are not an evaluation.
pub fn render(files: &[(String, ResultFile)]) -> Result<String, String> {
    let all: Vec<File> = files.iter().map(|(label, r)| File { label, r }).collect();
    let ev: Vec<&File> = all
        .iter()
        .filter(|f| f.tag("suite") == "evaluation")
        .collect();
    if ev.is_empty() {
        return Err(
            "none of the files is a store evaluation's (no run tag suite=evaluation; \
             scripts/suite/evaluate.sh writes them)"
                .into(),
        );
    }
    let phase = |p: &'static str| -> Vec<&File> {
        ev.iter().copied().filter(|f| f.tag("phase") == p).collect()
    };
    let first = ev[0];
    let order: Vec<String> = first
        .tag("store_order")
        .split_whitespace()
        .map(String::from)
        .collect();
    let mut stores: Vec<String> = order.clone();
    for f in &ev {
        let s = f.tag("store");
        if !s.is_empty() && !stores.iter().any(|x| x == s) {
            stores.push(s.to_string());
        }
    }

    let mut h = String::new();
    h.push_str(concat!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>loadgen: store evaluation</title>\n<style>\n",
        "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}",
        "table{border-collapse:collapse;margin:8px 0 16px}",
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}",
        "td:first-child,th:first-child{text-align:left}",
        "h2{border-top:2px solid #444;padding-top:12px}.bad{color:#b00;font-weight:bold}.ok{color:#080;font-weight:bold}",
        "svg{background:#fafafa;border:1px solid #ddd;margin:2px 8px 8px 0}",
        ".charts{display:flex;flex-wrap:wrap}.key span{display:inline-block;margin-right:14px}",
        ".sw{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}",
        "</style></head><body>\n<h1>Store evaluation</h1>\n"
    ));

    // Method.
    let _ = writeln!(
        h,
        "<p>{} events (seed {}, data sha256 {}…) on {} cores, {} GiB; store order {} (round {}); loadgen {}; \
         from {} to {}. Each store measured while the others idled; its own design is listed under Load.</p>",
        esc(first.tag("rows")),
        esc(first.tag("seed")),
        esc(first.tag("data_sha256")),
        first.r.host.cores,
        first.r.host.memory_bytes / (1 << 30),
        esc(&order.join(", ")),
        esc(first.tag("round")),
        esc(&first.r.loadgen_version),
        esc(ev.iter().map(|f| f.r.start.as_str()).min().unwrap_or("")),
        esc(ev.iter().map(|f| f.r.end.as_str()).max().unwrap_or("")),
    );
    let key: String = stores
        .iter()
        .map(|s| {
            format!(
                "<span><i class=\"sw\" style=\"background:{}\"></i>{}</span>",
                color(s),
                esc(s)
            )
        })
        .collect();
    let _ = writeln!(h, "<p class=\"key\">{key}</p>");

    // Validation.
    h.push_str("<h2>Answers validated across the stores</h2>\n");
    match phase("validate").first() {
        Some(v) => {
            let mut total = 0;
            let mut differing = Vec::new();
            for (k, m) in &v.r.series_totals {
                if k.starts_with("checks{") && has_tag(k, "check:same answer") {
                    total += 1;
                    if m.rate != Some(1.0) {
                        differing.push(k.clone());
                    }
                }
            }
            let _ = writeln!(
                h,
                "<p class=\"{}\">{} of {} comparisons equal{}</p><p>Each store's cold answers against the first \
                 store's, query by query (tolerances in scripts/suite/events.lua); a difference fails the run.</p>",
                if differing.is_empty() && total > 0 { "ok" } else { "bad" },
                total - differing.len(),
                total,
                if differing.is_empty() {
                    String::new()
                } else {
                    format!("; differing: {}", esc(&differing.join(", ")))
                }
            );
        }
        None => h.push_str(
            "<p class=\"bad\">No validation result: the answers were not compared.</p>\n",
        ),
    }

    load_section(&mut h, &phase("load"), &stores);
    query_section(&mut h, &phase("cold"), &phase("hot"), &stores);
    sweep_section(&mut h, &phase("sweep"), &stores);
    mixed_section(&mut h, &phase("mixed"), &stores);
    // Freshness through the ingest pipeline, when its runs are given (scripts/ingest/pipeline.sh).
    let pipeline: Vec<&File> = all
        .iter()
        .filter(|f| f.tag("suite") == "pipeline")
        .collect();
    if !pipeline.is_empty() {
        let mut pstores = stores.clone();
        for f in &pipeline {
            if !pstores.iter().any(|s| s == f.tag("store")) {
                pstores.push(f.tag("store").to_string());
            }
        }
        let runs: Vec<&ResultFile> = pipeline.iter().map(|f| f.r).collect();
        super::freshness::section(&mut h, &runs, &|t, bars| bar_chart(t, bars, &pstores, true));
    }
    cost_section(&mut h, &ev, &stores);

    h.push_str("<h2>Files</h2>\n<p>");
    for f in all
        .iter()
        .filter(|f| matches!(f.tag("suite"), "evaluation" | "pipeline"))
    {
        let _ = write!(
            h,
            "<code>{}</code> ({}{}) ",
            esc(f.label),
            esc(if f.tag("suite") == "pipeline" {
                "pipeline"
            } else {
                f.tag("phase")
            }),
            if f.r.exit_code == 0 {
                String::new()
            } else {
                format!(", <span class=\"bad\">exit {}</span>", f.r.exit_code)
            }
        );
    }
    h.push_str("</p>\n</body></html>\n");
    Ok(h)
}

fn load_section(h: &mut String, files: &[&File], stores: &[String]) {
    h.push_str("<h2>Load (timed until every row is queryable)</h2>\n");
    if files.is_empty() {
        h.push_str("<p>No load results.</p>\n");
        return;
    }
    h.push_str(
        "<table><tr><th>store</th><th>loaders</th><th>rows/s</th><th>MB/s</th><th>seconds</th>\
         <th>making rows queryable (s)</th><th>HDFS writes, summed (s)</th><th>disk bytes/row</th>\
         <th>server CPU s</th><th>server peak RSS MiB</th><th>idle stores' CPU s</th><th>status</th></tr>\n",
    );
    let mut bars: Vec<(String, String, f64)> = Vec::new();
    let mut sorted: Vec<&&File> = files.iter().collect();
    sorted.sort_by_key(|f| {
        (
            stores.iter().position(|s| s == f.tag("store")),
            f.tag("loaders").parse::<u32>().unwrap_or(0),
        )
    });
    for f in sorted {
        let rate = f.gauge("load_rows_per_s");
        let hdfs = f.metric("hdfs.write").and_then(|m| {
            m.service_time
                .as_ref()
                .map(|s| s.mean * m.count as f64 / 1000.0)
        });
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(f.tag("store")),
            esc(f.tag("loaders")),
            opt(rate, 0),
            opt(f.gauge("load_mb_per_s"), 1),
            opt(f.gauge("load_s"), 1),
            opt(f.values("load_finish_ms").map(|s| s.max / 1000.0), 2),
            opt(hdfs, 2),
            opt(f.gauge("disk_bytes_per_row"), 1),
            opt(f.gauge("server_cpu_s"), 1),
            opt(f.values("server_rss_mib").map(|s| s.max), 0),
            opt(f.gauge("others_cpu_s"), 1),
            status(f),
        );
        if let Some(r) = rate {
            bars.push((
                format!("{} loader(s)", f.tag("loaders")),
                f.tag("store").to_string(),
                r,
            ));
        }
    }
    h.push_str("</table>\n");
    h.push_str(&bar_chart(
        "rows/s by loaders (higher is better)",
        &bars,
        stores,
        false,
    ));
    h.push_str("<p>Each store's physical design: docs/evaluation.md and the <code>design:</code> lines of the load runs' text output.</p>\n");
}

fn status(f: &File) -> String {
    let s = format!("{:?}", f.r.status).to_lowercase();
    let checks = f.checks_ok();
    if s == "completed" && checks.is_none_or(|c| c == 1.0) {
        s
    } else {
        format!(
            "<span class=\"bad\">{s}{}</span>",
            checks
                .filter(|c| *c < 1.0)
                .map(|c| format!(", checks {:.0} %", c * 100.0))
                .unwrap_or_default()
        )
    }
}

fn query_section(h: &mut String, cold: &[&File], hot: &[&File], stores: &[String]) {
    h.push_str("<h2>Queries, one client (closed loop: service times, ms)</h2>\n");
    if cold.is_empty() && hot.is_empty() {
        h.push_str("<p>No query results.</p>\n");
        return;
    }
    h.push_str("<table><tr><th>query</th>");
    for s in stores {
        let _ = write!(
            h,
            "<th>{0} cold</th><th>{0} hot p50</th><th>{0} hot p95</th><th>{0} hot max</th>",
            esc(s)
        );
    }
    h.push_str("</tr>\n");
    let mut bars = Vec::new();
    for q in QUERIES {
        let _ = write!(h, "<tr><td>{q}</td>");
        let name = format!("query_{q}");
        for s in stores {
            let c = find(cold, s).and_then(|f| f.values(&name)).map(|v| v.max);
            let hv = find(hot, s).and_then(|f| f.values(&name));
            let _ = write!(
                h,
                "<td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                opt(c, 1),
                opt(hv.map(|v| v.p50), 1),
                opt(hv.map(|v| v.p95), 1),
                opt(hv.map(|v| v.max), 1)
            );
            if let Some(v) = hv {
                bars.push((q.to_string(), s.clone(), v.p50));
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    let samples = hot
        .first()
        .and_then(|f| f.metric("query_count_by_status"))
        .map_or(0, |m| m.count);
    let _ = writeln!(
        h,
        "<p>Cold: the query's first run after the page cache and the store's own caches were dropped \
         (one sample each). Hot: {samples} samples per query, drawn parameters, rotated order.</p>"
    );
    h.push_str(&bar_chart(
        "hot p50 per query, ms (log scale; lower is better)",
        &bars,
        stores,
        true,
    ));
}

/// The file of `store` among `files`.
fn find<'a, 'b>(files: &[&'a File<'b>], store: &str) -> Option<&'a File<'b>> {
    files.iter().find(|f| f.tag("store") == store).copied()
}

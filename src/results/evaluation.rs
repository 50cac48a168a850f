//! `loadgen report --evaluation`: the store evaluation's one page (scripts/suite/evaluate.sh), built
//! from its result files alone. Each file says what it is through its run tags (`suite=evaluation`,
//! `phase` = load | cold | hot | sweep | mixed | validate, `store`, `loaders`, `query`, `rate`, and the
//! data's `rows`, `seed`, `data_sha256`); the metric names are the suite's (scripts/suite/*.lua).
//! Sections: method, validation, load (table and chart), queries cold and hot (table and chart), the
//! open-model sweep (one latency-versus-throughput chart per query class, every store on it, and the
//! sustainable throughput), the mixed load, and what each phase cost the servers.

use super::report::{esc, number, plain};
use super::schema::{MetricResult, ResultFile};
use crate::metrics::entry::Summary;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

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
    let inner = key
        .split_once('{')
        .map(|(_, r)| r.trim_end_matches('}'))
        .unwrap_or("");
    inner.split(',').any(|p| p == t)
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

/// A store's colour and name, and its (throughput, p99) and (throughput, p50) points.
type Curve<'a> = (&'a str, &'a str, Vec<(f64, f64)>, Vec<(f64, f64)>);

/// One step of a sweep: target rate, achieved rate, p50, p99 (ms), and whether it held.
struct Step {
    rate: f64,
    achieved: f64,
    p50: f64,
    p99: f64,
    saturated: bool,
}

fn sweep_section(h: &mut String, files: &[&File], stores: &[String]) {
    h.push_str("<h2>Open-model sweep: latency against throughput</h2>\n");
    if files.is_empty() {
        h.push_str("<p>No sweep results.</p>\n");
        return;
    }
    let bound: f64 = files[0].tag("bound_p99_ms").parse().unwrap_or(1000.0);
    let _ = writeln!(
        h,
        "<p>Each query class at fixed arrival rates (constant-arrival-rate, up to {} concurrent queries), the \
         rate doubling from half of what one client did until the store saturated. Latency counts from each \
         query's scheduled time, so a store that falls behind shows as queueing. x: queries completed per second; \
         y: p99 (solid) and p50 (dashed), ms, both axes logarithmic. A step is <i>saturated</i> when more than 2 % \
         of the queries due were left unstarted, fewer than 90 % of those due started, fewer than 80 % of the rate completed a \
         second over the step and its drain, or a query failed. Sustainable throughput: \
         the highest rate whose p99 stayed under {} ms without saturating.</p>",
        esc(files[0].tag("vus")),
        plain(bound)
    );
    let mut by: BTreeMap<(String, String), Vec<Step>> = BTreeMap::new();
    for f in files {
        let Some(lat) = f.values("sweep_latency_ms") else {
            continue;
        };
        let Some(sc) = f.r.scenarios.first() else {
            continue;
        };
        // Completed a second over the step and the drain of its last queries.
        let achieved = sc.iterations as f64 / f.r.duration_s.max(1e-9);
        let rate: f64 = f.tag("rate").parse().unwrap_or(0.0);
        let due = sc.iterations + sc.unstarted_iterations + sc.dropped_iterations;
        let saturated = sc.unstarted_iterations as f64 > 0.02 * due as f64
            || (sc.iterations as f64) < 0.9 * due as f64
            || achieved < 0.8 * rate
            || f.checks_ok().is_some_and(|c| c < 1.0)
            || f.r.status != super::outcome::Status::Completed;
        by.entry((f.tag("query").to_string(), f.tag("store").to_string()))
            .or_default()
            .push(Step {
                rate,
                achieved,
                p50: lat.p50,
                p99: lat.p99,
                saturated,
            });
    }
    for steps in by.values_mut() {
        steps.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    }
    // Sustainable throughput table.
    h.push_str("<table><tr><th>query</th>");
    for s in stores {
        let _ = write!(
            h,
            "<th>{0}: sustainable q/s</th><th>{0}: most q/s seen (p99 ms)</th>",
            esc(s)
        );
    }
    h.push_str("</tr>\n");
    let queries: BTreeSet<&str> = by.keys().map(|(q, _)| q.as_str()).collect();
    let ordered: Vec<&str> = QUERIES
        .iter()
        .copied()
        .filter(|q| queries.contains(q))
        .collect();
    for q in &ordered {
        let _ = write!(h, "<tr><td>{q}</td>");
        for s in stores {
            match by.get(&(q.to_string(), s.clone())) {
                Some(steps) => {
                    let held = steps
                        .iter()
                        .filter(|st| !st.saturated && st.p99 <= bound)
                        .map(|st| st.rate)
                        .fold(None, |a: Option<f64>, r| Some(a.map_or(r, |a| a.max(r))));
                    let best = steps
                        .iter()
                        .max_by(|a, b| a.achieved.total_cmp(&b.achieved));
                    let _ = write!(
                        h,
                        "<td>{}</td><td>{}</td>",
                        held.map(plain)
                            .unwrap_or_else(|| format!("&lt; {}", plain(steps[0].rate))),
                        best.map(|b| format!(
                            "{} ({})",
                            plain((b.achieved * 10.0).round() / 10.0),
                            number(b.p99)
                        ))
                        .unwrap_or_default()
                    );
                }
                None => h.push_str("<td>-</td><td>-</td>"),
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n<div class=\"charts\">\n");
    for q in &ordered {
        let lines: Vec<Curve> = stores
            .iter()
            .filter_map(|s| {
                by.get(&(q.to_string(), s.clone())).map(|steps| {
                    (
                        color(s),
                        s.as_str(),
                        steps.iter().map(|st| (st.achieved, st.p99)).collect(),
                        steps.iter().map(|st| (st.achieved, st.p50)).collect(),
                    )
                })
            })
            .collect();
        h.push_str(&loglog_chart(q, &lines, bound));
    }
    h.push_str("</div>\n");
}

fn mixed_section(h: &mut String, files: &[&File], stores: &[String]) {
    h.push_str("<h2>Mixed load: queries with and without concurrent ingest</h2>\n");
    if files.is_empty() {
        h.push_str("<p>No mixed-load results.</p>\n");
        return;
    }
    let f0 = files[0];
    let _ = writeln!(
        h,
        "<p>{} queries/s (a mix of {}) for {} s alone, then as long beside {} rows/s ingested in batches of {} \
         through each store's real-time path (bulk + refresh, UPSERT + commit, file + INSERT INTO), each batch \
         queryable when its call returned. Latency from the scheduled time, ms.</p>",
        esc(f0.tag("query_rate")),
        esc(&f0.tag("queries").replace(' ', ", ")),
        esc(f0.tag("seconds")),
        esc(f0.tag("ingest_rows_per_s")),
        esc(f0.tag("batch"))
    );
    h.push_str(
        "<table><tr><th>store</th><th>alone p50</th><th>alone p99</th><th>with ingest p50</th>\
         <th>with ingest p99</th><th>rows/s ingested (target)</th><th>batch p50</th><th>batch p99</th>\
         <th>batches left unstarted</th><th>status</th></tr>\n",
    );
    let mut bars = Vec::new();
    for s in stores {
        let Some(f) = files.iter().find(|f| f.tag("store") == s) else {
            continue;
        };
        let alone = f
            .series("mixed_latency_ms", &["scenario:alone"])
            .and_then(|m| m.values.as_ref());
        let with = f
            .series("mixed_latency_ms", &["scenario:with_ingest"])
            .and_then(|m| m.values.as_ref());
        let batch = f.values("ingest_latency_ms");
        let secs: f64 = f.tag("seconds").parse().unwrap_or(0.0);
        let rows = f.metric("rows_ingested").map(|m| m.sum);
        let unstarted =
            f.r.scenarios
                .iter()
                .find(|sc| sc.name == "ingest")
                .map(|sc| sc.unstarted_iterations);
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(s),
            opt(alone.map(|v| v.p50), 1),
            opt(alone.map(|v| v.p99), 1),
            opt(with.map(|v| v.p50), 1),
            opt(with.map(|v| v.p99), 1),
            opt(rows.filter(|_| secs > 0.0).map(|r| r / secs), 0),
            esc(f.tag("ingest_rows_per_s")),
            opt(batch.map(|v| v.p50), 1),
            opt(batch.map(|v| v.p99), 1),
            unstarted.map(|u| u.to_string()).unwrap_or_default(),
            status(f)
        );
        if let Some(v) = alone {
            bars.push(("alone".to_string(), s.clone(), v.p99));
        }
        if let Some(v) = with {
            bars.push(("with ingest".to_string(), s.clone(), v.p99));
        }
    }
    h.push_str("</table>\n");
    h.push_str(&bar_chart(
        "query p99, ms, alone and with ingest (log scale; lower is better)",
        &bars,
        stores,
        true,
    ));
}

fn cost_section(h: &mut String, ev: &[&File], stores: &[String]) {
    h.push_str("<h2>Cost per store and phase</h2>\n<p>Server CPU seconds and peak resident memory of the store's own processes \
        (from /proc, over the phase), loadgen's own CPU, and the idle stores' CPU in the same window.</p>\n");
    h.push_str("<table><tr><th>store</th><th>phase</th><th>runs</th><th>server CPU s</th><th>server peak RSS MiB</th>\
        <th>loadgen CPU s</th><th>idle stores' CPU s</th></tr>\n");
    for s in stores {
        for p in ["load", "cold", "hot", "sweep", "mixed"] {
            let fs: Vec<&&File> = ev
                .iter()
                .filter(|f| f.tag("store") == s && f.tag("phase") == p)
                .collect();
            if fs.is_empty() {
                continue;
            }
            let sum = |g: &dyn Fn(&File) -> Option<f64>| -> Option<f64> {
                let v: Vec<f64> = fs.iter().filter_map(|f| g(f)).collect();
                (!v.is_empty()).then(|| v.iter().sum())
            };
            let rss = fs
                .iter()
                .filter_map(|f| f.values("server_rss_mib").map(|v| v.max))
                .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))));
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(s),
                p,
                fs.len(),
                opt(sum(&|f| f.gauge("server_cpu_s")), 1),
                opt(rss, 0),
                opt(sum(&|f| Some(f.r.generator.cpu_seconds)), 1),
                opt(sum(&|f| f.gauge("others_cpu_s")), 1),
            );
        }
    }
    h.push_str("</table>\n");
}

const CW: f64 = 420.0;
const CH: f64 = 260.0;
const CL: f64 = 52.0;
const CB: f64 = 34.0;
const CT: f64 = 22.0;

/// Powers of ten spanning [lo, hi] (at least one decade).
fn decades(lo: f64, hi: f64) -> (f64, f64) {
    let a = lo.max(1e-6).log10().floor();
    let mut b = hi.max(1e-6).log10().ceil();
    if b <= a {
        b = a + 1.0;
    }
    (a, b)
}

/// A log-log chart: per store, p99 points joined by a solid line and p50 by a dashed one; a
/// horizontal line at `bound` ms.
fn loglog_chart(title: &str, lines: &[Curve], bound: f64) -> String {
    let pts = lines
        .iter()
        .flat_map(|(_, _, a, b)| a.iter().chain(b.iter()));
    let (xs, ys): (Vec<f64>, Vec<f64>) = pts.filter(|(x, y)| *x > 0.0 && *y > 0.0).copied().unzip();
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{CW}\" height=\"{CH}\" viewBox=\"0 0 {CW} {CH}\" role=\"img\">\
         <text x=\"{CL}\" y=\"14\" font-size=\"12\" font-weight=\"bold\">{}</text>",
        esc(title)
    );
    if xs.is_empty() {
        s.push_str("<text x=\"60\" y=\"120\" font-size=\"11\">no data</text></svg>\n");
        return s;
    }
    let (x0, x1) = decades(
        xs.iter().copied().fold(f64::MAX, f64::min),
        xs.iter().copied().fold(0.0, f64::max),
    );
    let (y0, y1) = decades(
        ys.iter().copied().fold(f64::MAX, f64::min).min(bound),
        ys.iter().copied().fold(0.0, f64::max).max(bound),
    );
    let px = |x: f64| CL + (x.log10() - x0) / (x1 - x0) * (CW - CL - 24.0);
    let py = |y: f64| (CH - CB) - (y.log10() - y0) / (y1 - y0) * (CH - CB - CT);
    for d in (x0 as i32)..=(x1 as i32) {
        let x = px(10f64.powi(d));
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{CT}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#e4e4e4\"/>\
             <text x=\"{x:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            CH - CB,
            CH - CB + 13.0,
            number(10f64.powi(d))
        );
    }
    for d in (y0 as i32)..=(y1 as i32) {
        let y = py(10f64.powi(d));
        let _ = write!(
            s,
            "<line x1=\"{CL}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            CW - 10.0,
            CL - 4.0,
            y + 3.0,
            number(10f64.powi(d))
        );
    }
    let yb = py(bound);
    let _ = write!(
        s,
        "<line x1=\"{CL}\" y1=\"{yb:.1}\" x2=\"{}\" y2=\"{yb:.1}\" stroke=\"#b00\" stroke-dasharray=\"2,3\"/>\
         <text x=\"{}\" y=\"{:.1}\" font-size=\"9\" fill=\"#b00\" text-anchor=\"end\">p99 bound</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">queries/s completed</text>\
         <text x=\"12\" y=\"{}\" font-size=\"10\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">latency ms</text>",
        CW - 10.0,
        CW - 12.0,
        yb - 3.0,
        (CL + CW) / 2.0,
        CH - 6.0,
        (CH - CB + CT) / 2.0,
        (CH - CB + CT) / 2.0
    );
    for (k, (c, name, _, _)) in lines.iter().enumerate() {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"14\" font-size=\"10\" fill=\"{c}\" text-anchor=\"end\">{}</text>",
            CW - 12.0 - 78.0 * (lines.len() - 1 - k) as f64,
            esc(name)
        );
    }
    for (c, _, p99, p50) in lines {
        for (pts, dash, r) in [(p99, "", 3.0), (p50, " stroke-dasharray=\"4,3\"", 2.0)] {
            let path: Vec<String> = pts
                .iter()
                .filter(|(x, y)| *x > 0.0 && *y > 0.0)
                .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
                .collect();
            if path.is_empty() {
                continue;
            }
            let _ = write!(
                s,
                "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"1.6\"{dash} points=\"{}\"/>",
                path.join(" ")
            );
            for p in &path {
                let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
                let _ = write!(s, "<circle cx=\"{x}\" cy=\"{y}\" r=\"{r}\" fill=\"{c}\"/>");
            }
        }
    }
    s.push_str("</svg>\n");
    s
}

/// Grouped bars: one group per distinct first field (in order of appearance), one bar per store.
fn bar_chart(title: &str, bars: &[(String, String, f64)], stores: &[String], log: bool) -> String {
    let mut groups: Vec<&str> = Vec::new();
    for (g, _, _) in bars {
        if !groups.contains(&g.as_str()) {
            groups.push(g);
        }
    }
    let w = (CL + 20.0 + groups.len() as f64 * (stores.len() as f64 * 16.0 + 24.0)).max(440.0);
    let h = 240.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h}\" viewBox=\"0 0 {w:.0} {h}\" role=\"img\">\
         <text x=\"{CL}\" y=\"14\" font-size=\"12\" font-weight=\"bold\">{}</text>",
        esc(title)
    );
    let vals: Vec<f64> = bars.iter().map(|b| b.2).filter(|v| *v > 0.0).collect();
    if vals.is_empty() {
        s.push_str("</svg>\n");
        return s;
    }
    let top = vals.iter().copied().fold(0.0, f64::max);
    let bottom = h - 60.0;
    let (y0, y1) = if log {
        decades(vals.iter().copied().fold(f64::MAX, f64::min), top)
    } else {
        (0.0, top * 1.08)
    };
    let py = |v: f64| {
        let f = if log {
            (v.max(10f64.powf(y0)).log10() - y0) / (y1 - y0)
        } else {
            v / y1
        };
        bottom - f * (bottom - CT)
    };
    let ticks: Vec<f64> = if log {
        ((y0 as i32)..=(y1 as i32)).map(|d| 10f64.powi(d)).collect()
    } else {
        (0..=4).map(|i| y1 / 4.0 * i as f64).collect()
    };
    for t in ticks {
        let y = py(t);
        let _ = write!(
            s,
            "<line x1=\"{CL}\" y1=\"{y:.1}\" x2=\"{:.0}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            w - 6.0,
            CL - 4.0,
            y + 3.0,
            number(t)
        );
    }
    let mut x = CL + 12.0;
    for g in &groups {
        let start = x;
        for st in stores {
            if let Some((_, _, v)) = bars.iter().find(|(gg, ss, _)| gg == g && ss == st) {
                let y = py(*v);
                let _ = write!(
                    s,
                    "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"14\" height=\"{:.1}\" fill=\"{}\"><title>{} {}: {}</title></rect>",
                    (bottom - y).max(0.5),
                    color(st),
                    esc(g),
                    esc(st),
                    plain(*v)
                );
            }
            x += 16.0;
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\" transform=\"rotate(-35 {:.1} {:.1})\">{}</text>",
            (start + x) / 2.0,
            bottom + 14.0,
            (start + x) / 2.0,
            bottom + 14.0,
            esc(g)
        );
        x += 24.0;
    }
    s.push_str("</svg>\n");
    s
}

/// The file of `store` among `files`.
fn find<'a, 'b>(files: &[&'a File<'b>], store: &str) -> Option<&'a File<'b>> {
    files.iter().find(|f| f.tag("store") == store).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_tags_match_exactly() {
        assert!(has_tag("m{query:a,scenario:alone}", "scenario:alone"));
        assert!(!has_tag("m{query:a,scenario:alone2}", "scenario:alone"));
        assert!(!has_tag("m", "scenario:alone"));
    }

    #[test]
    fn log_axes_span_whole_decades() {
        assert_eq!(decades(3.0, 40.0), (0.0, 2.0));
        assert_eq!(decades(100.0, 100.0), (2.0, 3.0));
        let svg = loglog_chart(
            "q",
            &[("#000", "s", vec![(1.0, 10.0), (100.0, 1000.0)], vec![])],
            1000.0,
        );
        // x = 1 at the left edge, 100 at the right; y = 10 at the bottom, 1000 at the top.
        assert!(svg.contains(&format!("{:.1},{:.1}", CL, CH - CB)), "{svg}");
        assert!(
            svg.contains(&format!("{:.1},{:.1}", CW - 24.0, CT)),
            "{svg}"
        );
    }
}

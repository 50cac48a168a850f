//! The evaluation page's sections beyond single runs: the open-model sweep (latency against
//! throughput, the sustainable rate), the mixed load, and what each phase cost the servers.

use super::charts::{bar_chart, loglog_chart, Curve};
use super::*;

/// One step of a sweep: target rate, achieved rate, p50, p99 (ms), and whether it held.
struct Step {
    rate: f64,
    achieved: f64,
    p50: f64,
    p99: f64,
    saturated: bool,
}

pub fn sweep_section(h: &mut String, files: &[&File], stores: &[String]) {
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
            || f.r.status != crate::results::outcome::Status::Completed;
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

pub fn mixed_section(h: &mut String, files: &[&File], stores: &[String]) {
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

pub fn cost_section(h: &mut String, ev: &[&File], stores: &[String]) {
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

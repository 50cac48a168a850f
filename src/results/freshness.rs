//! The evaluation page's freshness section: runs of scripts/ingest/pipeline.lua (run tag
//! `suite=pipeline`, with `store` and `rate`), one row per store and produce rate: how long after its
//! scheduled produce time a record was first seen by the store's query path, the markers never seen,
//! and the settings that set each floor (the run's tags and method).

use super::report::esc;
use super::schema::{MetricResult, ResultFile};
use std::fmt::Write;

fn metric<'a>(r: &'a ResultFile, name: &str) -> Option<&'a MetricResult> {
    r.metrics.get(name)
}

fn sum(r: &ResultFile, name: &str) -> Option<f64> {
    metric(r, name).map(|m| m.sum)
}

fn cell(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

/// Draws grouped bars: (title, [(group, store, value)]) -> SVG.
pub type Chart<'a> = &'a dyn Fn(&str, &[(String, String, f64)]) -> String;

/// One row of the section: a pipeline run's figures.
pub struct Row {
    pub store: String,
    pub rate: f64,
    pub produced: Option<f64>,
    pub all_visible: Option<f64>,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
    pub markers: Option<f64>,
    pub unseen: Option<f64>,
    pub newest_age_max: Option<f64>,
    pub checkpoint_ms_max: Option<f64>,
    pub exit_code: u8,
}

pub fn row(r: &ResultFile) -> Row {
    let f = metric(r, "pipeline_freshness_ms").and_then(|m| m.values.as_ref());
    let gauge_max = |n: &str| metric(r, n).and_then(|m| m.gauge.as_ref()).map(|g| g.max);
    let markers = sum(r, "pipeline_markers_produced");
    Row {
        store: r.tags.get("store").cloned().unwrap_or_default(),
        rate: r
            .tags
            .get("rate")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
        produced: sum(r, "pipeline_rows_produced"),
        all_visible: metric(r, "pipeline_all_rows_visible").and_then(|m| m.rate),
        p50: f.map(|s| s.p50),
        p99: f.map(|s| s.p99),
        max: f.map(|s| s.max),
        markers,
        unseen: markers.map(|m| m - sum(r, "pipeline_markers_seen").unwrap_or(0.0)),
        newest_age_max: gauge_max("pipeline_newest_visible_age_ms"),
        checkpoint_ms_max: gauge_max("flink.checkpoint_ms"),
        exit_code: r.exit_code,
    }
}

/// The section's HTML; `chart` draws grouped bars (group, store, value) on a log axis.
pub fn section(h: &mut String, runs: &[&ResultFile], chart: Chart) {
    h.push_str("<h2>Freshness through the ingest pipeline (Kafka -> Flink -> store)</h2>\n");
    if runs.is_empty() {
        h.push_str(
            "<p>No pipeline runs given (scripts/ingest/pipeline.sh writes them; pass its pipeline-*.json \
             to <code>loadgen report --evaluation</code>).</p>\n",
        );
        return;
    }
    let rows: Vec<Row> = runs.iter().map(|r| row(r)).collect();
    table(h, &rows, chart);
    // The settings behind each floor, as the runs recorded them (run tags of scripts/ingest/pipeline.sh).
    let keys = ["checkpoint_ms", "batch", "flush_ms", "refresh"];
    let settings: Vec<String> = runs
        .first()
        .map(|r| {
            keys.iter()
                .filter_map(|k| r.tags.get(*k).map(|v| format!("{k} {v}")))
                .collect()
        })
        .unwrap_or_default();
    let _ = writeln!(
        h,
        "<p>Settings: {}. What sets each floor: Elasticsearch, the sink's bulk (<code>batch</code> documents \
         or <code>flush_ms</code>) and then the index refresh (<code>refresh</code>); Phoenix, the JDBC \
         sink's batch (<code>batch</code> rows or <code>flush_ms</code>, auto-commit); Hive, a completed \
         Flink checkpoint (every <code>checkpoint_ms</code>), when the file sink's hidden in-progress file \
         becomes a part file in the partition of its hour. docs/ingest.md has the commands.</p>",
        if settings.len() == keys.len() {
            esc(&settings.join(", "))
        } else {
            "scripts/ingest/pipeline.lua's defaults (checkpoint_ms 1000, batch 1000, flush_ms 200, refresh 1s)"
                .to_string()
        }
    );
}

/// The table (rows by rate, then store) and the two charts.
fn table(h: &mut String, rows: &[Row], chart: Chart) {
    let mut rows: Vec<&Row> = rows.iter().collect();
    rows.sort_by(|a, b| a.rate.total_cmp(&b.rate).then(a.store.cmp(&b.store)));
    h.push_str(
        "<p>Records produced to Kafka at a fixed rate, carried by one Flink job per store into it; marker \
         records, two a second, carry their scheduled produce time, and a probe asks the store's query \
         path for them (Elasticsearch <code>_search</code>, Phoenix a row-key range scan, Hive a query on \
         the newest hourly partition) every 100 ms (Hive: 500 ms, or back to back when a probe takes longer). \
         Freshness: from a marker's scheduled produce time to the end of the first probe that saw it \
         (resolution: one probe period plus one probe). Newest visible age: now minus the newest marker a \
         probe saw, its maximum over the run.</p>\n<table><tr><th>store</th><th>records/s</th>\
         <th>produced</th><th>all visible</th><th>freshness p50 ms</th><th>p99</th><th>max</th>\
         <th>markers</th><th>never seen</th><th>newest visible age max ms</th><th>checkpoint ms max</th><th>exit</th></tr>\n",
    );
    for r in &rows {
        let bad = |c: bool| if c { " class=\"bad\"" } else { "" };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td{}>{}</td><td>{}</td><td>{}</td><td{}>{}</td></tr>",
            esc(&r.store),
            r.rate,
            cell(r.produced, 0),
            bad(r.all_visible != Some(1.0)),
            match r.all_visible {
                Some(1.0) => "yes".to_string(),
                Some(_) => "no".to_string(),
                None => "-".to_string(),
            },
            cell(r.p50, 0),
            cell(r.p99, 0),
            cell(r.max, 0),
            cell(r.markers, 0),
            bad(r.unseen.is_some_and(|u| u > 0.0)),
            cell(r.unseen, 0),
            cell(r.newest_age_max, 0),
            cell(r.checkpoint_ms_max, 0),
            bad(r.exit_code != 0),
            r.exit_code
        );
    }
    h.push_str("</table>\n<div class=\"charts\">");
    for (what, pick) in [
        (
            "freshness p50 (ms, log)",
            (|r: &Row| r.p50) as fn(&Row) -> Option<f64>,
        ),
        ("freshness p99 (ms, log)", |r: &Row| r.p99),
    ] {
        let bars: Vec<(String, String, f64)> = rows
            .iter()
            .filter_map(|r| pick(r).map(|v| (format!("{} records/s", r.rate), r.store.clone(), v)))
            .collect();
        h.push_str(&chart(what, &bars));
    }
    h.push_str("</div>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(store: &str, rate: f64, markers: f64, unseen: f64) -> Row {
        Row {
            store: store.into(),
            rate,
            produced: Some(30000.0),
            all_visible: Some(1.0),
            p50: Some(1200.0),
            p99: Some(2100.0),
            max: Some(2300.0),
            markers: Some(markers),
            unseen: Some(unseen),
            newest_age_max: Some(2400.0),
            checkpoint_ms_max: Some(80.0),
            exit_code: 0,
        }
    }

    #[test]
    fn rows_go_by_rate_then_store_and_unseen_markers_are_marked() {
        let mut h = String::new();
        table(
            &mut h,
            &[
                sample("phoenix", 2000.0, 120.0, 0.0),
                sample("hive", 500.0, 120.0, 3.0),
                sample("elasticsearch", 500.0, 120.0, 0.0),
            ],
            &|t, bars| format!("<svg>{t}:{}</svg>", bars.len()),
        );
        let es = h
            .find("<td>elasticsearch</td><td>500</td>")
            .expect("es row");
        let hive = h.find("<td>hive</td><td>500</td>").expect("hive row");
        let ph = h
            .find("<td>phoenix</td><td>2000</td>")
            .expect("phoenix row");
        assert!(es < hive && hive < ph, "{h}");
        assert!(h.contains("<td class=\"bad\">3</td>"), "{h}");
        assert!(h.contains("<svg>freshness p50 (ms, log):3</svg>"), "{h}");
    }
}

//! `loadgen merge`: results of several instances of one plan, combined exactly through their
//! histograms; counters summed; thresholds re-evaluated on the merged metrics.

use super::outcome::Status;
use super::schema::{ResultFile, SCHEMA_VERSION};
use crate::metrics::thresholds::{self, Expression};
use crate::metrics::thresholds::{parse_metric_selector, ThresholdRule, ThresholdSpec};
use anyhow::{anyhow, bail};
use std::time::Duration;

pub fn merge(files: &[(String, ResultFile)]) -> anyhow::Result<ResultFile> {
    let Some((_, first)) = files.first() else {
        bail!("merge needs at least one result file");
    };
    for (path, f) in files {
        if f.script.sha256 != first.script.sha256 {
            bail!(
                "{path}: ran a different script ({}) than {} ({}); merge combines instances of one plan",
                f.script.path,
                files[0].0,
                first.script.path
            );
        }
    }
    let mut store = first.store().map_err(|e| anyhow!("{}: {e}", files[0].0))?;
    for (path, f) in &files[1..] {
        store.merge_store(&f.store().map_err(|e| anyhow!("{path}: {e}"))?);
    }
    // Instances run side by side: the merged run spans the longest of them.
    let secs = files.iter().map(|(_, f)| f.duration_s).fold(0.0, f64::max);
    let (metrics, series_totals, series) = ResultFile::from_store(&store, secs);

    // Thresholds: the same rules as the first file, on the merged metrics.
    let mut specs: Vec<ThresholdSpec> = Vec::new();
    for t in &first.thresholds {
        let (metric, tags) = parse_metric_selector(&t.metric).map_err(|e| anyhow!(e))?;
        let rule = ThresholdRule {
            expression: Expression::parse(&t.threshold).map_err(|e| anyhow!(e))?,
            source: t.threshold.clone(),
            abort_on_fail: t.abort_on_fail,
            delay_abort_eval: Duration::ZERO,
        };
        match specs.iter_mut().find(|s| s.key == t.metric) {
            Some(s) => s.rules.push(rule),
            None => specs.push(ThresholdSpec {
                key: t.metric.clone(),
                metric,
                tags,
                rules: vec![rule],
            }),
        }
    }
    let outcomes = thresholds::evaluate(&specs, &store, secs);

    let mut scenarios = first.scenarios.clone();
    for (_, f) in &files[1..] {
        for s in &f.scenarios {
            match scenarios.iter_mut().find(|x| x.name == s.name) {
                Some(x) => x.merge(s),
                None => scenarios.push(s.clone()),
            }
        }
    }
    // The worst status wins: failed > aborted > interrupted > completed.
    let rank = |s: Status| match s {
        Status::Completed => 0,
        Status::Interrupted => 1,
        Status::Aborted => 2,
        Status::Failed => 3,
    };
    let worst = files
        .iter()
        .map(|(_, f)| f.status)
        .max_by_key(|s| rank(*s))
        .unwrap_or(Status::Completed);
    let mut warnings = Vec::new();
    let mut failures = Vec::new();
    for (path, f) in files {
        for w in &f.warnings {
            warnings.push(format!("{path}: {w}"));
        }
        if let Some(fl) = &f.failure {
            failures.push(format!("{path}: {fl}"));
        }
    }
    let mut script_errors = store.script_errors.clone();
    script_errors.retain(|_, n| *n > 0);
    let mut generator = first.generator.clone();
    generator.workers = files.iter().map(|(_, f)| f.generator.workers).sum();
    generator.cpu_seconds = files.iter().map(|(_, f)| f.generator.cpu_seconds).sum();
    generator.peak_rss_bytes = files
        .iter()
        .map(|(_, f)| f.generator.peak_rss_bytes)
        .max()
        .unwrap_or(0);
    generator.cpu_share = files
        .iter()
        .map(|(_, f)| f.generator.cpu_share)
        .fold(0.0, f64::max);

    // A run that did not complete keeps the worst of its files' exit codes; for a completed one
    // the caller (the CLI, which owns exit codes) sets the code its thresholds ask for.
    let exit_code = if worst != Status::Completed {
        files.iter().map(|(_, f)| f.exit_code).max().unwrap_or(0)
    } else {
        0
    };
    Ok(ResultFile {
        schema_version: SCHEMA_VERSION,
        loadgen_version: env!("CARGO_PKG_VERSION").to_string(),
        run_id: super::schema::run_id(),
        script: first.script.clone(),
        status: worst,
        exit_code,
        failure: (!failures.is_empty()).then(|| failures.join("; ")),
        start: files
            .iter()
            .map(|(_, f)| f.start.clone())
            .min()
            .unwrap_or_default(),
        end: files
            .iter()
            .map(|(_, f)| f.end.clone())
            .max()
            .unwrap_or_default(),
        duration_s: secs,
        host: first.host.clone(),
        tags: first.tags.clone(),
        seed: first.seed,
        merged_from: files.iter().map(|(p, _)| p.clone()).collect(),
        scenarios,
        metrics,
        series_totals,
        series,
        thresholds: outcomes,
        script_errors,
        generator,
        warnings,
    })
}

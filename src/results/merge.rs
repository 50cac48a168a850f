//! `loadgen merge`: results of several instances of one plan, combined exactly through their
//! histograms; counters summed; thresholds re-evaluated on the merged metrics.

use super::outcome::Status;
use super::schema::{ResultFile, SCHEMA_VERSION};
use crate::metrics::thresholds::{self, Expression};
use crate::metrics::thresholds::{parse_metric_selector, ThresholdRule, ThresholdSpec};
use anyhow::{anyhow, bail};
use std::time::Duration;

/// Merges the files; what it has to say besides (instances missing) is in the result's warnings.
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
    // One run's file given twice (or a copy of it) would count that run twice.
    for (i, (path, f)) in files.iter().enumerate() {
        if f.run_id.is_empty() {
            continue;
        }
        if let Some((other, _)) = files[..i].iter().find(|(_, g)| g.run_id == f.run_id) {
            bail!(
                "{other} and {path} are the same run (run_id {}): each run's result may be merged \
                 once",
                f.run_id
            );
        }
    }
    // Files older than the plan hash are compared by their script alone (above); once one file has
    // a hash, every file must have the same one (a file without one could be any plan).
    if let Some((ref_path, reference)) = files.iter().find(|(_, f)| f.plan_hash.is_some()) {
        let want = reference.plan_hash.as_deref().unwrap_or_default();
        for (path, f) in files {
            match f.plan_hash.as_deref() {
                Some(h) if h == want => {}
                Some(h) => bail!(
                    "{path} and {ref_path}: different plans (plan_hash {} and {}): the same script \
                     with other options or command-line overrides (--vus, --duration, \
                     --iterations, --rate, --tag, --seed); merge combines instances of one plan",
                    short(h),
                    short(want)
                ),
                None => bail!(
                    "{path} has no plan_hash (written by an older loadgen, or by a run that failed \
                     before its plan was known) and {ref_path} has one: merge cannot check they \
                     are one plan; leave {path} out"
                ),
            }
        }
    }
    let mut warnings = instances(files)?;
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
        instance: None,
        plan_hash: first.plan_hash.clone(),
        start_skew_ms: files
            .iter()
            .filter_map(|(_, f)| f.start_skew_ms)
            .max_by(f64::total_cmp),
    })
}

/// The parts of a distributed run (`--instance I/N`): all files are parts of one count or none
/// is, no part twice; a part missing is a warning (the merged numbers are then those of the parts
/// present, not of the plan).
fn instances(files: &[(String, ResultFile)]) -> anyhow::Result<Vec<String>> {
    let parts: Vec<_> = files
        .iter()
        .filter_map(|(p, f)| f.instance.map(|i| (p, i)))
        .collect();
    let Some((first_path, first)) = parts.first() else {
        return Ok(Vec::new());
    };
    if let Some((path, _)) = files.iter().find(|(_, f)| f.instance.is_none()) {
        bail!(
            "{path} is a run of one process, {first_path} is instance {}/{} of a distributed \
             run: merge combines the parts of one run",
            first.index,
            first.count
        );
    }
    if first.count > MAX_INSTANCES {
        bail!(
            "{first_path}: instance count {} is more than {MAX_INSTANCES}",
            first.count
        );
    }
    let mut seen: Vec<Option<&String>> = vec![None; first.count as usize + 1];
    for (path, i) in &parts {
        if i.index == 0 || i.index > i.count {
            bail!(
                "{path}: instance {}/{} is not a part of a run",
                i.index,
                i.count
            );
        }
        if i.count != first.count {
            bail!(
                "{path} is instance {}/{}, {first_path} instance {}/{}: parts of runs with \
                 different instance counts",
                i.index,
                i.count,
                first.index,
                first.count
            );
        }
        let slot = &mut seen[i.index as usize];
        if let Some(other) = slot {
            bail!(
                "{other} and {path} are both instance {}/{}: each part of a run may be merged once",
                i.index,
                i.count
            );
        }
        *slot = Some(path);
    }
    let missing: Vec<String> = (1..=first.count)
        .filter(|k| seen[*k as usize].is_none())
        .map(|k| format!("{k}/{}", first.count))
        .collect();
    let mut warnings = Vec::new();
    if !missing.is_empty() {
        let w = format!(
            "instance(s) {} missing: the merged result covers {} of {} parts of the plan",
            missing.join(", "),
            parts.len(),
            first.count
        );
        warnings.push(w);
    }
    Ok(warnings)
}

/// The most instances a merge accepts (a count read from a file sizes a table).
const MAX_INSTANCES: u64 = 100_000;

/// The first 12 characters of a hash, for messages (whatever the file holds).
fn short(h: &str) -> String {
    h.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::outcome::RunOutcome;
    use crate::results::schema::{InstanceInfo, RunInfo};

    fn part(index: u64, count: u64, plan: &str) -> (String, ResultFile) {
        let mut outcome = RunOutcome::not_started(
            crate::results::outcome::FailureKind::Script,
            String::new(),
            1,
        );
        outcome.failure = None;
        outcome.status = Status::Completed;
        let info = RunInfo {
            script_path: "s.lua".into(),
            script_sha256: "0".repeat(64),
            tags: Default::default(),
            seed: 1,
            exit_code: 0,
            instance: None,
            plan_hash: Some(plan.repeat(64)),
        };
        let mut f = ResultFile::new(&outcome, info);
        f.instance = (count > 1).then_some(InstanceInfo { index, count });
        (format!("part{index}.json"), f)
    }

    #[test]
    fn parts_of_one_run_merge_and_a_missing_one_is_named() {
        let m = merge(&[part(1, 3, "a"), part(3, 3, "a")]).unwrap();
        assert_eq!(m.instance, None);
        assert_eq!(m.plan_hash.as_deref(), Some("a".repeat(64).as_str()));
        assert!(
            m.warnings
                .iter()
                .any(|w| w.starts_with("instance(s) 2/3 missing")),
            "{:?}",
            m.warnings
        );
        assert!(merge(&[part(1, 2, "a"), part(2, 2, "a")])
            .unwrap()
            .warnings
            .is_empty());
    }

    #[test]
    fn other_plans_duplicates_and_mixed_counts_are_refused_naming_the_files() {
        let e = merge(&[part(1, 2, "a"), part(2, 2, "b")])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("part2.json and part1.json: different plans"),
            "{e}"
        );
        let e = merge(&[part(1, 2, "a"), part(1, 2, "a")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("are both instance 1/2"), "{e}");
        let e = merge(&[part(1, 2, "a"), part(2, 3, "a")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("different instance counts"), "{e}");
        let e = merge(&[part(1, 2, "a"), part(1, 1, "a")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a run of one process"), "{e}");
        // Two runs of one process (no instance) still merge, as before.
        assert!(merge(&[part(1, 1, "a"), part(1, 1, "a")]).is_ok());
        // One run's file twice (or its copy) does not: it would count that run twice.
        let one = part(1, 1, "a");
        let mut copy = one.clone();
        copy.0 = "copy.json".into();
        let e = merge(&[one, part(1, 1, "a"), copy])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("part1.json and copy.json are the same run (run_id "),
            "{e}"
        );
    }

    #[test]
    fn a_file_without_a_plan_hash_does_not_let_other_plans_through() {
        let mut old = part(1, 3, "a");
        old.1.plan_hash = None;
        // The first file has no hash: the others are still compared with each other.
        let e = merge(&[old.clone(), part(2, 3, "a"), part(3, 3, "b")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("has no plan_hash"), "{e}");
        let e = merge(&[part(2, 3, "a"), old, part(3, 3, "a")])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("part1.json has no plan_hash") && e.contains("and part2.json has one"),
            "{e}"
        );
        // A hash that is not hex text is shown, not sliced.
        let e = merge(&[part(1, 2, "a"), part(2, 2, "é")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("different plans"), "{e}");
    }
}

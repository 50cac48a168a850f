//! Issue 13: one plan run by N = 1, 2 and 4 local `loadgen run --instance I/N` processes started
//! together (`--start-at`), then `loadgen merge`: the targets' tallies equal the plan for every N,
//! the merged counts equal the one-process run's, `loadgen.gen` keys never repeat across instances
//! (and per VU are the ones one process makes), `setup()` runs in each instance, and a threshold
//! crossed only by the sum of the instances fails the merge (exit 99). Merge refuses parts of
//! other plans and a part given twice.

mod common;

use common::{bin, code, server, stderr, Server};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

/// Three scenarios, each against its own counting server: shared-iterations (203, not a multiple
/// of 2 or 4), per-vu-iterations (4 VUs x 7) and constant-arrival-rate (100/s for 2 s = 200). Each
/// iteration sends a `loadgen.gen` uuid and writes it to a file of its VU. The threshold on the
/// shared iterations holds for every part of 2 or 4 (about 102 or 51 requests) but not for the
/// whole (203).
const SCRIPT: &str = r#"
local lg = require('loadgen')
local http = require('loadgen.http')
local gen = require('loadgen.gen')
local dir = lg.env('DIR')
options = {
  scenarios = {
    si = { executor = 'shared-iterations', vus = 4, iterations = 203, exec = 'si' },
    pv = { executor = 'per-vu-iterations', vus = 4, iterations = 7, exec = 'pv' },
    car = { executor = 'constant-arrival-rate', rate = 100, duration = '2s',
            pre_allocated_vus = 4, max_vus = 8, exec = 'car' },
  },
  thresholds = { ['http.request{scenario:si}'] = { 'count < 150' } },
}
local keys
local function key(kind)
  if not keys then
    keys = io.open(string.format('%s/keys-%d.txt', dir, lg.vu()), 'a')
  end
  local k = gen.uuid()
  keys:write(kind, ' ', k, '\n')
  keys:flush()
  return k
end
function setup()
  local me = lg.instance()
  local f = io.open(dir .. '/setup.txt', 'a')
  f:write(me.index, '/', me.count, '\n')
  f:close()
end
function si() http.get(lg.env('SI') .. '?k=' .. key('si')) end
function pv() http.get(lg.env('PV') .. '?k=' .. key('pv')) end
function car() http.get(lg.env('CAR') .. '?k=' .. key('car')) end
"#;

const PLAN: [(&str, u64); 3] = [("si", 203), ("pv", 28), ("car", 200)];

fn read(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn merge(files: &[PathBuf], out: &Path) -> Output {
    Command::new(bin())
        .arg("merge")
        .args(files)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap()
}

/// The scenario's iterations in a result file.
fn iterations(r: &serde_json::Value, name: &str) -> u64 {
    r["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .map(|s| s["iterations"].as_u64().unwrap())
        .unwrap_or(0)
}

/// What one run of the plan by `n` instances left.
struct Outcome {
    merged: serde_json::Value,
    parts: Vec<serde_json::Value>,
    part_paths: Vec<PathBuf>,
    /// Key lines (`kind uuid`) per VU id.
    keys: BTreeMap<u64, Vec<String>>,
}

/// Runs `n` instances of the plan, started together, against three fresh counting servers; checks
/// the servers' tallies, the parts and the merge.
fn run_instances(n: u64, dir: &Path, seed: Option<u64>) -> Outcome {
    let script = dir.join("script.lua");
    std::fs::write(&script, SCRIPT).unwrap();
    let servers: Vec<Server> = PLAN.iter().map(|_| server()).collect();
    // (ahead enough for 4 processes to load and init on 2 busy cores)
    let start_at = humantime::format_rfc3339_millis(SystemTime::now() + Duration::from_secs(10));
    let children: Vec<_> = (1..=n)
        .map(|i| {
            let mut c = Command::new(bin());
            c.arg("run").arg(&script).arg("--quiet");
            if let Some(s) = seed {
                c.arg("--seed").arg(s.to_string());
            }
            c.arg("--instance")
                .arg(format!("{i}/{n}"))
                .arg("--start-at")
                .arg(start_at.to_string())
                // Instances may differ in threads: the split does not depend on it.
                .arg("--workers")
                .arg((1 + i % 2).to_string())
                .arg("--out")
                .arg(dir.join(format!("part{i}.json")))
                .arg("-e")
                .arg(format!("DIR={}", dir.display()));
            for ((name, _), srv) in PLAN.iter().zip(&servers) {
                c.arg("-e")
                    .arg(format!("{}={}", name.to_uppercase(), srv.url("/")));
            }
            c.spawn().unwrap()
        })
        .collect();
    let mut part_paths = Vec::new();
    let mut parts: Vec<serde_json::Value> = Vec::new();
    for (i, child) in (1..=n).zip(children) {
        let o = child.wait_with_output().unwrap();
        // Alone, one process crosses the threshold (203 >= 150); a part of 2 or 4 does not.
        let want = if n == 1 { 99 } else { 0 };
        assert_eq!(code(&o), want, "instance {i}/{n}: {}", stderr(&o));
        let p = dir.join(format!("part{i}.json"));
        let r = read(&p);
        common::assert_valid(&r);
        if n > 1 {
            assert_eq!(r["instance"]["index"], i, "{}", r["instance"]);
            assert_eq!(r["instance"]["count"], n);
        } else {
            assert!(r.get("instance").is_none(), "one process: no instance");
        }
        let skew = r["start_skew_ms"].as_f64().expect("start_skew_ms");
        assert!(
            skew.abs() < 1000.0,
            "instance {i}/{n} started {skew} ms off"
        );
        match seed {
            Some(s) => assert_eq!(r["seed"], s),
            // Not given: taken from the plan hash and --start-at, the same in every instance.
            None => {
                if let Some(first) = parts.first() {
                    assert_eq!(r["seed"], first["seed"], "instance {i}/{n}'s seed");
                }
            }
        }
        parts.push(r);
        part_paths.push(p);
    }
    // The target's tally is the plan, for every N.
    for ((name, want), srv) in PLAN.iter().zip(&servers) {
        assert_eq!(srv.hits(), *want, "{name}: requests received with N = {n}");
    }
    let hash = &parts[0]["plan_hash"];
    assert!(parts.iter().all(|p| &p["plan_hash"] == hash));

    let merged_path = dir.join("merged.json");
    let o = merge(&part_paths, &merged_path);
    // The whole crosses the threshold whether or not a part did.
    assert_eq!(code(&o), 99, "merge of {n}: {}", stderr(&o));
    let merged = read(&merged_path);
    common::assert_valid(&merged);
    assert_eq!(merged["thresholds"][0]["ok"], false);
    assert_eq!(merged["exit_code"], 99);
    for (name, want) in PLAN {
        assert_eq!(
            iterations(&merged, name),
            want,
            "merged {name} with N = {n}"
        );
        let sum: u64 = parts.iter().map(|p| iterations(p, name)).sum();
        assert_eq!(sum, want, "{name}: the parts add up");
    }
    assert_eq!(merged["metrics"]["http.request"]["count"], 431);
    assert_eq!(merged["metrics"]["http.request"]["error_count"], 0);

    // setup() ran once in every instance, each seeing its own lg.instance().
    let setup: BTreeSet<String> = std::fs::read_to_string(dir.join("setup.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let want: BTreeSet<String> = (1..=n).map(|i| format!("{i}/{n}")).collect();
    assert_eq!(setup, want);

    let mut keys = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(vu) = name
            .strip_prefix("keys-")
            .and_then(|s| s.strip_suffix(".txt"))
        {
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            keys.insert(
                vu.parse().unwrap(),
                text.lines().map(String::from).collect(),
            );
        }
    }
    let all: Vec<&String> = keys.values().flatten().collect();
    let distinct: BTreeSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), 431, "one key per iteration");
    assert_eq!(distinct.len(), all.len(), "a key repeated with N = {n}");
    Outcome {
        merged,
        parts,
        part_paths,
        keys,
    }
}

fn latency(r: &serde_json::Value, q: &str) -> f64 {
    r["metrics"]["http.request"]["latency"][q].as_f64().unwrap()
}

#[test]
fn n_instances_together_run_the_plan_once_and_merge_exactly() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let one = run_instances(1, dirs[0].path(), Some(42));
    let mut runs = Vec::new();
    for (n, d) in [(2, &dirs[1]), (4, &dirs[2])] {
        runs.push((n, run_instances(n, d.path(), Some(42))));
    }
    // A merge of one file is that file: the percentiles are exactly the run's.
    for q in ["p50", "p99", "max"] {
        assert_eq!(latency(&one.merged, q), latency(&one.parts[0], q), "{q}");
    }
    for (n, run) in &runs {
        // Per VU, the keys are those one process makes: per-vu-iterations gives each VU the same
        // iterations whatever N, and VU ids (and so their random streams) are global.
        let pv = |k: &BTreeMap<u64, Vec<String>>| -> BTreeSet<String> {
            k.values()
                .flatten()
                .filter(|l| l.starts_with("pv "))
                .cloned()
                .collect()
        };
        assert_eq!(pv(&run.keys), pv(&one.keys), "per-vu keys with N = {n}");
        assert_eq!(pv(&run.keys).len(), 28);
        // Counts equal the one-process run's; the open model's rate too (100/s over 2 s, as
        // scheduled from each instance's t0).
        for m in ["http.request", "iterations"] {
            assert_eq!(
                run.merged["metrics"][m]["count"], one.merged["metrics"][m]["count"],
                "{m}"
            );
        }
        let car = |r: &serde_json::Value| -> f64 {
            r["series_totals"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| k.starts_with("http.request{") && k.contains("scenario:car"))
                .map(|(_, v)| v["throughput"].as_f64().unwrap())
                .sum()
        };
        let (m, o) = (car(&run.merged), car(&one.merged));
        assert!(
            (m - o).abs() <= 0.1 * o,
            "constant-arrival-rate: {m}/s merged, {o}/s in one process (N = {n})"
        );
        // Merged percentiles come from the parts' histograms added: each lies within the parts'
        // (to the histograms' 3 significant digits), min and max are exact.
        let parts = &run.parts;
        for q in ["p50", "p90", "p99"] {
            let m = latency(&run.merged, q);
            let lo = parts.iter().map(|p| latency(p, q)).fold(f64::MAX, f64::min);
            let hi = parts.iter().map(|p| latency(p, q)).fold(0.0, f64::max);
            assert!(
                m >= lo * 0.999 && m <= hi * 1.001,
                "{q} {m} not within {lo}..{hi} (N = {n})"
            );
        }
        let max = parts.iter().map(|p| latency(p, "max")).fold(0.0, f64::max);
        let min = parts
            .iter()
            .map(|p| latency(p, "min"))
            .fold(f64::MAX, f64::min);
        assert_eq!(latency(&run.merged, "max"), max);
        assert_eq!(latency(&run.merged, "min"), min);
    }

    // Merge refuses a part given twice (here a copy: the same run), and parts of another plan,
    // naming the files.
    let (_, four) = &runs[1];
    let twice = dirs[2].path().join("part1-again.json");
    std::fs::copy(&four.part_paths[0], &twice).unwrap();
    let out = dirs[2].path().join("refused.json");
    let mut files = four.part_paths.clone();
    files.push(twice.clone());
    let o = merge(&files, &out);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("part1.json and") && stderr(&o).contains("are the same run (run_id "),
        "{}",
        stderr(&o)
    );
    let (_, two) = &runs[0];
    let o = merge(
        &[two.part_paths[0].clone(), four.part_paths[1].clone()],
        &out,
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("different instance counts"),
        "{}",
        stderr(&o)
    );
    // Another plan: the same script and instance, one override more (a tag).
    let other = dirs[1].path().join("other.json");
    let servers: Vec<Server> = PLAN.iter().map(|_| server()).collect();
    let mut c = Command::new(bin());
    c.arg("run")
        .arg(dirs[1].path().join("script.lua"))
        .args([
            "--quiet",
            "--seed",
            "42",
            "--instance",
            "2/2",
            "--tag",
            "x=y",
            "--out",
        ])
        .arg(&other)
        .arg("-e")
        .arg(format!("DIR={}", dirs[1].path().join("other").display()));
    std::fs::create_dir(dirs[1].path().join("other")).unwrap();
    for ((name, _), srv) in PLAN.iter().zip(&servers) {
        c.arg("-e")
            .arg(format!("{}={}", name.to_uppercase(), srv.url("/")));
    }
    let o = c.output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_ne!(read(&other)["plan_hash"], two.parts[1]["plan_hash"]);
    let o = merge(&[two.part_paths[0].clone(), other.clone()], &out);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("other.json and") && stderr(&o).contains("different plans"),
        "{}",
        stderr(&o)
    );
    // Parts missing: merged, with a warning that names them (two quarters stay under the threshold).
    let o = merge(&four.part_paths[..2], &out);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let partial = read(&out);
    assert!(
        partial["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .starts_with("instance(s) 3/4, 4/4 missing")),
        "{}",
        partial["warnings"]
    );
}

/// The flags' own errors: exit 2, naming the flag and the problem.
#[test]
fn instance_and_start_at_are_checked_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.lua");
    std::fs::write(
        &script,
        "options = { vus = 2, duration = '1s' }\nfunction default() end\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(bin())
            .arg("run")
            .arg(&script)
            .arg("--quiet")
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&["--instance", "3/2"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("--instance '3/2': expected I/N with 1 <= I <= N"),
        "{}",
        stderr(&o)
    );
    let o = run(&["--start-at", "2020-01-01T00:00:00Z"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("in the past"), "{}", stderr(&o));
    let o = run(&["--start-at", "next tuesday"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("not an RFC 3339 time"),
        "{}",
        stderr(&o)
    );
    let ahead = humantime::format_rfc3339(SystemTime::now() + Duration::from_secs(25 * 3600));
    let o = run(&["--start-at", &ahead.to_string()]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("more than 24 h ahead"),
        "{}",
        stderr(&o)
    );
    let o = run(&["--instance", "1/3"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("scenario 'default': vus is 2, fewer than the 3 instances"),
        "{}",
        stderr(&o)
    );
}

/// Without `--seed`, the instances of one run agree on a seed (from the plan hash and `--start-at`)
/// and the next run of the same plan, another start time, draws other keys.
#[test]
fn without_a_seed_instances_agree_and_the_next_run_draws_other_keys() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = run_instances(2, dirs[0].path(), None);
    let b = run_instances(2, dirs[1].path(), None);
    let seed = |o: &Outcome| o.parts[0]["seed"].as_u64().unwrap();
    assert_ne!(seed(&a), seed(&b), "two runs, two seeds");
    let keys = |o: &Outcome| -> BTreeSet<String> {
        o.keys
            .values()
            .flatten()
            .map(|l| l.split(' ').nth(1).unwrap().to_string())
            .collect()
    };
    assert!(
        keys(&a).is_disjoint(&keys(&b)),
        "the second run repeated keys of the first"
    );
}

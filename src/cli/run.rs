//! `loadgen run` and the script loading shared with `loadgen check`.

use super::exit::{ExitCode, Failure};
use super::plan_id::{distributed_seed, plan_hash};
use crate::metrics::Recorder;
use crate::plan::{Overrides, RunPlan, ScriptSource};
use crate::results::outcome::{FailureKind, RunOutcome};
use crate::results::schema::{ResultFile, RunInfo};
use crate::script::{Shared, Vu, VuSpec};
use clap::Args;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct ScriptArgs {
    /// The Lua script.
    #[arg(value_parser = super::path_exists)]
    pub script: PathBuf,
    /// VUs (replaces the script's scenarios with one, as k6 does).
    #[arg(long, env = "LOADGEN_VUS")]
    pub vus: Option<u64>,
    /// Duration, e.g. 30s, 2m.
    #[arg(long, env = "LOADGEN_DURATION", value_parser = super::duration)]
    pub duration: Option<Duration>,
    /// Total iterations shared by the VUs.
    #[arg(long, env = "LOADGEN_ITERATIONS")]
    pub iterations: Option<u64>,
    /// Iterations per second (an open-model constant-arrival-rate scenario).
    #[arg(long, env = "LOADGEN_RATE")]
    pub rate: Option<f64>,
    /// Script environment: lg.env("KEY").
    #[arg(short = 'e', long = "env", value_parser = super::key_value)]
    pub env: Vec<(String, String)>,
    /// Tags for the whole run.
    #[arg(long = "tag", value_parser = super::key_value)]
    pub tags: Vec<(String, String)>,
    /// Seed of loadgen.gen's random source (repeatable data).
    #[arg(long, env = "LOADGEN_SEED")]
    pub seed: Option<u64>,
    /// Worker threads (default: one per core).
    #[arg(long, env = "LOADGEN_WORKERS")]
    pub workers: Option<usize>,
    /// Run part I of N of the plan (1-based): N processes with 1/N .. N/N together run it once
    /// (docs/distributed.md).
    #[arg(long, env = "LOADGEN_INSTANCE", value_parser = crate::plan::Instance::parse)]
    pub instance: Option<crate::plan::Instance>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub script: ScriptArgs,
    /// Result file (default: results/runs/<script>-<UTC time>.json).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// No live progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Start the load at this RFC 3339 time (after setup and the VUs' init), e.g. the same
    /// moment for every instance of a distributed run.
    #[arg(long, env = "LOADGEN_START_AT", value_parser = super::start_at)]
    pub start_at: Option<std::time::SystemTime>,
    /// Serve a live dashboard of the run: `--dashboard` (127.0.0.1, a free port, printed at the
    /// start) or `--dashboard=ADDR:PORT`.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, require_equals = true, default_missing_value = "127.0.0.1:0")]
    pub dashboard: Option<String>,
    /// With --dashboard: keep serving the final page (summary, result file, report) this long
    /// after the run ended, e.g. 5m; Ctrl-C ends it sooner. Default 0: loadgen exits when the run
    /// ends, as without a dashboard (open pages are still sent the final summary).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = super::duration, requires = "dashboard")]
    pub dashboard_linger: Duration,
    /// Send the run's metrics to a Prometheus remote-write endpoint while it runs
    /// (docs/prometheus.md).
    #[arg(long, value_name = "URL")]
    pub remote_write: Option<String>,
    /// Time between two remote-write pushes (at least 1s).
    #[arg(long, value_name = "DURATION", value_parser = super::duration, default_value = "5s")]
    pub remote_write_interval: Duration,
    /// Latency histograms for remote write: native, classic buckets, or native with classic
    /// buckets when the receiver refuses native ones.
    #[arg(long, value_enum, default_value = "auto")]
    pub remote_write_histograms: crate::live::remote_write::Histograms,
}

/// A loaded script: VU 0 (it read the options; it runs setup and teardown) and the plan.
pub struct Loaded {
    pub plan: RunPlan,
    pub shared: Arc<Shared>,
    pub vu0: Vu,
    pub recorder0: Rc<RefCell<Recorder>>,
    /// sha256 of the script and the resolved plan: what instances of one run share.
    pub plan_hash: String,
}

pub fn load(args: &ScriptArgs) -> Result<Loaded, Failure> {
    load_with(args, false)
}

/// Loads the script and reads its options in VU 0; `offline` (for `loadgen check`): the bindings
/// contact no server while doing so.
pub fn load_with(args: &ScriptArgs, offline: bool) -> Result<Loaded, Failure> {
    let path = &args.script;
    let source = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("cannot read script {}: {e}", path.display())))?;
    let hash = format!("{:x}", Sha256::digest(source.as_bytes()));
    let script = ScriptSource {
        path: path.clone(),
        source,
        hash,
    };
    let env: BTreeMap<String, String> = args.env.iter().cloned().collect();
    let shared = Shared::new(
        script,
        env,
        args.seed.unwrap_or(0),
        crate::bindings::MODULES,
    );
    if offline {
        shared.set_offline();
    }
    let instance = args.instance.unwrap_or_default();
    shared.set_run_instance(instance);
    let recorder0 = Rc::new(RefCell::new(Recorder::new()));
    let spec = VuSpec {
        vu_id: 0,
        scenario: "".into(),
        tags: Rc::new(BTreeMap::new()),
        env: Rc::new(BTreeMap::new()),
    };
    let vu0 = Vu::new(shared.clone(), spec, recorder0.clone()).map_err(|e| {
        if e.unreachable {
            Failure::new(ExitCode::Connect, anyhow::anyhow!("{}", e.message))
        } else {
            Failure::script(e)
        }
    })?;
    let options = vu0
        .options()
        .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    let overrides = Overrides {
        vus: args.vus,
        duration: args.duration,
        iterations: args.iterations,
        rate: args.rate,
        tags: args.tags.iter().cloned().collect(),
        seed: args.seed,
        workers: args.workers,
        instance,
    };
    let mut plan = crate::plan::build(&options, &overrides)
        .map_err(|e| Failure::usage(format!("{}: options: {e}", path.display())))?;
    let plan_hash = plan_hash(&shared.script.hash, &plan);
    if instance.count > 1 && !plan.seed_given {
        // Every instance must draw the same seed, or VU k's records would differ from one
        // instance count to another; the plan hash is what they all share.
        plan.seed = u64::from_str_radix(&plan_hash[..16], 16).expect("hex digits");
    }
    shared.set_seed(plan.seed);
    vu0.reseed();
    shared.set_limits(plan.vu_limits);
    vu0.set_memory_limit(plan.vu_limits.memory);
    for s in &plan.scenarios {
        if vu0.function(&s.exec).is_none() {
            return Err(Failure::script(format!(
                "{}: scenario '{}' runs function '{}', which the script does not define",
                path.display(),
                s.name,
                s.exec
            )));
        }
    }
    Ok(Loaded {
        plan,
        shared,
        vu0,
        recorder0,
        plan_hash,
    })
}

fn default_out(script: &Path) -> PathBuf {
    PathBuf::from("results")
        .join("runs")
        .join(format!("{}-{}.json", stem(script), stamp()))
}

/// Where the result goes when `--out` cannot be written at the end of a run:
/// `$TMPDIR/loadgen-<script>-<pid>-<UTC time>.json` (`/tmp` without `TMPDIR`).
fn fallback_out(script: &Path) -> PathBuf {
    std::env::temp_dir().join(format!(
        "loadgen-{}-{}-{}.json",
        stem(script),
        std::process::id(),
        stamp()
    ))
}

fn stem(script: &Path) -> String {
    script
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into())
}

/// The UTC time now, as 20261125-170435.
fn stamp() -> String {
    let now = crate::util::rfc3339(std::time::SystemTime::now());
    // 2026-11-25T17:04:35.123Z -> 20261125-170435
    let compact: String = now
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(14)
        .collect();
    format!(
        "{}-{}",
        &compact[..8.min(compact.len())],
        &compact[8.min(compact.len())..]
    )
}

/// The result as written, and where.
struct Saved {
    /// What was written (the fallback copy carries its warning), or what could not be.
    file: ResultFile,
    /// `--out`, the fallback, or None when neither could be written.
    path: Option<PathBuf>,
    /// Why the result is not at `--out` (exit 1), naming both paths.
    failure: Option<Failure>,
}

/// Writes the result to `out`. When that fails (a full disk, the folder gone or not writable), the
/// run's numbers are not lost: a copy goes to [`fallback_out`], with exit code 1 (the result is not
/// where the caller looks for it, whatever the run's own outcome) and a warning that names the
/// error and the run's own exit code.
fn save(out: &Path, file: ResultFile, script: &Path) -> Saved {
    let Err(e) = crate::results::write(out, &file) else {
        return Saved {
            file,
            path: Some(out.to_path_buf()),
            failure: None,
        };
    };
    let cause = format!(
        "the result could not be written to {}: {e:#}",
        out.display()
    );
    let fallback = fallback_out(script);
    let mut copy = file.clone();
    copy.exit_code = ExitCode::Failure.code();
    copy.warnings.push(format!(
        "{cause}; this copy was written to {} instead, and loadgen exited with 1 \
         (the run's own exit code was {})",
        fallback.display(),
        file.exit_code
    ));
    match crate::results::write(&fallback, &copy) {
        Ok(()) => Saved {
            file: copy,
            failure: Some(Failure::new(
                ExitCode::Failure,
                anyhow::anyhow!("{cause}; written to {} instead", fallback.display()),
            )),
            path: Some(fallback),
        },
        Err(e) => Saved {
            file,
            path: None,
            failure: Some(Failure::new(
                ExitCode::Failure,
                anyhow::anyhow!(
                    "{cause}; nor to {}: {e:#}; no result file was written",
                    fallback.display()
                ),
            )),
        },
    }
}

pub fn run(args: RunArgs) -> Result<ExitCode, Failure> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.script.script));
    crate::results::check_writable(&out).map_err(|e| Failure::new(ExitCode::Usage, e))?;
    let Loaded {
        mut plan,
        shared,
        vu0,
        recorder0,
        plan_hash,
    } = match load(&args.script) {
        Ok(l) => l,
        // The script or a server failed before any load: the result file still says so.
        Err(f) if matches!(f.code, ExitCode::Script | ExitCode::Connect) => {
            let kind = if f.code == ExitCode::Connect {
                FailureKind::Connect
            } else {
                FailureKind::Script
            };
            let outcome = RunOutcome::not_started(
                kind,
                format!("{:#}", f.error),
                args.script.workers.unwrap_or_else(crate::util::cores),
            );
            let source = std::fs::read(&args.script.script).unwrap_or_default();
            let info = RunInfo {
                script_path: args.script.script.display().to_string(),
                script_sha256: format!("{:x}", Sha256::digest(&source)),
                tags: args.script.tags.iter().cloned().collect(),
                seed: args.script.seed.unwrap_or(0),
                exit_code: f.code.code(),
                instance: args.script.instance.filter(|i| i.count > 1),
                plan_hash: None,
            };
            let saved = save(&out, ResultFile::new(&outcome, info), &args.script.script);
            return Err(match saved.failure {
                Some(lost) => {
                    eprintln!("error: {f}");
                    lost
                }
                None => f,
            });
        }
        Err(f) => return Err(f),
    };
    plan.start_at = args.start_at;
    if plan.instance.count > 1 && !plan.seed_given {
        if let Some(at) = args.start_at {
            // The plan hash alone would give every run of the plan the same seed, and so the same
            // keys (a second run's records would update the first's); `--start-at` is what the
            // instances of one run share and the next run does not.
            plan.seed = distributed_seed(&plan_hash, at);
            shared.set_seed(plan.seed);
            vu0.reseed();
        } else if !args.quiet {
            eprintln!(
                "warning: instance {} without --seed or --start-at: the seed comes from the plan \
                 hash alone, so every run of this plan draws the same loadgen.gen values (keys)",
                plan.instance
            );
        }
    }
    if plan.instance.count > 1 && !args.quiet {
        eprintln!(
            "instance {} of a distributed run: plan {}, loadgen.gen seed {}{}",
            plan.instance,
            &plan_hash[..12],
            plan.seed,
            if plan.seed_given {
                ""
            } else if args.start_at.is_some() {
                " (from the plan hash and --start-at: every instance draws the same)"
            } else {
                " (from the plan hash alone)"
            }
        );
    }
    let plan = Arc::new(plan);
    let run_id = crate::results::schema::run_id();
    let feed = (args.dashboard.is_some() || args.remote_write.is_some())
        .then(|| crate::live::Feed::new(&run_id));
    if feed.is_some() {
        shared.live.enable();
    }
    let dashboard = match (&args.dashboard, &feed) {
        (Some(addr), Some(feed)) => Some(
            crate::live::dashboard::start(addr, feed, args.quiet)
                .map_err(|e| Failure::usage(format!("--dashboard={addr}: {e:#}")))?,
        ),
        _ => None,
    };
    let remote_write = match (&args.remote_write, &feed) {
        (Some(url), Some(feed)) => {
            let options = crate::live::remote_write::Options {
                interval: args.remote_write_interval,
                histograms: args.remote_write_histograms,
            };
            Some(
                crate::live::remote_write::start(url, options, feed, &plan.tags).map_err(|e| {
                    let url = crate::util::shown_url(url);
                    Failure::usage(format!("--remote-write {url}: {e:#}"))
                })?,
            )
        }
        _ => None,
    };
    let outcome = crate::engine::run(
        plan.clone(),
        shared.clone(),
        vu0,
        recorder0,
        args.quiet,
        feed.clone(),
    );
    let code = match &outcome.failure {
        Some((kind, _)) => ExitCode::from(*kind),
        None if outcome.thresholds.iter().any(|t| !t.ok) => ExitCode::ThresholdsCrossed,
        None => ExitCode::Ok,
    };
    let info = RunInfo {
        script_path: args.script.script.display().to_string(),
        script_sha256: shared.script.hash.clone(),
        tags: plan.tags.clone(),
        seed: plan.seed,
        exit_code: code.code(),
        instance: Some(plan.instance).filter(|i| i.count > 1),
        plan_hash: Some(plan_hash),
    };
    let mut file = ResultFile::new(&outcome, info);
    file.run_id = run_id;
    if let Some(rw) = remote_write {
        rw.finish(&mut file);
    }
    let saved = save(&out, file, &args.script.script);
    if let Some(feed) = &feed {
        feed.send(crate::live::Event::End(Arc::new(crate::live::End {
            result: Arc::new(saved.file.clone()),
            path: saved.path.clone(),
        })));
    }
    let path = saved.path.as_ref().map(|p| p.display().to_string());
    print!(
        "{}",
        crate::results::summary::render(&saved.file, path.as_deref())
    );
    if let Some((_, msg)) = &outcome.failure {
        eprintln!("error: {msg}");
    }
    if let Some(d) = dashboard {
        d.finish(args.dashboard_linger);
    }
    match saved.failure {
        Some(f) => Err(f),
        None => Ok(code),
    }
}

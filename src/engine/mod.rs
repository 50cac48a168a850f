//! The engine: the coordinator (this thread) and the workers (one thread per core).
//!
//! The coordinator runs `setup`, starts the workers at a common t0, merges their snapshots once a
//! second, prints progress, watches thresholds that abort, handles Ctrl-C, then runs `teardown`.

pub mod executors;
pub mod progress;
pub mod schedule;
pub mod stop;
pub mod timer;
pub mod worker;

use crate::metrics::thresholds::{self, Outcome};
use crate::metrics::{MetricStore, Recorder, Summary};
use crate::plan::RunPlan;
use crate::results::outcome::{FailureKind, GeneratorReport, RunOutcome, ScenarioStats, Status};
use crate::script::{Phase, ScriptError, Shared, Vu};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use worker::{Msg, Worker};

/// Above this wake-up lateness (p99) the scheduler, not the target, is said to be the limit.
pub const LATENESS_BOUND_MS: f64 = 2.0;
/// Above this share of the machine's CPU, the generator may be the limit.
pub const CPU_BOUND: f64 = 0.9;

/// Runs the plan. `vu0` is the Lua state that read the options; it runs setup and teardown.
pub fn run(
    plan: Arc<RunPlan>,
    shared: Arc<Shared>,
    vu0: Vu,
    recorder0: Rc<RefCell<Recorder>>,
    quiet: bool,
) -> RunOutcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, coordinate(plan, shared, vu0, recorder0, quiet))
}

/// Stops the run at once: running iterations are cancelled, and Lua code that never yields (a loop
/// that never calls into loadgen) raises an error at its next instruction check.
fn hard_stop(stop_tx: &stop::StopSender, shared: &Shared) {
    shared.stop_lua();
    stop_tx.raise(stop::HARD);
}

async fn call_with_timeout(
    vu: &Vu,
    name: &str,
    phase: Phase,
    data: mlua::Value,
    timeout: Duration,
) -> Result<Option<mlua::Value>, ScriptError> {
    let Some(f) = vu.function(name) else {
        return Ok(None);
    };
    vu.set_phase(phase);
    vu.limit_until(
        std::time::Instant::now() + timeout,
        &format!("{name}_timeout ({})", crate::util::format_duration(timeout)),
    );
    let r = tokio::time::timeout(timeout, f.call_async::<mlua::Value>(data)).await;
    vu.unlimit();
    match r {
        Ok(Ok(v)) => Ok(Some(v)),
        Ok(Err(e)) => Err(ScriptError::new(phase, 0, &e)),
        Err(_) => Err(ScriptError {
            phase,
            vu: 0,
            unreachable: false,
            message: format!(
                "{name}() did not finish within {} ({name}_timeout)",
                crate::util::format_duration(timeout)
            ),
        }),
    }
}

/// The health stage: runs the bindings' health checks (blocking, each with its own runtime) on a
/// thread of their own, in the order init asked for them. The targets that passed and how long
/// each took; or the first failure, which names its server.
pub fn health(shared: &Shared) -> Result<Vec<(String, Duration)>, String> {
    let checks = shared.take_healthchecks();
    if checks.is_empty() {
        return Ok(Vec::new());
    }
    std::thread::spawn(move || {
        let mut passed = Vec::new();
        for (target, check) in checks {
            let start = std::time::Instant::now();
            check()?;
            passed.push((target, start.elapsed()));
        }
        Ok(passed)
    })
    .join()
    .unwrap_or_else(|_| Err("a server health check panicked".into()))
}

async fn coordinate(
    plan: Arc<RunPlan>,
    shared: Arc<Shared>,
    vu0: Vu,
    recorder0: Rc<RefCell<Recorder>>,
    quiet: bool,
) -> RunOutcome {
    let started = SystemTime::now();
    let mut out = RunOutcome {
        status: Status::Completed,
        failure: None,
        started,
        ended: started,
        elapsed: Duration::ZERO,
        store: MetricStore::default(),
        scenarios: Vec::new(),
        generator: GeneratorReport {
            workers: plan.workers,
            ..Default::default()
        },
        thresholds: Vec::new(),
        warnings: Vec::new(),
    };
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    let mut sigterm =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let cpu0 = crate::util::process_cpu_time();

    // Health: the servers VU 0's init named, each checked once before anything is sent.
    match health(&shared) {
        Ok(passed) if !quiet => {
            for (target, took) in passed {
                println!("health check {target}: ok in {} ms", took.as_millis());
            }
        }
        Ok(_) => {}
        Err(msg) => {
            out.status = Status::Failed;
            out.failure = Some((FailureKind::Connect, msg));
            return finish(out, &plan, &recorder0, Instant::now(), Instant::now(), cpu0);
        }
    }

    // setup()
    let setup = call_with_timeout(
        &vu0,
        "setup",
        Phase::Setup,
        mlua::Value::Nil,
        plan.setup_timeout,
    );
    let setup_value = tokio::select! {
        r = setup => r,
        _ = signal(&mut sigint, &mut sigterm) => {
            out.status = Status::Interrupted;
            out.failure = Some((FailureKind::Interrupted, "interrupted during setup()".into()));
            return finish(out, &plan, &recorder0, Instant::now(), Instant::now(), cpu0);
        }
    };
    let data = match setup_value {
        Ok(v) => match v.map(|v| crate::script::json::to_json(&v)).transpose() {
            Ok(j) => j.unwrap_or(serde_json::Value::Null),
            Err(e) => {
                out.status = Status::Failed;
                out.failure = Some((
                    FailureKind::Script,
                    format!("script error in setup: the returned data {e}"),
                ));
                return finish(out, &plan, &recorder0, Instant::now(), Instant::now(), cpu0);
            }
        },
        Err(e) => {
            out.status = Status::Failed;
            // A binding that could not reach or deploy to a server in setup() (a Flink job whose
            // submission failed) says so: exit 4, as for a server unreachable in init.
            let code = if e.unreachable {
                FailureKind::Connect
            } else {
                FailureKind::Script
            };
            out.failure = Some((code, e.to_string()));
            return finish(out, &plan, &recorder0, Instant::now(), Instant::now(), cpu0);
        }
    };
    let data = Arc::new(data);

    // Workers: initialise every VU, then start together.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (start_tx, start_rx) = watch::channel(None);
    let (stop_tx, stop_rx) = stop::channel();
    let claimed: Vec<Arc<AtomicU64>> = plan
        .scenarios
        .iter()
        .map(|_| Arc::new(AtomicU64::new(0)))
        .collect();
    let workers = plan.workers;
    let mut threads = Vec::new();
    for index in 0..workers {
        let w = Worker {
            index,
            workers,
            plan: plan.clone(),
            shared: shared.clone(),
            data: data.clone(),
            tx: tx.clone(),
            start: start_rx.clone(),
            stop: stop_rx.clone(),
            claimed: claimed.clone(),
        };
        match w.spawn() {
            Ok(t) => threads.push(t),
            Err(e) => {
                hard_stop(&stop_tx, &shared);
                out.status = Status::Failed;
                out.failure = Some((
                    FailureKind::Internal,
                    format!("cannot start a worker thread: {e}"),
                ));
                return finish(out, &plan, &recorder0, Instant::now(), Instant::now(), cpu0);
            }
        }
    }
    drop(tx);
    let mut ready = 0;
    while ready < workers {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Ready) => ready += 1,
                Some(Msg::InitFailed(e)) => {
                    hard_stop(&stop_tx, &shared);
                    out.status = Status::Failed;
                    out.failure = Some((FailureKind::Script, e.to_string()));
                    return finish(out, &plan, &recorder0, Instant::now(), Instant::now(), cpu0);
                }
                Some(_) => {}
                None => {
                    out.status = Status::Failed;
                    out.failure = Some((FailureKind::Internal, "a worker thread ended before the start".into()));
                    return finish(out, &plan, &recorder0, Instant::now(), Instant::now(), cpu0);
                }
            },
            _ = signal(&mut sigint, &mut sigterm) => {
                hard_stop(&stop_tx, &shared);
                out.status = Status::Interrupted;
                out.failure = Some((FailureKind::Interrupted, "interrupted while the VUs were initialised".into()));
                return finish(out, &plan, &recorder0, Instant::now(), Instant::now(), cpu0);
            }
        }
    }

    let t0 = Instant::now() + Duration::from_millis(5);
    // The wall-clock time of t0, for the result's start and the series' seconds.
    let t0_epoch = SystemTime::now() + Duration::from_millis(5);
    out.started = t0_epoch;
    let t0_sec = t0_epoch
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let _ = start_tx.send(Some(t0));

    let mut progress = progress::Progress::new(quiet, plan.scheduled_duration());
    let mut ticker = tokio::time::interval_at(t0 + Duration::from_secs(1), Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let safety = t0 + plan.max_duration() + Duration::from_secs(10);
    let mut done = 0;
    let mut interrupts = 0;
    let mut wake = crate::metrics::new_histogram();
    let mut stats: Vec<ScenarioStats> = plan
        .scenarios
        .iter()
        .map(|_| ScenarioStats::default())
        .collect();
    let mut hard_exit = false;
    let mut safety_hit = false;
    while done < workers {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Snapshot { second, snapshot }) => {
                    out.store.add(t0_sec + second as i64 - 1, snapshot);
                }
                Some(Msg::Done { stats: s, wake_lateness }) => {
                    done += 1;
                    for (total, part) in stats.iter_mut().zip(s.iter()) {
                        total.merge(part);
                    }
                    let _ = wake.add(&wake_lateness);
                }
                Some(_) => {}
                None => break,
            },
            _ = ticker.tick() => {
                let elapsed = t0.elapsed();
                progress.tick(elapsed, &out.store, stop_tx.level());
                if out.status == Status::Completed {
                    let outcomes = thresholds::evaluate(&plan.thresholds, &out.store, elapsed.as_secs_f64());
                    if let Some(bad) = abort_due(&plan, &outcomes, elapsed) {
                        out.status = Status::Aborted;
                        shared.request_abort(format!("threshold '{}' on {} crossed (abort_on_fail)", bad.threshold, bad.metric));
                    }
                }
                if shared.aborted() && stop_tx.level() < stop::HARD {
                    out.status = Status::Aborted;
                    hard_stop(&stop_tx, &shared);
                }
            }
            _ = signal(&mut sigint, &mut sigterm) => {
                interrupts += 1;
                if out.status == Status::Completed {
                    out.status = Status::Interrupted;
                }
                if interrupts == 1 {
                    // Lua that never yields is stopped once the longest graceful stop is over.
                    let grace = plan.scenarios.iter().map(|s| s.grace()).max().unwrap_or_default();
                    shared.stop_lua_at(std::time::Instant::now() + grace);
                    progress.note("stopping: running iterations may finish within graceful_stop; press Ctrl-C again to stop at once");
                    stop_tx.raise(stop::GRACEFUL);
                } else {
                    hard_stop(&stop_tx, &shared);
                    hard_exit = true;
                    break;
                }
            }
            _ = tokio::time::sleep_until(safety) => {
                safety_hit = true;
                hard_stop(&stop_tx, &shared);
                break;
            }
        }
    }
    let end = Instant::now();
    progress.finish();
    // Whatever arrived after the last message we waited for.
    while let Ok(msg) = rx.try_recv() {
        if let Msg::Snapshot { second, snapshot } = msg {
            out.store.add(t0_sec + second as i64 - 1, snapshot);
        }
    }
    if safety_hit {
        out.warnings.push(
            "workers did not stop within the plan's longest duration + 10 s; results are partial"
                .into(),
        );
    }
    let mut stuck_threads = false;
    if !hard_exit {
        // Workers that reported their end are joined (dropping their VUs closes sessions and
        // leaves consumer groups, which may take a while). One that never did (the safety margin
        // or an abort stopped the run) gets 10 s, then is left behind: the result is written
        // either way.
        let until = if done == workers {
            None
        } else {
            Some(Instant::now() + Duration::from_secs(10))
        };
        while threads.iter().any(|t| !t.is_finished()) && until.is_none_or(|u| Instant::now() < u) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (finished, stuck): (Vec<_>, Vec<_>) =
            threads.into_iter().partition(|t| t.is_finished());
        for t in finished {
            let _ = t.join();
        }
        if !stuck.is_empty() {
            stuck_threads = true;
            out.warnings.push(format!(
                "{} worker thread(s) did not stop; their last metrics may be missing",
                stuck.len()
            ));
        }
    }
    // teardown() may run Lua again, unless a worker could still be running some.
    if !hard_exit && !stuck_threads {
        shared.resume_lua();
    }
    for (s, plan_s) in stats.iter_mut().zip(&plan.scenarios) {
        if s.name.is_empty() {
            s.name = plan_s.name.clone();
            s.executor = plan_s.executor.name().to_string();
        }
    }
    out.scenarios = stats;
    if !wake.is_empty() {
        out.generator.scheduler_lateness = Some(Summary::of(&wake));
    }
    if out.status == Status::Aborted {
        out.failure = Some((
            FailureKind::Aborted,
            shared.abort_reason().unwrap_or_else(|| "aborted".into()),
        ));
    } else if out.status == Status::Interrupted {
        out.failure = Some((FailureKind::Interrupted, "interrupted".into()));
    }

    // teardown(data), unless the user asked to stop at once.
    if !hard_exit {
        let data_value = vu0.data(&data).unwrap_or(mlua::Value::Nil);
        let td = call_with_timeout(
            &vu0,
            "teardown",
            Phase::Teardown,
            data_value,
            plan.teardown_timeout,
        );
        let r = tokio::select! {
            r = td => r,
            _ = signal(&mut sigint, &mut sigterm) => {
                out.warnings.push("teardown() was interrupted".into());
                Ok(None)
            }
        };
        if let Err(e) = r {
            if out.failure.is_none() {
                out.status = Status::Failed;
                out.failure = Some((FailureKind::Script, e.to_string()));
            } else {
                out.warnings.push(e.to_string());
            }
        }
    } else {
        out.warnings.push("stopped at once by a second interrupt: teardown() did not run, the last second of metrics may be missing".into());
    }
    finish(out, &plan, &recorder0, t0, end, cpu0)
}

fn abort_due<'a>(
    plan: &RunPlan,
    outcomes: &'a [Outcome],
    elapsed: Duration,
) -> Option<&'a Outcome> {
    let mut i = 0;
    for spec in &plan.thresholds {
        for rule in &spec.rules {
            let o = &outcomes[i];
            i += 1;
            if rule.abort_on_fail
                && !o.ok
                && elapsed >= rule.delay_abort_eval
                && o.observed.is_some()
            {
                return Some(o);
            }
        }
    }
    None
}

/// Resolves on SIGINT or SIGTERM.
async fn signal(
    sigint: &mut Option<tokio::signal::unix::Signal>,
    sigterm: &mut Option<tokio::signal::unix::Signal>,
) {
    let int = async {
        match sigint {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    let term = async {
        match sigterm {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = int => {}
        _ = term => {}
    }
}

fn finish(
    mut out: RunOutcome,
    plan: &RunPlan,
    recorder0: &RefCell<Recorder>,
    t0: Instant,
    end: Instant,
    cpu0: Duration,
) -> RunOutcome {
    // VU 0 ran setup() and teardown(): their samples count in the totals, not in the load's seconds.
    out.store.add_totals(recorder0.borrow_mut().take());
    out.ended = SystemTime::now();
    out.elapsed = end.saturating_duration_since(t0);
    let secs = out.elapsed.as_secs_f64();
    out.thresholds = thresholds::evaluate(&plan.thresholds, &out.store, secs);
    let cpu = (crate::util::process_cpu_time().saturating_sub(cpu0)).as_secs_f64();
    out.generator.cpu_seconds = cpu;
    if secs >= crate::results::schema::MIN_RATE_SECONDS {
        out.generator.cpu_share = cpu / (secs * crate::util::cores() as f64);
    }
    out.generator.peak_rss_bytes = crate::util::peak_rss_bytes();
    if let Some(l) = out.generator.scheduler_lateness {
        if l.p99 > LATENESS_BOUND_MS {
            out.warnings.push(format!(
                "the scheduler woke up late: p99 {:.2} ms (bound {LATENESS_BOUND_MS} ms); the generator, not the target, may have been the limit",
                l.p99
            ));
        }
    }
    if out.generator.cpu_share > CPU_BOUND && secs >= 1.0 {
        out.warnings.push(format!(
            "loadgen used {:.0}% of the machine's CPU; the generator, not the target, may have been the limit",
            out.generator.cpu_share * 100.0
        ));
    }
    for s in &out.scenarios {
        if s.unstarted_iterations > 0 {
            out.warnings.push(format!(
                "scenario '{}': {} iterations were due but never started (all {} VUs busy); raise max_vus or the target is too slow",
                s.name, s.unstarted_iterations, s.vus_max
            ));
        }
    }
    if !out.store.script_errors.is_empty() {
        let n: u64 = out.store.script_errors.values().sum();
        out.warnings.push(format!(
            "{n} iterations raised a script error (see script_errors)"
        ));
    }
    for (msg, n) in &out.store.warnings {
        out.warnings.push(if *n == 1 {
            msg.clone()
        } else {
            format!("{msg} ({n} times)")
        });
    }
    out
}

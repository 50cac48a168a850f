//! The coordinator: the run as an explicit sequence of stages, Health -> Setup -> Init -> Load ->
//! Drain -> Teardown. A stage before the load either hands its result to the next or ends the run
//! with a [`Stop`]; every way out goes through [`finish`](super::finish::finish) once.

use super::load::{self, Load};
use crate::metrics::{MetricStore, Recorder};
use crate::plan::RunPlan;
use crate::results::outcome::{FailureKind, GeneratorReport, RunOutcome, Status};
use crate::script::{Phase, ScriptError, Shared, Vu};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// Why a stage ended the run before the load: the outcome's status, and the failure it reports.
pub struct Stop {
    pub status: Status,
    pub kind: FailureKind,
    pub message: String,
}

impl Stop {
    pub fn failed(kind: FailureKind, message: impl Into<String>) -> Stop {
        Stop {
            status: Status::Failed,
            kind,
            message: message.into(),
        }
    }

    pub fn interrupted(message: impl Into<String>) -> Stop {
        Stop {
            status: Status::Interrupted,
            kind: FailureKind::Interrupted,
            message: message.into(),
        }
    }
}

/// What every stage may use: the plan, the shared state, VU 0, signals and the outcome so far.
pub struct Run {
    pub plan: Arc<RunPlan>,
    pub shared: Arc<Shared>,
    pub vu0: Vu,
    pub quiet: bool,
    pub signals: Signals,
    pub out: RunOutcome,
    /// The live view's feed (`--dashboard`, `--remote-write`), if any.
    pub feed: Option<crate::live::Feed>,
    /// The process's CPU time when the run began: the base of `generator.cpu_seconds`, and of the
    /// live view's CPU figure, so that the two agree.
    pub cpu0: Duration,
}

pub async fn coordinate(
    plan: Arc<RunPlan>,
    shared: Arc<Shared>,
    vu0: Vu,
    recorder0: Rc<RefCell<Recorder>>,
    quiet: bool,
    feed: Option<crate::live::Feed>,
) -> RunOutcome {
    let cpu0 = crate::util::process_cpu_time();
    let started = SystemTime::now();
    let out = RunOutcome {
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
        start_skew_ms: None,
    };
    let mut run = Run {
        plan,
        shared,
        vu0,
        quiet,
        signals: Signals::new(),
        out,
        feed,
        cpu0,
    };
    let stages = async {
        health_stage(&run)?;
        let data = Arc::new(setup(&mut run).await?);
        let workers = load::init(&mut run, data.clone()).await?;
        let load = load::load(&mut run, workers).await?;
        let load = load::drain(&mut run, load).await;
        teardown(&mut run, &data, &load).await;
        Ok::<Load, Stop>(load)
    };
    let span = match stages.await {
        Ok(load) => (load.t0, load.end),
        Err(stop) => {
            run.out.status = stop.status;
            run.out.failure = Some((stop.kind, stop.message));
            (Instant::now(), Instant::now())
        }
    };
    super::finish::finish(run.out, &run.plan, &recorder0, span, cpu0)
}

/// Health: the servers VU 0's init named, each checked once before anything is sent.
fn health_stage(run: &Run) -> Result<(), Stop> {
    let passed = health(&run.shared).map_err(|msg| Stop::failed(FailureKind::Connect, msg))?;
    if !run.quiet {
        for (target, took) in passed {
            println!("health check {target}: ok in {} ms", took.as_millis());
        }
    }
    Ok(())
}

/// Runs the bindings' health checks (blocking, each with its own runtime) on a thread of their
/// own, in the order init asked for them. The targets that passed and how long each took; or the
/// first failure, which names its server.
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

/// Setup: `setup()` in VU 0; what it returns (as JSON) goes to every VU and to teardown.
async fn setup(run: &mut Run) -> Result<serde_json::Value, Stop> {
    let call = call_with_timeout(
        &run.vu0,
        "setup",
        Phase::Setup,
        mlua::Value::Nil,
        run.plan.setup_timeout,
    );
    let value = tokio::select! {
        r = call => r,
        _ = run.signals.next() => return Err(Stop::interrupted("interrupted during setup()")),
    };
    match value {
        Ok(v) => v
            .map(|v| crate::script::json::to_json(&v))
            .transpose()
            .map(|j| j.unwrap_or(serde_json::Value::Null))
            .map_err(|e| {
                Stop::failed(
                    FailureKind::Script,
                    format!("script error in setup: the returned data {e}"),
                )
            }),
        // A binding that could not reach or deploy to a server in setup() (a Flink job whose
        // submission failed) says so: exit 4, as for a server whose health check failed.
        Err(e) if e.unreachable => Err(Stop::failed(FailureKind::Connect, e.to_string())),
        Err(e) => Err(Stop::failed(FailureKind::Script, e.to_string())),
    }
}

/// Teardown: `teardown(data)` in VU 0, unless the user asked to stop at once.
async fn teardown(run: &mut Run, data: &serde_json::Value, load: &Load) {
    if load.hard_exit {
        run.out.warnings.push("stopped at once by a second interrupt: teardown() did not run, the last second of metrics may be missing".into());
        return;
    }
    let data_value = run.vu0.data(data).unwrap_or(mlua::Value::Nil);
    let call = call_with_timeout(
        &run.vu0,
        "teardown",
        Phase::Teardown,
        data_value,
        run.plan.teardown_timeout,
    );
    let r = tokio::select! {
        r = call => r,
        _ = run.signals.next() => {
            run.out.warnings.push("teardown() was interrupted".into());
            Ok(None)
        }
    };
    if let Err(e) = r {
        if run.out.failure.is_none() {
            run.out.status = Status::Failed;
            run.out.failure = Some((FailureKind::Script, e.to_string()));
        } else {
            run.out.warnings.push(e.to_string());
        }
    }
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

/// SIGINT and SIGTERM, as one stream.
pub struct Signals {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
        }
    }

    /// Resolves on the next SIGINT or SIGTERM.
    pub async fn next(&mut self) {
        async fn one(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = one(&mut self.int) => {}
            _ = one(&mut self.term) => {}
        }
    }
}

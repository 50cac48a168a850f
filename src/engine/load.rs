//! The stages with workers: Init (every worker makes its VUs), Load (from a common t0: snapshots
//! merged once a second, progress, thresholds that abort, Ctrl-C, the safety margin) and Drain
//! (late snapshots, worker threads joined, scenario statistics gathered).

use super::coordinator::{Run, Stop};
use super::finish::abort_due;
use super::watch::Watcher;
use super::worker::{Msg, Worker};
use super::{hard_stop, progress, stop};
use crate::metrics::thresholds;
use crate::metrics::Summary;
use crate::results::outcome::{FailureKind, ScenarioStats, Status};
use hdrhistogram::Histogram;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// Workers that initialised their VUs and wait for t0.
pub struct Workers {
    threads: Vec<JoinHandle<()>>,
    rx: mpsc::UnboundedReceiver<Msg>,
    start_tx: watch::Sender<Option<Instant>>,
    stop_tx: stop::StopSender,
}

/// What the load left for the drain and the teardown.
pub struct Load {
    pub t0: Instant,
    pub end: Instant,
    /// A second interrupt: stop at once, no teardown.
    pub hard_exit: bool,
    workers: Workers,
    t0_sec: i64,
    done: usize,
    safety_hit: bool,
    stats: Vec<ScenarioStats>,
    wake: Histogram<u64>,
}

/// Init: starts the worker threads and waits until each has made its VUs.
pub async fn init(run: &mut Run, data: Arc<serde_json::Value>) -> Result<Workers, Stop> {
    let plan = &run.plan;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (start_tx, start_rx) = watch::channel(None);
    let (stop_tx, stop_rx) = stop::channel();
    let claimed: Vec<Arc<AtomicU64>> = plan
        .scenarios
        .iter()
        .map(|_| Arc::new(AtomicU64::new(0)))
        .collect();
    let mut threads = Vec::new();
    for index in 0..plan.workers {
        let w = Worker {
            index,
            workers: plan.workers,
            plan: plan.clone(),
            shared: run.shared.clone(),
            data: data.clone(),
            tx: tx.clone(),
            start: start_rx.clone(),
            stop: stop_rx.clone(),
            claimed: claimed.clone(),
        };
        match w.spawn() {
            Ok(t) => threads.push(t),
            Err(e) => {
                hard_stop(&stop_tx, &run.shared);
                return Err(Stop::failed(
                    FailureKind::Internal,
                    format!("cannot start a worker thread: {e}"),
                ));
            }
        }
    }
    drop(tx);
    let mut ready = 0;
    while ready < plan.workers {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Ready) => ready += 1,
                Some(Msg::InitFailed(e)) => {
                    hard_stop(&stop_tx, &run.shared);
                    return Err(Stop::failed(FailureKind::Script, e.to_string()));
                }
                Some(_) => {}
                None => return Err(Stop::failed(FailureKind::Internal, "a worker thread ended before the start")),
            },
            _ = run.signals.next() => {
                hard_stop(&stop_tx, &run.shared);
                return Err(Stop::interrupted("interrupted while the VUs were initialised"));
            }
        }
    }
    Ok(Workers {
        threads,
        rx,
        start_tx,
        stop_tx,
    })
}

/// The start barrier (`--start-at`): waits until 5 ms before that wall-clock time (t0 is 5 ms after
/// the workers are told). Returns false when interrupted while waiting.
async fn wait_for_start(run: &mut Run) -> bool {
    let Some(at) = run.plan.start_at else {
        return true;
    };
    // Slept in steps of at most a second against the wall clock, so a clock stepped by NTP while
    // waiting moves the start with it.
    loop {
        let left = at
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .saturating_sub(Duration::from_millis(5));
        if left.is_zero() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(left.min(Duration::from_secs(1))) => {}
            _ = run.signals.next() => return false,
        }
    }
}

/// Load: starts every worker at t0 and runs until each reports its end (or a stop).
pub async fn load(run: &mut Run, mut workers: Workers) -> Result<Load, Stop> {
    if !wait_for_start(run).await {
        // The workers wait for t0; stopped, they drop their VUs and end.
        hard_stop(&workers.stop_tx, &run.shared);
        return Err(Stop::interrupted(
            "interrupted while waiting for --start-at",
        ));
    }
    let plan = run.plan.clone();
    let t0 = Instant::now() + Duration::from_millis(5);
    // The wall-clock time of t0, for the result's start and the series' seconds.
    let t0_epoch = SystemTime::now() + Duration::from_millis(5);
    run.out.started = t0_epoch;
    if let Some(at) = plan.start_at {
        let skew_ms = match t0_epoch.duration_since(at) {
            Ok(late) => late.as_secs_f64() * 1000.0,
            Err(early) => -early.duration().as_secs_f64() * 1000.0,
        };
        run.out.start_skew_ms = Some(skew_ms);
        if skew_ms > 1000.0 {
            run.out.warnings.push(format!(
                "the load started {:.0} ms after --start-at {} (setup and the VUs' init took \
                 longer, or the time was already past): instances of this run did not start \
                 together",
                skew_ms,
                crate::util::rfc3339(at)
            ));
        }
    }
    let t0_sec = t0_epoch
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let _ = workers.start_tx.send(Some(t0));
    let t0_unix_ms = t0_epoch
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let mut watcher = run
        .feed
        .clone()
        .map(|feed| Watcher::start(feed, &plan, &run.shared, t0_unix_ms, run.cpu0));

    let mut progress = progress::Progress::new(run.quiet, plan.scheduled_duration());
    let mut ticker = tokio::time::interval_at(t0 + Duration::from_secs(1), Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let safety = t0 + plan.max_duration() + Duration::from_secs(10);
    let (mut done, mut interrupts) = (0, 0);
    let mut wake = crate::metrics::new_histogram();
    let mut stats: Vec<ScenarioStats> = plan
        .scenarios
        .iter()
        .map(|_| ScenarioStats::default())
        .collect();
    let (mut hard_exit, mut safety_hit) = (false, false);
    let stop_tx = &workers.stop_tx;
    let out = &mut run.out;
    let shared = &run.shared;
    while done < plan.workers {
        tokio::select! {
            msg = workers.rx.recv() => match msg {
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
                let watched = watcher.as_ref().is_some_and(|w| w.watched());
                let outcomes = if out.status == Status::Completed || watched {
                    thresholds::evaluate(&plan.thresholds, &out.store, elapsed.as_secs_f64())
                } else {
                    Vec::new()
                };
                if out.status == Status::Completed {
                    if let Some(bad) = abort_due(&plan, &outcomes, elapsed) {
                        out.status = Status::Aborted;
                        shared.request_abort(format!("threshold '{}' on {} crossed (abort_on_fail)", bad.threshold, bad.metric));
                    }
                }
                if let Some(w) = watcher.as_mut() {
                    w.tick(elapsed, &out.store, &outcomes, shared, stop_tx.level() > 0 || out.status != Status::Completed);
                }
                if shared.aborted() && stop_tx.level() < stop::HARD {
                    out.status = Status::Aborted;
                    hard_stop(stop_tx, shared);
                }
            }
            _ = run.signals.next() => {
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
                    hard_stop(stop_tx, shared);
                    hard_exit = true;
                    break;
                }
            }
            _ = tokio::time::sleep_until(safety) => {
                safety_hit = true;
                hard_stop(stop_tx, shared);
                break;
            }
        }
    }
    let end = Instant::now();
    progress.finish();
    Ok(Load {
        t0,
        end,
        hard_exit,
        workers,
        t0_sec,
        done,
        safety_hit,
        stats,
        wake,
    })
}

/// Drain: late snapshots, the worker threads joined (or left behind after 10 s), the scenarios'
/// statistics and the run's status into the outcome.
pub async fn drain(run: &mut Run, mut load: Load) -> Load {
    let out = &mut run.out;
    // Whatever arrived after the last message we waited for.
    while let Ok(msg) = load.workers.rx.try_recv() {
        if let Msg::Snapshot { second, snapshot } = msg {
            out.store.add(load.t0_sec + second as i64 - 1, snapshot);
        }
    }
    if load.safety_hit {
        out.warnings.push(
            "workers did not stop within the plan's longest duration + 10 s; results are partial"
                .into(),
        );
    }
    let mut stuck_threads = false;
    if !load.hard_exit {
        // Workers that reported their end are joined (dropping their VUs closes sessions and
        // leaves consumer groups, which may take a while). One that never did (the safety margin
        // or an abort stopped the run) gets 10 s, then is left behind: the result is written
        // either way.
        let until = if load.done == run.plan.workers {
            None
        } else {
            Some(Instant::now() + Duration::from_secs(10))
        };
        let threads = std::mem::take(&mut load.workers.threads);
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
    if !load.hard_exit && !stuck_threads {
        run.shared.resume_lua();
    }
    let mut stats = std::mem::take(&mut load.stats);
    for (s, plan_s) in stats.iter_mut().zip(&run.plan.scenarios) {
        if s.name.is_empty() {
            s.name = plan_s.name.clone();
            s.executor = plan_s.executor.name().to_string();
        }
    }
    out.scenarios = stats;
    if !load.wake.is_empty() {
        out.generator.scheduler_lateness = Some(Summary::of(&load.wake));
    }
    if out.status == Status::Aborted {
        out.failure = Some((
            FailureKind::Aborted,
            run.shared
                .abort_reason()
                .unwrap_or_else(|| "aborted".into()),
        ));
    } else if out.status == Status::Interrupted {
        out.failure = Some((FailureKind::Interrupted, "interrupted".into()));
    }
    load
}

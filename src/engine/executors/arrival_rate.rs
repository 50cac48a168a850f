//! The open model behind constant- and ramping-arrival-rate. Iteration i is due at
//! `start + schedule.time_of(i)`; this worker takes its lane of them (every `stride`-th from `first`,
//! see [`super::split`], across instances and threads). Latency is
//! measured from the due time. When no VU is free and none may be added, the iteration waits for the
//! next free VU and still counts from its due time (as wrk2), unless `drop_late` drops it (as k6).
//!
//! The scheduler wakes at most once per `wake_quantum` (0.5 ms unless the scenario sets it):
//! iterations due closer together than that start together when it wakes, up to one quantum late
//! (their lateness says so). Waking once per iteration cost a thread wake-up per request: at
//! 20,000/s the quantum took the generator from 1.52 to 0.46 context switches and from 4.65 to 2.03
//! CPU s per 100k requests, and the latency p50 from 0.075 to 0.397 ms (docs/scripting.md).
//! Iterations further apart are woken for exactly.

use super::{drain, iterate, make_runner, Ctx, Runner};
use crate::engine::schedule::Schedule;
use crate::engine::stop::GRACEFUL;
use std::cell::RefCell;
use std::rc::Rc;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Late by more than this, the scheduler lets the iterations it started run after each start.
const BEHIND: std::time::Duration = std::time::Duration::from_millis(2);

/// Iterations due (globally) by `t` seconds: iteration 0 is due at 0.
fn due_by(schedule: &Schedule, t: f64) -> u64 {
    let total = schedule.total().ceil() as u64;
    if t < 0.0 {
        return 0;
    }
    ((schedule.count_at(t).floor() as u64) + 1).min(total)
}

pub async fn run(
    ctx: Rc<Ctx>,
    runners: Vec<Runner>,
    schedule: Schedule,
    max_vus: u64,
    drop_late: bool,
) {
    let Some(lane) = ctx.split.lane(max_vus) else {
        return;
    };
    let pool = Rc::new(RefCell::new(runners));
    let freed = Rc::new(Notify::new());
    let my_max = lane.max_vus;
    let mut allocated = pool.borrow().len() as u64;
    let mut set = JoinSet::new();
    let end = ctx.end();
    let mut stop = ctx.stop.clone();
    let (mut started, mut dropped) = (0u64, 0u64);
    let mut i = lane.first;
    let mut stopped_at = None;
    let timer = crate::engine::timer::PreciseTimer::new();
    // Not before this: one quantum after the last wake-up.
    let quantum = ctx.scenario.executor.wake_quantum();
    let mut wake_floor = Instant::now();

    'schedule: while let Some(offset) = schedule.time_of(i) {
        let due = ctx.start + offset;
        if due >= end || ctx.stop.stopping() {
            break;
        }
        if Instant::now() < due {
            tokio::select! {
                _ = timer.sleep_until(due.max(wake_floor)) => {}
                _ = stop.reached(GRACEFUL) => { stopped_at = Some(Instant::now()); break 'schedule; }
            }
            wake_floor = Instant::now() + quantum;
        }
        let (mut waited, mut yielded) = (false, false);
        let runner = loop {
            if let Some(r) = pool.borrow_mut().pop() {
                break Some(r);
            }
            // Before adding a VU, let the iterations already started run: behind the schedule this
            // loop never awaits, so VUs that had finished could not come back, and it would
            // initialise VUs up to max_vus on this thread, falling further behind with each one.
            if !yielded && !set.is_empty() {
                yielded = true;
                tokio::task::yield_now().await;
                continue;
            }
            if allocated < my_max {
                let index = lane.vu_index(allocated);
                allocated += 1;
                ctx.stats.borrow_mut().vus_max = allocated;
                match make_runner(&ctx, index) {
                    Ok(r) => break Some(r),
                    Err(e) => {
                        ctx.recorder.borrow_mut().script_error(&e.to_string());
                        continue;
                    }
                }
            }
            if drop_late {
                break None;
            }
            waited = true;
            tokio::select! {
                _ = freed.notified() => {}
                _ = tokio::time::sleep_until(end) => break 'schedule,
                _ = stop.reached(GRACEFUL) => { stopped_at = Some(Instant::now()); break 'schedule; }
            }
        };
        let Some(runner) = runner else {
            dropped += 1;
            ctx.recorder
                .borrow_mut()
                .add_counter("dropped_iterations", &ctx.tags, 1.0);
            i += lane.stride;
            continue;
        };
        if !waited {
            // The generator's own lateness: a VU was free, so any delay is the scheduler's.
            let late = Instant::now().saturating_duration_since(due);
            let us = (late.as_micros() as u64).max(1);
            ctx.wake_lateness.borrow_mut().record(us).ok();
            ctx.shared.live.woke_late(us);
        }
        // Backlog: iterations of this worker already due but not started (this one included).
        let t = Instant::now()
            .saturating_duration_since(ctx.start)
            .as_secs_f64();
        let mine_due = lane.mine(due_by(&schedule, t));
        let backlog = mine_due.saturating_sub(started + dropped);
        {
            let mut st = ctx.stats.borrow_mut();
            st.max_backlog = st.max_backlog.max(backlog);
        }
        started += 1;
        let (c, p, f) = (ctx.clone(), pool.clone(), freed.clone());
        set.spawn_local(async move {
            iterate(&c, &runner, due).await;
            p.borrow_mut().push(runner);
            f.notify_one();
        });
        // A JoinSet keeps every finished task until it is joined: reaped here, or the set grows
        // by one task an iteration (about 700 bytes; 4 MiB a second at 6,000 iterations/s).
        while set.try_join_next().is_some() {}
        i += lane.stride;
        // Far behind the schedule, this loop would start iterations without awaiting, and none of
        // them would send anything until it caught up: let them run.
        if Instant::now().saturating_duration_since(due) > BEHIND {
            tokio::task::yield_now().await;
        }
    }

    // Whatever was due before the end (or the stop) and never started.
    let until = stopped_at.unwrap_or(end).min(end);
    let t = until.saturating_duration_since(ctx.start).as_secs_f64();
    let mine_due = lane.mine(due_by(&schedule, t));
    let unstarted = mine_due.saturating_sub(started + dropped);
    {
        let mut st = ctx.stats.borrow_mut();
        st.dropped_iterations += dropped;
        st.unstarted_iterations += unstarted;
        st.vus_max = st.vus_max.max(allocated);
    }
    // They are this worker's next `unstarted` iterations, from `i` on (iterations start in order):
    // each waited at least from its due time to `until`.
    let bounds: Vec<_> = (0..unstarted)
        .map_while(|n| schedule.time_of(i + n * lane.stride))
        .map(|offset| until.saturating_duration_since(ctx.start + offset))
        .collect();
    let interrupted = drain(&mut set, end + ctx.scenario.graceful_stop, &ctx).await;
    let ran = {
        let mut st = ctx.stats.borrow_mut();
        st.interrupted_iterations += interrupted;
        st.iterations + interrupted
    };
    // Left out, they would make p99 read low exactly when the target is overloaded.
    ctx.recorder
        .borrow_mut()
        .censor_unstarted(&ctx.tags, ran, &bounds);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::executors::{make_runner, scenario_tags};
    use crate::engine::stop;
    use crate::metrics::Recorder;
    use crate::plan::{Executor, Scenario, ScriptSource};
    use crate::results::outcome::ScenarioStats;
    use crate::script::Shared;
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;
    use std::time::Duration;

    /// `loadgen.test`: `op(seconds)`, an operation `test.op` through the bindings' one timed path
    /// that takes that long: a target of known speed, with paused time.
    const TEST_MODULES: &[crate::script::Module] = &[("loadgen.test", test_module)];

    fn test_module(lua: &mlua::Lua) -> mlua::Result<mlua::Table> {
        let t = lua.create_table()?;
        let op = lua.create_async_function(|lua, secs: f64| async move {
            let answer = async move {
                tokio::time::sleep(Duration::from_secs_f64(secs)).await;
                (Ok::<(), crate::metrics::OpError>(()), Default::default())
            };
            crate::bindings::op::reply(&lua, "test.op", None, None, answer, |_, _, _| Ok(())).await
        })?;
        t.set("op", op)?;
        Ok(t)
    }

    /// One worker's context for a constant-arrival-rate scenario running `script`'s `default`.
    fn ctx(
        script: &str,
        rate: f64,
        secs: u64,
        vus: u64,
        drop_late: bool,
    ) -> (Rc<Ctx>, stop::StopSender) {
        ctx_of(script, rate, secs, vus, drop_late, 0, 1)
    }

    /// As [`ctx`], for worker `worker` of `workers`.
    fn ctx_of(
        script: &str,
        rate: f64,
        secs: u64,
        vus: u64,
        drop_late: bool,
        worker: usize,
        workers: usize,
    ) -> (Rc<Ctx>, stop::StopSender) {
        let shared = Shared::new(
            ScriptSource {
                path: "test.lua".into(),
                source: script.into(),
                hash: String::new(),
            },
            Default::default(),
            1,
            TEST_MODULES,
        );
        let scenario = Scenario {
            name: "open".into(),
            exec: "default".into(),
            start_time: Duration::ZERO,
            graceful_stop: Duration::from_secs(30),
            tags: Default::default(),
            env: Default::default(),
            executor: Executor::ConstantArrivalRate {
                rate,
                time_unit: Duration::from_secs(1),
                duration: Duration::from_secs(secs),
                pre_allocated_vus: vus,
                max_vus: vus,
                drop_late,
                wake_quantum: crate::plan::DEFAULT_WAKE_QUANTUM,
            },
        };
        let (tx, rx) = stop::channel();
        let c = Ctx {
            tags: Rc::new(scenario_tags(&scenario)),
            scenario,
            split: crate::engine::executors::split::Split::local(worker, workers),
            start: Instant::now(),
            shared,
            data: Arc::new(serde_json::Value::Null),
            recorder: Rc::new(RefCell::new(Recorder::new())),
            stop: rx,
            vu_base: 0,
            wake_lateness: Rc::new(RefCell::new(crate::metrics::new_histogram())),
            claimed: Arc::new(AtomicU64::new(0)),
            stats: RefCell::new(ScenarioStats::default()),
        };
        (Rc::new(c), tx)
    }

    async fn run_paused(
        script: &str,
        rate: f64,
        secs: u64,
        vus: u64,
        drop_late: bool,
    ) -> (ScenarioStats, Recorder) {
        let (c, _stop) = ctx(script, rate, secs, vus, drop_late);
        let runners = (0..vus).map(|i| make_runner(&c, i).unwrap()).collect();
        let schedule = Schedule::constant(rate, Duration::from_secs(1), Duration::from_secs(secs));
        run(c.clone(), runners, schedule, vus, drop_late).await;
        let stats = c.stats.borrow().clone();
        let rec = std::mem::take(&mut *c.recorder.borrow_mut());
        (stats, rec)
    }

    /// With paused time: 1 VU, 10 iterations/s, each taking 250 ms. The target serves 4/s, so
    /// iterations queue; every one still counts from its scheduled time, none is lost.
    #[tokio::test(start_paused = true)]
    async fn late_iterations_wait_and_count_from_their_schedule() {
        let local = tokio::task::LocalSet::new();
        let (stats, mut rec) = local
            .run_until(run_paused(
                "local lg = require('loadgen')\nfunction default() lg.sleep('250ms') end",
                10.0,
                2,
                1,
                false,
            ))
            .await;
        // 20 due in 2 s; one VU finishes 4 per second, so about 8 start before the end.
        assert_eq!(
            stats.iterations + stats.unstarted_iterations + stats.interrupted_iterations,
            20,
            "{stats:?}"
        );
        assert!(stats.unstarted_iterations >= 10, "{stats:?}");
        assert!(stats.max_backlog >= 5, "{stats:?}");
        // The 8th iteration was due at 0.7 s and started at 7 x 250 ms = 1.75 s: over 1 s late.
        assert!(stats.max_lateness_ms >= 1000.0, "{stats:?}");
        let snap = rec.take();
        let it = snap
            .entries
            .iter()
            .find(|e| e.name == "iteration_duration")
            .unwrap();
        assert_eq!(it.count, stats.iterations);
    }

    /// The case, with paused time: 200 iterations/s for 5 s against a target answering in
    /// 1 s, at most 10 VUs. About 1,000 iterations are due and 10 a second can run, so most never
    /// start: each enters `test.op`'s latency as a censored sample (from its due time to the end),
    /// so p99 shows the overload instead of the one-second answers of the few that ran.
    #[tokio::test(start_paused = true)]
    async fn iterations_due_and_never_started_enter_the_latency_as_censored_samples() {
        let local = tokio::task::LocalSet::new();
        let (stats, mut rec) = local
            .run_until(run_paused(
                "local t = require('loadgen.test')\nfunction default() t.op(1) end",
                200.0,
                5,
                10,
                false,
            ))
            .await;
        assert_eq!(
            stats.iterations + stats.unstarted_iterations + stats.interrupted_iterations,
            1000,
            "{stats:?}"
        );
        // 10 VUs, 1 s each, 5 s: 50 started (the last 10 finish at the end, within the grace).
        assert_eq!(stats.iterations, 50, "{stats:?}");
        let snap = rec.take();
        let op = snap.entries.iter().find(|e| e.name == "test.op").unwrap();
        assert_eq!(op.count, 50, "completed operations");
        assert_eq!(
            op.censored, stats.unstarted_iterations,
            "one per unstarted iteration"
        );
        let l = op.latency().unwrap();
        // The percentiles now cover all 1,000 iterations due, not the 50 survivors. The 50 that ran
        // were due in the first 0.25 s; the never-started ones from then to 5 s, each a lower bound
        // (it waited at least until the end): about 4.75 s down to 5 ms, so the median is about
        // 2.4 s and p99 about 4.7 s. Every sample is at most the true latency, so these are lower
        // bounds of the true percentiles, which the survivors' alone are not.
        assert_eq!(op.hist.as_ref().unwrap().len(), 1000);
        assert!((2300.0..2500.0).contains(&l.p50), "{l:?}");
        assert!((4650.0..4850.0).contains(&l.p99), "{l:?}");
        assert!(
            op.service.as_ref().unwrap().len() == 50,
            "service time only for what ran"
        );
    }

    /// Cut off after the graceful stop: the operation in flight and its iteration are censored.
    #[tokio::test(start_paused = true)]
    async fn iterations_cut_off_after_the_graceful_stop_are_censored() {
        let local = tokio::task::LocalSet::new();
        let (stats, mut rec) = local
            .run_until(run_paused(
                "local t = require('loadgen.test')\nfunction default() t.op(100) end",
                1.0,
                2,
                2,
                false,
            ))
            .await;
        // Two started (at 0 s and 1 s), both still in flight at 2 s + 30 s of graceful stop.
        assert_eq!(stats.interrupted_iterations, 2, "{stats:?}");
        assert_eq!(stats.iterations, 0, "{stats:?}");
        let snap = rec.take();
        let op = snap.entries.iter().find(|e| e.name == "test.op").unwrap();
        assert_eq!((op.count, op.censored), (0, 2));
        // In flight from 0 s and 1 s to the cut at 32 s.
        let l = op.latency().unwrap();
        assert!((30_900.0..31_100.0).contains(&l.min), "{l:?}");
        assert!((31_900.0..32_100.0).contains(&l.max), "{l:?}");
        let it = snap
            .entries
            .iter()
            .find(|e| e.name == "iteration_duration")
            .unwrap();
        assert_eq!((it.count, it.censored), (0, 2));
    }

    /// The same with drop_late: late iterations are dropped and counted, not queued.
    #[tokio::test(start_paused = true)]
    async fn drop_late_drops_instead_of_waiting() {
        let local = tokio::task::LocalSet::new();
        let (stats, _) = local
            .run_until(run_paused(
                "local lg = require('loadgen')\nfunction default() lg.sleep('250ms') end",
                10.0,
                2,
                1,
                true,
            ))
            .await;
        assert_eq!(stats.iterations + stats.dropped_iterations, 20, "{stats:?}");
        assert!(stats.dropped_iterations >= 10, "{stats:?}");
        assert_eq!(stats.unstarted_iterations, 0, "{stats:?}");
        // A started iteration is never late: it only starts when a VU is free at its due time.
        assert!(stats.max_lateness_ms < 5.0, "{stats:?}");
    }

    /// A fast target: every iteration starts on time, exactly as many as scheduled.
    #[tokio::test(start_paused = true)]
    async fn on_time_when_the_target_keeps_up() {
        let local = tokio::task::LocalSet::new();
        let (stats, _) = local
            .run_until(run_paused(
                "local lg = require('loadgen')\nfunction default() lg.sleep('1ms') end",
                200.0,
                3,
                2,
                false,
            ))
            .await;
        assert_eq!(stats.iterations, 600, "{stats:?}");
        assert_eq!(stats.unstarted_iterations, 0);
        assert!(stats.max_lateness_ms < 1.0, "{stats:?}");
    }

    /// One VU on two workers: worker 0 runs the whole schedule (its VU is the only one), worker 1
    /// has no share of it (before, it was given half the iterations and no VU to run them).
    #[tokio::test(start_paused = true)]
    async fn fewer_vus_than_workers_split_the_schedule_among_the_vus() {
        let local = tokio::task::LocalSet::new();
        let script = "local lg = require('loadgen')\nfunction default() lg.sleep('1ms') end";
        let schedule = || Schedule::constant(10.0, Duration::from_secs(1), Duration::from_secs(2));
        let stats = local
            .run_until(async {
                let (c0, _s0) = ctx_of(script, 10.0, 2, 1, false, 0, 2);
                let runners = vec![make_runner(&c0, 0).unwrap()];
                run(c0.clone(), runners, schedule(), 1, false).await;
                let (c1, _s1) = ctx_of(script, 10.0, 2, 1, false, 1, 2);
                run(c1.clone(), Vec::new(), schedule(), 1, false).await;
                let (a, b) = (c0.stats.borrow().clone(), c1.stats.borrow().clone());
                (a, b)
            })
            .await;
        assert_eq!(stats.0.iterations, 20, "{:?}", stats.0);
        assert_eq!(stats.0.unstarted_iterations, 0, "{:?}", stats.0);
        assert_eq!(
            stats.1.iterations + stats.1.unstarted_iterations,
            0,
            "{:?}",
            stats.1
        );
    }

    #[test]
    fn due_counts_include_iteration_zero() {
        let s = Schedule::constant(10.0, Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!(due_by(&s, 0.0), 1);
        assert_eq!(due_by(&s, 0.25), 3);
        assert_eq!(due_by(&s, 5.0), 10);
    }
}

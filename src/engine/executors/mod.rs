//! Executors turn a scenario into iterations. One file per executor; they share the VU creation,
//! the iteration runner and the graceful-stop drain below.

pub mod arrival_rate;
pub mod constant_arrival_rate;
pub mod constant_vus;
pub mod per_vu_iterations;
pub mod ramping_arrival_rate;
pub mod ramping_vus;
pub mod shared_iterations;
pub mod split;

use crate::engine::stop::{StopSignal, HARD};
use crate::metrics::{Recorder, Tags};
use crate::plan::{Executor, Scenario};
use crate::results::outcome::ScenarioStats;
use crate::script::{describe, ScriptError, Shared, Vu, VuSpec};
use hdrhistogram::Histogram;
use mlua::{Function, Value};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Everything an executor on one worker needs.
pub struct Ctx {
    pub scenario: Scenario,
    /// This worker's place among the instances and the instance's threads.
    pub split: split::Split,
    /// When the scenario starts (t0 + start_time).
    pub start: Instant,
    pub shared: Arc<Shared>,
    pub data: Arc<serde_json::Value>,
    pub recorder: Rc<RefCell<Recorder>>,
    pub stop: StopSignal,
    /// VU ids of this scenario are `vu_base + 1 ..`.
    pub vu_base: u64,
    /// Scheduler wake-up lateness (µs), the generator's own health.
    pub wake_lateness: Rc<RefCell<Histogram<u64>>>,
    /// shared-iterations: iterations claimed so far, across workers.
    pub claimed: Arc<AtomicU64>,
    pub stats: RefCell<ScenarioStats>,
    pub tags: Rc<Tags>,
}

impl Ctx {
    /// How many of `total` VUs fall to this worker (see [`split`]).
    pub fn share(&self, total: u64) -> u64 {
        self.split.vus(total)
    }

    /// The scenario-wide index of this worker's n-th VU.
    pub fn vu_index(&self, n: u64) -> u64 {
        self.split.vu_index(n)
    }

    /// End of the scheduled part of the scenario.
    pub fn end(&self) -> Instant {
        self.start + self.scenario.executor.max_duration()
    }

    /// See [`Scenario::grace`].
    pub fn grace(&self) -> Duration {
        self.scenario.grace()
    }
}

/// One VU ready to iterate: its Lua state, exec function and setup data.
pub struct Runner {
    pub vu: Vu,
    func: Function,
    data: Value,
    /// The scenario-wide VU index (from 0).
    pub index: u64,
    /// What stops an iteration of Lua that never yields, for the guard's error (made once).
    limit_label: String,
}

/// Creates and initialises the VU with scenario-wide index `index`.
pub fn make_runner(ctx: &Ctx, index: u64) -> Result<Runner, ScriptError> {
    let id = ctx.vu_base + index + 1;
    let mut env = ctx.shared.env.clone();
    env.extend(ctx.scenario.env.clone());
    let spec = VuSpec {
        vu_id: id,
        scenario: ctx.scenario.name.as_str().into(),
        tags: ctx.tags.clone(),
        env: Rc::new(env),
    };
    let vu = Vu::new(ctx.shared.clone(), spec, ctx.recorder.clone())?;
    let func = vu.function(&ctx.scenario.exec).ok_or_else(|| ScriptError {
        phase: crate::script::Phase::Init,
        vu: id,
        message: format!(
            "scenario '{}': function '{}' is not defined",
            ctx.scenario.name, ctx.scenario.exec
        ),
        unreachable: false,
    })?;
    let data = vu
        .data(&ctx.data)
        .map_err(|e| ScriptError::new(crate::script::Phase::Init, id, &e))?;
    Ok(Runner {
        vu,
        func,
        data,
        index,
        limit_label: format!(
            "the end of scenario '{}' and its graceful stop ({})",
            ctx.scenario.name,
            crate::util::format_duration(ctx.grace())
        ),
    })
}

/// The tags of every sample of a scenario.
pub fn scenario_tags(s: &Scenario) -> Tags {
    let mut t = s.tags.clone();
    t.insert("scenario".into(), s.name.clone());
    t
}

/// Runs one iteration that was due at `scheduled`; returns whether the script raised an error.
pub async fn iterate(ctx: &Ctx, r: &Runner, scheduled: Instant) -> bool {
    let start = Instant::now();
    let lateness = start.saturating_duration_since(scheduled);
    r.vu.begin_iteration(lateness);
    ctx.shared.live.iteration_started();
    // By then the scenario would have cancelled the iteration; Lua that never yields is stopped here.
    r.vu.limit_until((ctx.end() + ctx.grace()).into_std(), &r.limit_label);
    let mut running = Running {
        ctx,
        start,
        done: false,
    };
    let result = r.func.call_async::<()>(r.data.clone()).await;
    let took = start.elapsed();
    if let Err(e) = &result {
        if crate::script::is_stopped(e) || ctx.shared.lua_stopped() {
            // Cut off like a cancelled one: `running` leaves its censored duration when dropped.
            // Lua that never yielded, stopped where a future would have been cancelled (the
            // scenario's end plus its graceful stop, an interrupt, the run stopping at once):
            // interrupted, like a cancelled iteration, with a warning saying why.
            ctx.stats.borrow_mut().interrupted_iterations += 1;
            ctx.recorder.borrow_mut().warn(&format!(
                "scenario '{}': an iteration {}",
                ctx.scenario.name,
                describe(e)
            ));
            return false;
        }
    }
    running.done = true;
    let error = result.err().map(|e| describe(&e));
    ctx.recorder
        .borrow_mut()
        .add_iteration(&ctx.tags, took, error.as_deref());
    let mut st = ctx.stats.borrow_mut();
    st.iterations += 1;
    st.max_lateness_ms = st.max_lateness_ms.max(lateness.as_secs_f64() * 1000.0);
    if error.is_some() {
        st.failed_iterations += 1;
    }
    error.is_some()
}

/// An iteration running. Dropped before it finished (cut off after the graceful stop, or its Lua
/// stopped for never yielding), it leaves a censored `iteration_duration`: at least as long as it ran.
struct Running<'a> {
    ctx: &'a Ctx,
    start: Instant,
    done: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.ctx.shared.live.iteration_ended();
        if self.done {
            return;
        }
        if let Ok(mut r) = self.ctx.recorder.try_borrow_mut() {
            r.censor_iteration(&self.ctx.tags, self.start.elapsed());
        }
    }
}

/// Waits for running tasks until they end, `deadline` passes or a hard stop comes; a graceful stop
/// moves the deadline to `now + graceful_stop` if that is earlier. Cancels and counts what is left.
pub async fn drain<T: 'static>(set: &mut JoinSet<T>, mut deadline: Instant, ctx: &Ctx) -> u64 {
    let mut stop = ctx.stop.clone();
    let mut graceful_seen = false;
    loop {
        if set.is_empty() {
            return 0;
        }
        tokio::select! {
            done = set.join_next() => {
                if done.is_none() {
                    return 0;
                }
            }
            _ = tokio::time::sleep_until(deadline) => break,
            _ = stop.reached(crate::engine::stop::GRACEFUL), if !graceful_seen => {
                graceful_seen = true;
                deadline = deadline.min(Instant::now() + ctx.scenario.graceful_stop);
                if stop.level() >= HARD {
                    break;
                }
            }
            _ = async { let mut s = ctx.stop.clone(); s.reached(HARD).await }, if graceful_seen => break,
        }
    }
    let left = set.len() as u64;
    set.abort_all();
    while set.join_next().await.is_some() {}
    left
}

/// Runs the scenario on this worker.
pub async fn run(ctx: Rc<Ctx>, runners: Vec<Runner>) -> ScenarioStats {
    let mut stop = ctx.stop.clone();
    tokio::select! {
        _ = tokio::time::sleep_until(ctx.start) => {}
        _ = stop.reached(crate::engine::stop::GRACEFUL) => {
            return ctx.stats.borrow().clone();
        }
    }
    match &ctx.scenario.executor {
        Executor::SharedIterations { .. } => shared_iterations::run(ctx.clone(), runners).await,
        Executor::PerVuIterations { .. } => per_vu_iterations::run(ctx.clone(), runners).await,
        Executor::ConstantVus { .. } => constant_vus::run(ctx.clone(), runners).await,
        Executor::RampingVus { .. } => ramping_vus::run(ctx.clone(), runners).await,
        Executor::ConstantArrivalRate { .. } => {
            constant_arrival_rate::run(ctx.clone(), runners).await
        }
        Executor::RampingArrivalRate { .. } => {
            ramping_arrival_rate::run(ctx.clone(), runners).await
        }
    }
    let s = ctx.stats.borrow().clone();
    s
}

/// What a closed-model VU does next.
pub enum Next {
    Run,
    Wait(Instant),
    Done,
}

/// Decides, before each iteration of a closed-model VU, what it does next.
pub type NextFn = Rc<dyn Fn(&Ctx, &Runner, u64) -> Next>;

/// The closed model shared by the VU-based executors: each VU loops, asking `next` before every
/// iteration; latency is measured from the actual start (no schedule to be late against).
pub async fn closed_loop(ctx: Rc<Ctx>, runners: Vec<Runner>, next: NextFn, grace: Duration) {
    let mut set = JoinSet::new();
    for r in runners {
        let ctx = ctx.clone();
        let next = next.clone();
        set.spawn_local(async move {
            let mut done = 0u64;
            loop {
                if ctx.stop.stopping() {
                    break;
                }
                match next(&ctx, &r, done) {
                    Next::Done => break,
                    Next::Wait(until) => {
                        let mut stop = ctx.stop.clone();
                        tokio::select! {
                            _ = tokio::time::sleep_until(until) => {}
                            _ = stop.reached(crate::engine::stop::GRACEFUL) => break,
                        }
                    }
                    Next::Run => {
                        iterate(&ctx, &r, Instant::now()).await;
                        done += 1;
                    }
                }
            }
        });
    }
    let deadline = ctx.end() + grace;
    let interrupted = drain(&mut set, deadline, &ctx).await;
    ctx.stats.borrow_mut().interrupted_iterations += interrupted;
}

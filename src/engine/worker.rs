//! A worker: one OS thread, a current-thread tokio runtime and a local task set. Its VUs are local
//! tasks that own their Lua states, so nothing on the hot path takes a lock.

use super::executors::{self, make_runner, scenario_tags, Ctx};
use super::stop::StopSignal;
use crate::metrics::recorder::Snapshot;
use crate::metrics::Recorder;
use crate::plan::RunPlan;
use crate::results::outcome::ScenarioStats;
use crate::script::{ScriptError, Shared};
use hdrhistogram::Histogram;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// What workers tell the coordinator.
pub enum Msg {
    Ready,
    InitFailed(ScriptError),
    /// What was recorded in the interval that ended at `t0 + second` seconds.
    Snapshot {
        second: u64,
        snapshot: Snapshot,
    },
    Done {
        stats: Vec<ScenarioStats>,
        wake_lateness: Histogram<u64>,
    },
}

/// The start signal: t0 for every worker.
pub type Start = watch::Receiver<Option<Instant>>;

pub struct Worker {
    pub index: usize,
    pub workers: usize,
    pub plan: Arc<RunPlan>,
    pub shared: Arc<Shared>,
    pub data: Arc<serde_json::Value>,
    pub tx: mpsc::UnboundedSender<Msg>,
    pub start: Start,
    pub stop: StopSignal,
    /// One claim counter per scenario, shared by all workers (shared-iterations).
    pub claimed: Vec<Arc<AtomicU64>>,
}

impl Worker {
    pub fn spawn(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name(format!("loadgen-worker-{}", self.index))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a current-thread runtime builds");
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, self.run());
            })
    }

    async fn run(mut self) {
        let recorder = Rc::new(RefCell::new(Recorder::new()));
        let wake = Rc::new(RefCell::new(crate::metrics::new_histogram()));
        let mut vu_base = 0u64;
        let mut prepared = Vec::new();
        for (si, scenario) in self.plan.scenarios.iter().enumerate() {
            let ctx = Ctx {
                scenario: scenario.clone(),
                split: executors::split::Split {
                    instance: self.plan.instance.index,
                    instances: self.plan.instance.count,
                    worker: self.index as u64,
                    workers: self.workers as u64,
                },
                // Replaced with the real start below; Instant::now() is a placeholder.
                start: Instant::now(),
                shared: self.shared.clone(),
                data: self.data.clone(),
                recorder: recorder.clone(),
                stop: self.stop.clone(),
                vu_base,
                wake_lateness: wake.clone(),
                claimed: self.claimed[si].clone(),
                stats: RefCell::new(ScenarioStats {
                    name: scenario.name.clone(),
                    executor: scenario.executor.name().to_string(),
                    ..Default::default()
                }),
                tags: Rc::new(scenario_tags(scenario)),
            };
            vu_base += scenario.executor.max_vus();
            let initial = ctx.share(scenario.executor.initial_vus());
            let mut runners = Vec::with_capacity(initial as usize);
            for n in 0..initial {
                if self.stop.stopping() {
                    return;
                }
                match make_runner(&ctx, ctx.vu_index(n)) {
                    Ok(r) => runners.push(r),
                    Err(e) => {
                        let _ = self.tx.send(Msg::InitFailed(e));
                        return;
                    }
                }
                // Let other tasks (none yet) and the runtime breathe during long inits.
                if n % 256 == 255 {
                    tokio::task::yield_now().await;
                }
            }
            ctx.stats.borrow_mut().vus_max = initial;
            prepared.push((ctx, runners));
        }
        let _ = self.tx.send(Msg::Ready);

        let t0 = loop {
            if let Some(t0) = *self.start.borrow_and_update() {
                break t0;
            }
            if self.start.changed().await.is_err() {
                return; // The coordinator gave up before the start.
            }
        };

        // Snapshots once a second, aligned to t0.
        let ticker = {
            let recorder = recorder.clone();
            let tx = self.tx.clone();
            tokio::task::spawn_local(async move {
                let mut second = 1u64;
                loop {
                    tokio::time::sleep_until(t0 + Duration::from_secs(second)).await;
                    let snapshot = recorder.borrow_mut().take();
                    if tx.send(Msg::Snapshot { second, snapshot }).is_err() {
                        return;
                    }
                    second += 1;
                }
            })
        };

        let mut handles = Vec::new();
        for (mut ctx, runners) in prepared {
            ctx.start = t0 + ctx.scenario.start_time;
            handles.push(tokio::task::spawn_local(executors::run(
                Rc::new(ctx),
                runners,
            )));
        }
        let mut stats = Vec::new();
        for h in handles {
            stats.push(h.await.unwrap_or_default());
        }
        ticker.abort();
        let second = Instant::now().saturating_duration_since(t0).as_secs() + 1;
        let snapshot = recorder.borrow_mut().take();
        let _ = self.tx.send(Msg::Snapshot { second, snapshot });
        let wake_lateness = wake.borrow().clone();
        let _ = self.tx.send(Msg::Done {
            stats,
            wake_lateness,
        });
    }
}

//! The engine's side of the live view ([`crate::live`]): the plan sent at t0, then once a second the
//! newest complete second, the totals and the thresholds as they stand. Built only while someone
//! subscribes to the feed; otherwise a tick costs one atomic load.

use crate::live::{Event, Feed, ScenarioPlan, Start, Tick, PUBLISH_LAG_S};
use crate::metrics::thresholds::Outcome;
use crate::metrics::MetricStore;
use crate::plan::RunPlan;
use crate::script::Shared;
use std::sync::Arc;
use std::time::Duration;

pub struct Watcher {
    feed: Feed,
    /// t0, unix seconds: the first second of the load.
    t0_sec: i64,
    /// The next second to publish.
    next: i64,
    cpu0: Duration,
}

impl Watcher {
    /// Sends the plan at t0. `cpu0`: the process's CPU time when the run began (the base of the
    /// result's `generator.cpu_seconds`, which the last figure sent must agree with).
    pub fn start(
        feed: Feed,
        plan: &RunPlan,
        shared: &Shared,
        t0_unix_ms: i64,
        cpu0: Duration,
    ) -> Watcher {
        let start = Start {
            run_id: feed.run_id.to_string(),
            script: shared.script.path.display().to_string(),
            t0_unix_ms,
            scheduled_s: plan.scheduled_duration().as_secs_f64(),
            scenarios: plan
                .scenarios
                .iter()
                .map(|s| ScenarioPlan {
                    name: s.name.clone(),
                    executor: s.executor.name().to_string(),
                    start_s: s.start_time.as_secs_f64(),
                    duration_s: s.executor.max_duration().as_secs_f64(),
                })
                .collect(),
            thresholds: plan
                .thresholds
                .iter()
                .flat_map(|t| t.rules.iter().map(|r| (t.key.clone(), r.source.clone())))
                .collect(),
            tags: plan.tags.clone(),
            max_vus: plan.scenarios.iter().map(|s| s.executor.max_vus()).sum(),
        };
        feed.send(Event::Start(Arc::new(start)));
        let t0_sec = t0_unix_ms.div_euclid(1000);
        Watcher {
            feed,
            t0_sec,
            next: t0_sec,
            cpu0,
        }
    }

    /// Whether a tick would reach anyone (thresholds are judged for it only then).
    pub fn watched(&self) -> bool {
        self.feed.watched()
    }

    /// Publishes every second up to `elapsed - PUBLISH_LAG_S` not yet published (one, normally;
    /// more after a stall of the coordinator), each with the totals and thresholds as they stand.
    pub fn tick(
        &mut self,
        elapsed: Duration,
        store: &MetricStore,
        thresholds: &[Outcome],
        shared: &Shared,
        stopping: bool,
    ) {
        let upto = self.t0_sec + elapsed.as_secs() as i64 - PUBLISH_LAG_S;
        if self.next > upto {
            return;
        }
        let lateness_max_ms = shared.live.take_lateness_max_ms();
        if !self.feed.watched() {
            self.next = upto + 1;
            return;
        }
        let totals: Vec<_> = store.totals.values().cloned().collect();
        let cpu_s = crate::util::process_cpu_time()
            .saturating_sub(self.cpu0)
            .as_secs_f64();
        while self.next <= upto {
            let t = self.next;
            self.next += 1;
            self.feed.send(Event::Tick(Arc::new(Tick {
                elapsed_s: elapsed.as_secs_f64(),
                t,
                second: store.second(t),
                totals: totals.clone(),
                thresholds: thresholds.to_vec(),
                cpu_s,
                busy_vus: shared.live.busy(),
                lateness_max_ms,
                stopping,
            })));
        }
    }
}

//! The end of every run, however it ended: VU 0's setup and teardown samples into the totals,
//! thresholds judged, the generator's own cost measured, and the warnings a reader needs.

use crate::metrics::thresholds::{self, Outcome};
use crate::metrics::Recorder;
use crate::plan::RunPlan;
use crate::results::outcome::RunOutcome;
use std::cell::RefCell;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// Above this wake-up lateness (p99) the scheduler, not the target, is said to be the limit.
pub const LATENESS_BOUND_MS: f64 = 2.0;
/// Above this share of the machine's CPU, the generator may be the limit.
pub const CPU_BOUND: f64 = 0.9;

/// The first threshold with `abort_on_fail` that is crossed and past its `delay_abort_eval`.
pub fn abort_due<'a>(
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

/// The outcome of the run, from what the stages gathered; `span` is the load's start and end.
pub fn finish(
    mut out: RunOutcome,
    plan: &RunPlan,
    recorder0: &RefCell<Recorder>,
    (t0, end): (Instant, Instant),
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
                "scenario '{}': {} iterations were due but never started (all {} VUs busy); raise max_vus or the target is too slow; they are in the latency percentiles as censored samples (lower bounds)",
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

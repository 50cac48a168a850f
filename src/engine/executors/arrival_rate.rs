//! The open model behind constant- and ramping-arrival-rate. Iteration i is due at
//! `start + schedule.time_of(i)`; this worker takes every i with i % workers == worker. Latency is
//! measured from the due time. When no VU is free and none may be added, the iteration waits for the
//! next free VU and still counts from its due time (as wrk2), unless `drop_late` drops it (as k6).

use super::{drain, iterate, make_runner, Ctx, Runner};
use crate::engine::schedule::Schedule;
use crate::engine::stop::GRACEFUL;
use std::cell::RefCell;
use std::rc::Rc;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;

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
    let pool = Rc::new(RefCell::new(runners));
    let freed = Rc::new(Notify::new());
    let my_max = ctx.share(max_vus);
    let mut allocated = pool.borrow().len() as u64;
    let mut set = JoinSet::new();
    let workers = ctx.workers as u64;
    let end = ctx.end();
    let mut stop = ctx.stop.clone();
    let (mut started, mut dropped) = (0u64, 0u64);
    let mut i = ctx.worker as u64;
    let mut stopped_at = None;
    let timer = crate::engine::timer::PreciseTimer::new();

    'schedule: while let Some(offset) = schedule.time_of(i) {
        let due = ctx.start + offset;
        if due >= end || ctx.stop.stopping() {
            break;
        }
        if Instant::now() < due {
            tokio::select! {
                _ = timer.sleep_until(due) => {}
                _ = stop.reached(GRACEFUL) => { stopped_at = Some(Instant::now()); break 'schedule; }
            }
        }
        let mut waited = false;
        let runner = loop {
            if let Some(r) = pool.borrow_mut().pop() {
                break Some(r);
            }
            if allocated < my_max {
                let index = ctx.vu_index(allocated);
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
            i += workers;
            continue;
        };
        if !waited {
            // The generator's own lateness: a VU was free, so any delay is the scheduler's.
            let late = Instant::now().saturating_duration_since(due);
            ctx.wake_lateness
                .borrow_mut()
                .record((late.as_micros() as u64).max(1))
                .ok();
        }
        // Backlog: iterations of this worker already due but not started (this one included).
        let t = Instant::now()
            .saturating_duration_since(ctx.start)
            .as_secs_f64();
        let mine_due = share(due_by(&schedule, t), ctx.worker as u64, workers);
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
        i += workers;
    }

    // Whatever was due before the end (or the stop) and never started.
    let until = stopped_at.unwrap_or(end).min(end);
    let t = until.saturating_duration_since(ctx.start).as_secs_f64();
    let mine_due = share(due_by(&schedule, t), ctx.worker as u64, workers);
    {
        let mut st = ctx.stats.borrow_mut();
        st.dropped_iterations += dropped;
        st.unstarted_iterations += mine_due.saturating_sub(started + dropped);
        st.vus_max = st.vus_max.max(allocated);
    }
    let interrupted = drain(&mut set, end + ctx.scenario.graceful_stop, &ctx).await;
    ctx.stats.borrow_mut().interrupted_iterations += interrupted;
}

/// How many of the first `n` global iterations belong to worker `k` of `w`.
fn share(n: u64, k: u64, w: u64) -> u64 {
    if n > k {
        (n - k).div_ceil(w)
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn due_counts_include_iteration_zero() {
        let s = Schedule::constant(10.0, Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!(due_by(&s, 0.0), 1);
        assert_eq!(due_by(&s, 0.25), 3);
        assert_eq!(due_by(&s, 5.0), 10);
        assert_eq!(share(10, 0, 2), 5);
        assert_eq!(share(9, 1, 2), 4);
        assert_eq!(share(1, 1, 2), 0);
    }
}

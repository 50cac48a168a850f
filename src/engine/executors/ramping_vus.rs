//! ramping-vus: the number of active VUs follows the stages linearly. VU j is active while
//! j < floor(target(t)); a VU that falls out of the target finishes its current iteration first
//! (k6's graceful ramp-down), then waits until the target grows past it again.

use super::{closed_loop, Ctx, Next, Runner};
use crate::plan::{Executor, Stage};
use std::rc::Rc;
use std::time::Duration;
use tokio::time::Instant;

/// Target VUs at `t` seconds into the scenario.
pub fn target_at(start_vus: u64, stages: &[Stage], t: f64) -> f64 {
    let mut from = start_vus as f64;
    let mut at = 0.0;
    for s in stages {
        let len = s.duration.as_secs_f64();
        if t < at + len {
            return from + (s.target - from) * (t - at) / len;
        }
        at += len;
        from = s.target;
    }
    from
}

/// The first time at or after `t` when VU `j` is active, if any.
pub fn next_active(start_vus: u64, stages: &[Stage], j: u64, t: f64) -> Option<f64> {
    let need = (j + 1) as f64;
    if target_at(start_vus, stages, t).floor() >= need {
        return Some(t);
    }
    let mut from = start_vus as f64;
    let mut at = 0.0;
    for s in stages {
        let len = s.duration.as_secs_f64();
        let end = at + len;
        if end > t && s.target > from && s.target >= need {
            // Linear rise: solve from + (target - from) * (x - at) / len = need.
            let x = at + (need - from).max(0.0) * len / (s.target - from);
            let x = x.max(t);
            if x < end {
                return Some(x);
            }
        }
        at = end;
        from = s.target;
    }
    None
}

pub async fn run(ctx: Rc<Ctx>, runners: Vec<Runner>) {
    let Executor::RampingVus {
        start_vus,
        ref stages,
        ..
    } = ctx.scenario.executor
    else {
        unreachable!("dispatched on the executor")
    };
    let stages = stages.clone();
    let start = ctx.start;
    let end = ctx.end();
    let grace = ctx.grace();
    let next = Rc::new(move |_: &Ctx, r: &Runner, _: u64| {
        let now = Instant::now();
        if now >= end {
            return Next::Done;
        }
        let t = now.duration_since(start).as_secs_f64();
        match next_active(start_vus, &stages, r.index, t) {
            Some(x) if x <= t => Next::Run,
            Some(x) => Next::Wait(start + Duration::from_secs_f64(x)),
            None => Next::Done,
        }
    });
    closed_loop(ctx, runners, next, grace).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stages() -> Vec<Stage> {
        vec![
            Stage {
                duration: Duration::from_secs(10),
                target: 10.0,
            },
            Stage {
                duration: Duration::from_secs(10),
                target: 10.0,
            },
            Stage {
                duration: Duration::from_secs(10),
                target: 0.0,
            },
        ]
    }

    #[test]
    fn target_follows_the_stages() {
        let s = stages();
        assert_eq!(target_at(0, &s, 0.0), 0.0);
        assert_eq!(target_at(0, &s, 5.0), 5.0);
        assert_eq!(target_at(0, &s, 15.0), 10.0);
        assert_eq!(target_at(0, &s, 25.0), 5.0);
        assert_eq!(target_at(0, &s, 40.0), 0.0);
    }

    #[test]
    fn vus_activate_in_order_and_retire() {
        let s = stages();
        assert_eq!(next_active(0, &s, 0, 0.0), Some(1.0));
        assert_eq!(next_active(0, &s, 4, 0.0), Some(5.0));
        assert_eq!(next_active(0, &s, 4, 12.0), Some(12.0));
        // After the ramp down passes it, VU 9 never comes back.
        assert_eq!(next_active(0, &s, 9, 22.0), None);
    }
}

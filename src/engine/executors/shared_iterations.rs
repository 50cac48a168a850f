//! shared-iterations: VUs share a fixed number of iterations; fast VUs do more. Across instances
//! (`--instance I/N`) each instance runs its fixed part of them, shared by its own VUs.

use super::{closed_loop, Ctx, Next, Runner};
use crate::plan::Executor;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use tokio::time::Instant;

pub async fn run(ctx: Rc<Ctx>, runners: Vec<Runner>) {
    let Executor::SharedIterations { iterations, .. } = ctx.scenario.executor else {
        unreachable!("dispatched on the executor")
    };
    // This instance's part; its threads share it through the claim counter.
    let iterations = ctx.split.instance_share(iterations);
    let end = ctx.end();
    let grace = ctx.scenario.graceful_stop;
    let next = Rc::new(move |ctx: &Ctx, _: &Runner, _: u64| {
        if Instant::now() >= end {
            return Next::Done;
        }
        // Claims across all workers; the counter may pass `iterations`, the claim is what counts.
        if ctx.claimed.fetch_add(1, Ordering::Relaxed) < iterations {
            Next::Run
        } else {
            Next::Done
        }
    });
    closed_loop(ctx, runners, next, grace).await;
}

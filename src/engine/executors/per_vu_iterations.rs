//! per-vu-iterations: every VU runs the same number of iterations.

use super::{closed_loop, Ctx, Next, Runner};
use crate::plan::Executor;
use std::rc::Rc;
use tokio::time::Instant;

pub async fn run(ctx: Rc<Ctx>, runners: Vec<Runner>) {
    let Executor::PerVuIterations { iterations, .. } = ctx.scenario.executor else {
        unreachable!("dispatched on the executor")
    };
    let end = ctx.end();
    let grace = ctx.scenario.graceful_stop;
    let next = Rc::new(move |_: &Ctx, _: &Runner, done: u64| {
        if done < iterations && Instant::now() < end {
            Next::Run
        } else {
            Next::Done
        }
    });
    closed_loop(ctx, runners, next, grace).await;
}

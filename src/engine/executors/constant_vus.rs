//! constant-vus: a fixed number of VUs loop for a duration.

use super::{closed_loop, Ctx, Next, Runner};
use std::rc::Rc;
use tokio::time::Instant;

pub async fn run(ctx: Rc<Ctx>, runners: Vec<Runner>) {
    let end = ctx.end();
    let grace = ctx.scenario.graceful_stop;
    let next = Rc::new(move |_: &Ctx, _: &Runner, _: u64| {
        if Instant::now() < end {
            Next::Run
        } else {
            Next::Done
        }
    });
    closed_loop(ctx, runners, next, grace).await;
}

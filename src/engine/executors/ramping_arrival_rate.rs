//! ramping-arrival-rate: the rate moves linearly from `start_rate` through the stages' targets.

use super::{arrival_rate, Ctx, Runner};
use crate::engine::schedule::Schedule;
use crate::plan::Executor;
use std::rc::Rc;

pub async fn run(ctx: Rc<Ctx>, runners: Vec<Runner>) {
    let Executor::RampingArrivalRate {
        start_rate,
        time_unit,
        ref stages,
        max_vus,
        drop_late,
        ..
    } = ctx.scenario.executor
    else {
        unreachable!("dispatched on the executor")
    };
    let schedule = Schedule::ramping(start_rate, time_unit, stages);
    arrival_rate::run(ctx.clone(), runners, schedule, max_vus, drop_late).await;
}

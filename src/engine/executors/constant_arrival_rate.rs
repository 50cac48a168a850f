//! constant-arrival-rate: `rate` iterations per `time_unit`, whatever the system under test does.

use super::{arrival_rate, Ctx, Runner};
use crate::engine::schedule::Schedule;
use crate::plan::Executor;
use std::rc::Rc;

pub async fn run(ctx: Rc<Ctx>, runners: Vec<Runner>) {
    let Executor::ConstantArrivalRate {
        rate,
        time_unit,
        duration,
        max_vus,
        drop_late,
        ..
    } = ctx.scenario.executor
    else {
        unreachable!("dispatched on the executor")
    };
    let schedule = Schedule::constant(rate, time_unit, duration);
    arrival_rate::run(ctx, runners, schedule, max_vus, drop_late).await;
}

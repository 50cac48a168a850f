//! The engine: the coordinator (this thread) and the workers (one thread per core).
//!
//! The coordinator ([`coordinator`]) runs the stages in order: health checks, `setup()`, the
//! workers' init of every VU, the load (snapshots merged once a second, progress, thresholds that
//! abort, Ctrl-C), the drain, then `teardown()`; [`finish`] turns what they gathered into the
//! outcome.

mod coordinator;
pub mod executors;
mod finish;
mod load;
pub mod progress;
pub mod schedule;
pub mod stop;
pub mod timer;
mod watch;
pub mod worker;

use crate::metrics::Recorder;
use crate::plan::RunPlan;
use crate::results::outcome::RunOutcome;
use crate::script::{Shared, Vu};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// Runs the plan. `vu0` is the Lua state that read the options; it runs setup and teardown.
pub fn run(
    plan: Arc<RunPlan>,
    shared: Arc<Shared>,
    vu0: Vu,
    recorder0: Rc<RefCell<Recorder>>,
    quiet: bool,
    feed: Option<crate::live::Feed>,
) -> RunOutcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds");
    let local = tokio::task::LocalSet::new();
    local.block_on(
        &rt,
        coordinator::coordinate(plan, shared, vu0, recorder0, quiet, feed),
    )
}

/// Stops the run at once: running iterations are cancelled, and Lua code that never yields (a loop
/// that never calls into loadgen) raises an error at its next instruction check.
fn hard_stop(stop_tx: &stop::StopSender, shared: &Shared) {
    shared.stop_lua();
    stop_tx.raise(stop::HARD);
}

//! loadgen: a Lua-scriptable load generator for data stores.
//!
//! # Layout
//! The modules below depend on each other in one direction only (tests/architecture.rs checks that
//! there is no cycle); from the top:
//!
//! - `cli`: command-line parsing and the subcommands (`run`, `check`, `compare`, `merge`,
//!   `report`); it loads the script into VU 0, builds the `plan`, hands it to the `engine`, writes
//!   the result, and is the only module that chooses exit codes (`cli::exit`).
//! - `engine`: the coordinator's stages (Health -> Setup -> Init -> Load -> Drain -> Teardown), the
//!   workers (one per core, each a current-thread tokio runtime with a local task set), the
//!   executors that turn a scenario into iterations, and the graceful-stop logic.
//! - `bindings`: one folder per store, each a pure-Rust client and a thin Lua face; every
//!   operation is recorded through `bindings::timing`. Its Lua modules reach the scripts through
//!   `script::Shared` (`bindings::MODULES`), so `script` does not know them.
//! - `script`: the mlua runtime of one virtual user, the `loadgen` and `loadgen.gen` modules, and
//!   what bindings build on (the operation scope, shared instances, health checks, limiters).
//! - `results`: the result contract: the run's outcome, the versioned file (write, read, merge,
//!   compare), the summary table and the HTML reports.
//! - `plan`: the plain, validated description of a run (script options + flags). No clap or Lua.
//! - `metrics`: per-worker recorders (HdrHistogram, no locks on the hot path), the run-wide store,
//!   thresholds. No tokio, no mlua.
//! - `util`: durations, clocks, process statistics.
//!
//! Only `cli` is public, with the few items the integration tests and benchmarks need re-exported
//! below: everything else is private, so code nothing uses is a compiler warning.

mod bindings;
pub mod cli;
mod engine;
mod live;
mod metrics;
mod plan;
mod results;
mod script;
mod util;

pub use util::epoch_micros;

/// The protocol layers of our own clients, for the tests that speak them to the real servers.
pub mod wire {
    /// HiveServer2: Thrift compact encoding, TCLIService messages, row sets, transports.
    #[cfg(feature = "hive")]
    pub mod hive {
        pub use crate::bindings::hive::{rowset, tcli, thrift, transport};
    }
    /// The Phoenix Query Server's Avatica protocol (protobuf and JSON).
    #[cfg(feature = "phoenix")]
    pub use crate::bindings::phoenix::wire as phoenix;
}

/// The hot paths `cargo bench --bench hot_paths` measures.
pub mod bench {
    pub use crate::engine::schedule::Schedule;
    pub use crate::metrics::new_histogram;
    pub use crate::metrics::recorder::{Recorder, Tags, Units};
    pub use crate::plan::Stage;
}

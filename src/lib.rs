//! loadgen: a Lua-scriptable load generator for data stores.
//!
//! # Layout
//! - [`cli`]: command-line parsing and the subcommands (`run`, `check`, `compare`, `merge`, `version`);
//!   it turns flags and the script's `options` into a validated [`plan::RunPlan`] and maps every error
//!   to a documented exit code ([`exit::ExitCode`]).
//! - [`plan`]: the plain, validated description of a run. No clap or Lua types past this point.
//! - [`engine`]: worker threads (one per core, each a current-thread tokio runtime with a local task
//!   set), the executors that turn a scenario into iterations, and the graceful-stop logic.
//! - [`script`]: the mlua runtime for one virtual user, the script lifecycle, and the `loadgen`,
//!   `loadgen.gen` modules.
//! - [`bindings`]: one module per store; each has a pure-Rust client and a thin Lua face.
//! - [`metrics`]: per-worker recorders (HdrHistogram, no locks on the hot path), the single timing
//!   helper every binding goes through, thresholds.
//! - [`results`]: the versioned result file (write, read, merge, compare) and the summary table.

pub mod bindings;
pub mod cli;
pub mod engine;
pub mod metrics;
pub mod plan;
pub mod results;
pub mod script;
pub mod util;

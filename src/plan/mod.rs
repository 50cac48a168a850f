//! The validated plan of a run: what the engine executes. Built from the script's `options` and the
//! command line in one place ([`options::build`]); nothing here knows about clap or Lua.

mod fields;
pub mod options;
#[cfg(test)]
mod props;
mod scenario;

use crate::metrics::thresholds::ThresholdSpec;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use options::{build, Overrides};

/// Everything the engine needs to execute a run.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub scenarios: Vec<Scenario>,
    pub thresholds: Vec<ThresholdSpec>,
    /// Tags added to every sample of the run (script `tags` plus `--tag`).
    pub tags: BTreeMap<String, String>,
    pub setup_timeout: Duration,
    pub teardown_timeout: Duration,
    /// How long one VU's init code may run, and how much memory its Lua state may hold.
    pub vu_limits: VuLimits,
    /// Seed of the random source of `loadgen.gen`.
    pub seed: u64,
    /// Whether the seed was given (`--seed` or `options.seed`) rather than drawn at random.
    pub seed_given: bool,
    /// Worker threads (default: one per core).
    pub workers: usize,
    /// This process's part of a run shared by several (`--instance I/N`).
    pub instance: Instance,
    /// `--start-at`: the load starts at this wall-clock time (after init), not as soon as it can.
    pub start_at: Option<std::time::SystemTime>,
}

/// Instance `index + 1` of `count` (`--instance I/N`): which part of every scenario this process
/// runs (see `engine::executors::split`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instance {
    /// 0-based (the flag is 1-based).
    pub index: u64,
    pub count: u64,
}

impl Default for Instance {
    fn default() -> Self {
        Instance { index: 0, count: 1 }
    }
}

impl std::fmt::Display for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

impl Instance {
    /// Parses `I/N` (1-based, 1 <= I <= N).
    pub fn parse(s: &str) -> Result<Instance, String> {
        let bad = || format!("--instance '{s}': expected I/N with 1 <= I <= N, such as 2/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let i: u64 = i.trim().parse().map_err(|_| bad())?;
        let n: u64 = n.trim().parse().map_err(|_| bad())?;
        if n == 0 || i == 0 || i > n {
            return Err(bad());
        }
        Ok(Instance {
            index: i - 1,
            count: n,
        })
    }
}

impl RunPlan {
    /// Wall time from the start until the last scenario's schedule ends (graceful stops excluded).
    pub fn scheduled_duration(&self) -> Duration {
        self.scenarios
            .iter()
            .map(|s| s.start_time + s.executor.max_duration())
            .max()
            .unwrap_or_default()
    }

    /// Longest possible run: schedule plus the largest graceful stop.
    pub fn max_duration(&self) -> Duration {
        self.scenarios
            .iter()
            .map(|s| s.start_time + s.executor.max_duration() + s.grace())
            .max()
            .unwrap_or_default()
    }
}

/// One scenario: an executor, the function it runs and when.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    /// Name of the global Lua function each iteration calls.
    pub exec: String,
    pub start_time: Duration,
    pub graceful_stop: Duration,
    pub tags: BTreeMap<String, String>,
    pub env: BTreeMap<String, String>,
    pub executor: Executor,
}

impl Scenario {
    /// The longest the scenario waits for a running iteration after its end: its graceful stop
    /// (or ramp-down, if longer).
    pub fn grace(&self) -> Duration {
        match self.executor {
            Executor::RampingVus {
                graceful_ramp_down, ..
            } => self.graceful_stop.max(graceful_ramp_down),
            _ => self.graceful_stop,
        }
    }
}

/// One stage of a ramp: reach `target` (VUs or iterations per time unit) over `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    pub target: f64,
}

/// The executors, with k6's names and meaning.
#[derive(Debug, Clone, PartialEq)]
pub enum Executor {
    SharedIterations {
        vus: u64,
        iterations: u64,
        max_duration: Duration,
    },
    PerVuIterations {
        vus: u64,
        iterations: u64,
        max_duration: Duration,
    },
    ConstantVus {
        vus: u64,
        duration: Duration,
    },
    RampingVus {
        start_vus: u64,
        stages: Vec<Stage>,
        graceful_ramp_down: Duration,
    },
    ConstantArrivalRate {
        /// Iterations per `time_unit`.
        rate: f64,
        time_unit: Duration,
        duration: Duration,
        pre_allocated_vus: u64,
        max_vus: u64,
        drop_late: bool,
        /// The shortest time between two wake-ups of a worker's scheduler.
        wake_quantum: Duration,
    },
    RampingArrivalRate {
        start_rate: f64,
        time_unit: Duration,
        stages: Vec<Stage>,
        pre_allocated_vus: u64,
        max_vus: u64,
        drop_late: bool,
        /// The shortest time between two wake-ups of a worker's scheduler.
        wake_quantum: Duration,
    },
}

/// The default `wake_quantum` of the arrival-rate executors.
pub const DEFAULT_WAKE_QUANTUM: Duration = Duration::from_micros(500);

impl Executor {
    /// The arrival-rate executors' `wake_quantum` (zero for the others).
    pub fn wake_quantum(&self) -> Duration {
        match self {
            Executor::ConstantArrivalRate { wake_quantum, .. }
            | Executor::RampingArrivalRate { wake_quantum, .. } => *wake_quantum,
            _ => Duration::ZERO,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Executor::SharedIterations { .. } => "shared-iterations",
            Executor::PerVuIterations { .. } => "per-vu-iterations",
            Executor::ConstantVus { .. } => "constant-vus",
            Executor::RampingVus { .. } => "ramping-vus",
            Executor::ConstantArrivalRate { .. } => "constant-arrival-rate",
            Executor::RampingArrivalRate { .. } => "ramping-arrival-rate",
        }
    }

    /// How long the executor schedules work (graceful stop not included).
    pub fn max_duration(&self) -> Duration {
        match self {
            Executor::SharedIterations { max_duration, .. }
            | Executor::PerVuIterations { max_duration, .. } => *max_duration,
            Executor::ConstantVus { duration, .. }
            | Executor::ConstantArrivalRate { duration, .. } => *duration,
            Executor::RampingVus { stages, .. } | Executor::RampingArrivalRate { stages, .. } => {
                stages.iter().map(|s| s.duration).sum()
            }
        }
    }

    /// The most VUs this executor may use at once.
    pub fn max_vus(&self) -> u64 {
        match self {
            Executor::SharedIterations { vus, .. }
            | Executor::PerVuIterations { vus, .. }
            | Executor::ConstantVus { vus, .. } => *vus,
            Executor::RampingVus {
                start_vus, stages, ..
            } => stages
                .iter()
                .map(|s| s.target.ceil() as u64)
                .max()
                .unwrap_or(0)
                .max(*start_vus),
            Executor::ConstantArrivalRate { max_vus, .. }
            | Executor::RampingArrivalRate { max_vus, .. } => *max_vus,
        }
    }

    /// VUs initialised before the start.
    pub fn initial_vus(&self) -> u64 {
        match self {
            Executor::ConstantArrivalRate {
                pre_allocated_vus, ..
            }
            | Executor::RampingArrivalRate {
                pre_allocated_vus, ..
            } => *pre_allocated_vus,
            other => other.max_vus(),
        }
    }
}

/// What one VU's Lua code may use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VuLimits {
    /// How long a VU's init code may run.
    pub init_timeout: Duration,
    /// How many bytes the VU's Lua state may hold (0: no limit).
    pub memory: usize,
}

impl Default for VuLimits {
    fn default() -> Self {
        VuLimits {
            init_timeout: Duration::from_secs(60),
            memory: 1 << 30,
        }
    }
}

/// Where the script came from.
#[derive(Debug, Clone)]
pub struct ScriptSource {
    pub path: PathBuf,
    pub source: String,
    /// sha256 of the source, hex.
    pub hash: String,
}

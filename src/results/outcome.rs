//! How a run ended, as the engine hands it over and the result file keeps it: the result
//! contract's run-level types. The engine fills them; `results` and `cli` read them.

use crate::metrics::thresholds::Outcome;
use crate::metrics::{MetricStore, Summary};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// Why a run failed before or during the load: the CLI maps each to its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Something outside the script failed (a worker thread, an internal error).
    Internal,
    /// The script failed to load, or failed in init, setup or teardown.
    Script,
    /// A server the script needs did not pass its health check.
    Connect,
    /// A threshold with `abort_on_fail` or `lg.abort()` stopped the run.
    Aborted,
    /// Ctrl-C / SIGTERM.
    Interrupted,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Completed,
    Interrupted,
    Aborted,
    Failed,
}

/// The generator's view of itself.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct GeneratorReport {
    pub workers: usize,
    /// How late the open-model scheduler woke up against the due times (ms), when a VU was free.
    pub scheduler_lateness: Option<Summary>,
    pub cpu_seconds: f64,
    /// CPU used / (elapsed x cores), 0..1.
    pub cpu_share: f64,
    pub peak_rss_bytes: u64,
    /// `--remote-write`: what reached the Prometheus receiver (absent without the flag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_write: Option<RemoteWriteReport>,
}

/// What `--remote-write` sent (docs/prometheus.md). A push is one request with every series'
/// totals at one moment.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RemoteWriteReport {
    /// The receiver, credentials hidden.
    pub url: String,
    pub interval_s: f64,
    /// `native` or `classic`: how latency was sent at the end.
    pub histograms: String,
    /// Pushes the receiver accepted (the final one included).
    pub pushes_sent: u64,
    /// Pushes given up: refused, or unanswered after their retries.
    pub pushes_failed: u64,
    /// Pushes never tried: the queue was full, or the final totals superseded them.
    pub pushes_dropped: u64,
    /// Ticks of the live feed the sender fell too far behind to see.
    pub ticks_missed: u64,
    /// Whether the receiver holds the run's final (exact) totals.
    pub final_push_ok: bool,
    /// The last failure, with the receiver's answer when there was one.
    pub last_error: Option<String>,
}

pub struct RunOutcome {
    pub status: Status,
    /// Why the run failed or was aborted; with the exit code it maps to.
    pub failure: Option<(FailureKind, String)>,
    pub started: SystemTime,
    pub ended: SystemTime,
    /// From t0 to the end of the last worker.
    pub elapsed: Duration,
    pub store: MetricStore,
    pub scenarios: Vec<ScenarioStats>,
    pub generator: GeneratorReport,
    pub thresholds: Vec<Outcome>,
    pub warnings: Vec<String>,
    /// `--start-at`: the load's actual start minus the time asked for, in ms.
    pub start_skew_ms: Option<f64>,
}

impl RunOutcome {
    /// A run that failed before any load was sent (the script or a server health check).
    pub fn not_started(code: FailureKind, failure: String, workers: usize) -> RunOutcome {
        let now = SystemTime::now();
        RunOutcome {
            status: Status::Failed,
            failure: Some((code, failure)),
            started: now,
            ended: now,
            elapsed: Duration::ZERO,
            store: MetricStore::default(),
            scenarios: Vec::new(),
            generator: GeneratorReport {
                workers,
                peak_rss_bytes: crate::util::peak_rss_bytes(),
                ..Default::default()
            },
            thresholds: Vec::new(),
            warnings: Vec::new(),
            start_skew_ms: None,
        }
    }
}

/// What one scenario did (summed over workers by the coordinator).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ScenarioStats {
    pub name: String,
    pub executor: String,
    /// Iterations that ran to the end (including those whose script raised an error).
    pub iterations: u64,
    /// Iterations whose script raised an error.
    pub failed_iterations: u64,
    /// Iterations cancelled by a stop (graceful stop ran out, second Ctrl-C, abort).
    pub interrupted_iterations: u64,
    /// Open model with `drop_late`: iterations dropped because no VU was free.
    pub dropped_iterations: u64,
    /// Open model: iterations due before the end that never started (every VU was busy).
    pub unstarted_iterations: u64,
    /// Open model: most iterations due but not yet started at one time.
    pub max_backlog: u64,
    /// Largest lateness of an iteration start against its schedule, in ms.
    pub max_lateness_ms: f64,
    /// Most VUs initialised at once.
    pub vus_max: u64,
}

impl ScenarioStats {
    pub fn merge(&mut self, o: &ScenarioStats) {
        if self.name.is_empty() {
            self.name = o.name.clone();
            self.executor = o.executor.clone();
        }
        self.iterations += o.iterations;
        self.failed_iterations += o.failed_iterations;
        self.interrupted_iterations += o.interrupted_iterations;
        self.dropped_iterations += o.dropped_iterations;
        self.unstarted_iterations += o.unstarted_iterations;
        self.max_backlog += o.max_backlog;
        self.max_lateness_ms = self.max_lateness_ms.max(o.max_lateness_ms);
        self.vus_max += o.vus_max;
    }
}

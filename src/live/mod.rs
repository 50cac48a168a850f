//! The run as it happens, for whoever watches it: once a second the coordinator publishes a
//! [`Tick`] (the newest complete second of every metric, the totals so far, the thresholds as they
//! stand, the generator's own CPU and lateness), and after the result file is written an [`End`]
//! (the result itself). The dashboard (`--dashboard`) and the Prometheus remote write
//! (`--remote-write`) subscribe.
//!
//! Publishing never waits and costs nothing when nobody subscribed: the feed is a
//! `tokio::sync::broadcast` channel, which keeps the newest [`CAPACITY`] events; a subscriber that
//! falls further behind is told how many it missed (`Lagged`) and goes on. The load never blocks on
//! a watcher.
//!
//! What a tick shows is live, not final: a snapshot that reaches the coordinator after its second
//! was published still goes into the result (the store merges it), but not into the tick already
//! sent. The [`End`] event carries the result file, so whatever a subscriber shows last is exact.

pub mod dashboard;
#[cfg(feature = "prometheus")]
pub mod remote_write;
/// Built without the `prometheus` feature: `--remote-write` is refused, naming the feature.
#[cfg(not(feature = "prometheus"))]
pub mod remote_write {
    pub use super::remote_write_options::{Histograms, Options};
    use super::Feed;
    use crate::results::schema::ResultFile;
    use std::collections::BTreeMap;

    pub struct RemoteWrite;

    pub fn start(
        _url: &str,
        _options: Options,
        _feed: &Feed,
        _tags: &BTreeMap<String, String>,
    ) -> anyhow::Result<RemoteWrite> {
        anyhow::bail!("this loadgen was built without the 'prometheus' feature")
    }

    impl RemoteWrite {
        pub fn finish(self, _result: &mut ResultFile) {}
    }
}
mod remote_write_options;

use crate::metrics::entry::Entry;
use crate::metrics::thresholds::Outcome;
use crate::results::schema::ResultFile;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Events kept for a subscriber that falls behind. A tick holds a copy of every series' totals
/// (histograms included), so this bounds the feed's memory at that many copies of the totals; the
/// dashboard's and the remote write's threads take each event as it comes, and the remote write
/// needs only the newest.
pub const CAPACITY: usize = 16;

/// How many seconds behind the newest a second is published: workers send a second's snapshot
/// when it ends, so at the tick of second k the snapshots of second k-1 may still be on their way;
/// second k-2 is (nearly always) complete.
pub const PUBLISH_LAG_S: i64 = 2;

/// What a subscriber receives.
#[derive(Clone, Debug)]
pub enum Event {
    Start(Arc<Start>),
    Tick(Arc<Tick>),
    End(Arc<End>),
}

/// The run as planned, sent at t0.
#[derive(Clone, Debug)]
pub struct Start {
    /// The result file's `run_id`.
    pub run_id: String,
    pub script: String,
    /// t0, unix time in milliseconds.
    pub t0_unix_ms: i64,
    /// The scheduled length of the load (every scenario's start + duration), seconds.
    pub scheduled_s: f64,
    pub scenarios: Vec<ScenarioPlan>,
    /// Every threshold rule, as `(metric selector, rule)`.
    pub thresholds: Vec<(String, String)>,
    /// The run's tags (script `tags` plus `--tag`).
    pub tags: BTreeMap<String, String>,
    /// VUs the plan may use at most (every scenario's peak, added up).
    pub max_vus: u64,
}

#[derive(Clone, Debug)]
pub struct ScenarioPlan {
    pub name: String,
    pub executor: String,
    /// When it starts, seconds after t0.
    pub start_s: f64,
    /// Its scheduled length (without the graceful stop), seconds.
    pub duration_s: f64,
}

/// One second of the run, published [`PUBLISH_LAG_S`] seconds after it ended.
#[derive(Clone, Debug)]
pub struct Tick {
    /// Seconds since t0 when the tick was made.
    pub elapsed_s: f64,
    /// The second shown: unix time, seconds (covers `[t, t+1)`).
    pub t: i64,
    /// That second, per metric name (tags folded), as the store has it now.
    pub second: BTreeMap<String, Entry>,
    /// Every series' totals so far (name and full tags): cumulative counts and histograms.
    pub totals: Vec<Entry>,
    /// Every threshold rule judged on the totals so far (in the order of [`Start::thresholds`]).
    pub thresholds: Vec<Outcome>,
    /// The generator's CPU time since the run began (user + system; setup and the VUs' init
    /// included, as in the result's `generator.cpu_seconds`), seconds.
    pub cpu_s: f64,
    /// Iterations running at the moment of the tick.
    pub busy_vus: u64,
    /// The highest scheduler wake-up lateness (arrival-rate executors, a VU free) since the last
    /// tick, ms; None when no such wake-up happened.
    pub lateness_max_ms: Option<f64>,
    /// The run is stopping (a graceful stop, an abort or an interrupt was asked for).
    pub stopping: bool,
}

/// The end of the run: the result as written.
#[derive(Clone, Debug)]
pub struct End {
    pub result: Arc<ResultFile>,
    /// Where it was written (None when it could not be written anywhere).
    pub path: Option<PathBuf>,
}

/// The sending side, held by `loadgen run` and the coordinator.
#[derive(Clone, Debug)]
pub struct Feed {
    tx: broadcast::Sender<Event>,
    /// The run's id (the result file's `run_id`), known before the run starts.
    pub run_id: Arc<str>,
}

impl Feed {
    pub fn new(run_id: &str) -> Feed {
        Feed {
            tx: broadcast::channel(CAPACITY).0,
            run_id: run_id.into(),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Whether anyone listens (a tick is only built then).
    pub fn watched(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Sends to every subscriber; never waits (nobody listening is not an error).
    pub fn send(&self, event: Event) {
        let _ = self.tx.send(event);
    }
}

/// What VUs report for the live view, shared by every worker: two atomics, written once per
/// iteration (busy) and once per scheduler wake-up (lateness) only when the run is watched
/// ([`LiveGauges::enable`], before the VUs start); otherwise each call reads one flag that never
/// changes, so the workers do not contend for a cache line on the hot path.
#[derive(Debug, Default)]
pub struct LiveGauges {
    on: AtomicBool,
    busy: AtomicI64,
    lateness_max_us: AtomicU64,
}

impl LiveGauges {
    /// The run is watched (`--dashboard`, `--remote-write`): called before any VU iterates.
    pub fn enable(&self) {
        self.on.store(true, Ordering::Relaxed);
    }

    pub fn iteration_started(&self) {
        if self.on.load(Ordering::Relaxed) {
            self.busy.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn iteration_ended(&self) {
        if self.on.load(Ordering::Relaxed) {
            self.busy.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub fn busy(&self) -> u64 {
        self.busy.load(Ordering::Relaxed).max(0) as u64
    }

    pub fn woke_late(&self, us: u64) {
        if self.on.load(Ordering::Relaxed) {
            self.lateness_max_us.fetch_max(us, Ordering::Relaxed);
        }
    }

    /// The highest lateness since the last call, ms, and starts over.
    pub fn take_lateness_max_ms(&self) -> Option<f64> {
        match self.lateness_max_us.swap(0, Ordering::Relaxed) {
            0 => None,
            us => Some(us as f64 / 1000.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::outcome::{FailureKind, RunOutcome};
    use crate::results::schema::RunInfo;

    fn empty_result() -> ResultFile {
        let outcome = RunOutcome::not_started(FailureKind::Script, "x".into(), 1);
        ResultFile::new(
            &outcome,
            RunInfo {
                script_path: "s.lua".into(),
                script_sha256: String::new(),
                tags: BTreeMap::new(),
                seed: 0,
                exit_code: 0,
                instance: None,
                plan_hash: None,
            },
        )
    }

    #[test]
    fn a_feed_nobody_watches_takes_events_without_error() {
        let feed = Feed::new("r");
        assert!(!feed.watched());
        feed.send(Event::End(Arc::new(End {
            result: Arc::new(empty_result()),
            path: None,
        })));
        let mut rx = feed.subscribe();
        assert!(feed.watched());
        assert!(
            rx.try_recv().is_err(),
            "events before the subscription are not replayed"
        );
    }

    #[test]
    fn a_slow_subscriber_is_told_what_it_missed_and_the_sender_never_waits() {
        let feed = Feed::new("r");
        let mut rx = feed.subscribe();
        let result = Arc::new(empty_result());
        for _ in 0..CAPACITY + 10 {
            feed.send(Event::End(Arc::new(End {
                result: result.clone(),
                path: None,
            })));
        }
        match rx.try_recv() {
            Err(broadcast::error::TryRecvError::Lagged(n)) => assert_eq!(n, 10),
            other => panic!("expected Lagged(10), got {other:?}"),
        }
        assert!(rx.try_recv().is_ok());
    }

    #[test]
    fn gauges_count_busy_iterations_and_keep_the_worst_lateness_until_taken_when_watched() {
        let g = LiveGauges::default();
        g.iteration_started();
        g.woke_late(900);
        assert_eq!(
            (g.busy(), g.take_lateness_max_ms()),
            (0, None),
            "not watched: not counted"
        );
        g.enable();
        g.iteration_started();
        g.iteration_started();
        g.iteration_ended();
        assert_eq!(g.busy(), 1);
        assert_eq!(g.take_lateness_max_ms(), None);
        g.woke_late(300);
        g.woke_late(1500);
        g.woke_late(700);
        assert_eq!(g.take_lateness_max_ms(), Some(1.5));
        assert_eq!(g.take_lateness_max_ms(), None);
    }
}

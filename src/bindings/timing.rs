//! The one timing helper every binding goes through. Bindings never time themselves.

use crate::metrics::recorder::{Recorder, Tags, Units};
use crate::metrics::{ErrorKind, OpError};
use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;
// tokio's clock is the system clock, except in tests with paused time, which then run instantly.
use tokio::time::Instant;

/// Where and how an operation is recorded.
pub struct OpMeta<'a> {
    pub recorder: &'a RefCell<Recorder>,
    /// `<binding>.<operation>`, e.g. `http.request`.
    pub metric: &'a str,
    pub tags: &'a Tags,
    /// How late the current iteration started against its schedule (0 in closed models). It belongs
    /// to every operation of the iteration: latency = service time + lateness.
    pub lateness: Duration,
}

impl crate::script::OpScope {
    /// Where an operation of this scope is recorded: its recorder, tags and lateness, under `metric`.
    pub fn meta<'a>(&'a self, metric: &'a str) -> OpMeta<'a> {
        OpMeta {
            recorder: &self.recorder,
            metric,
            tags: &self.tags,
            lateness: self.lateness,
        }
    }

    /// [`timed`] with this scope's recording. A plain function returning [`timed`]'s future, not an
    /// `async fn`: another async layer would hold `op` once more, and a binding's future can be large
    /// (the HDFS writer's overflowed a worker's stack when it was wrapped once more).
    pub fn time<'a, T, F>(
        &'a self,
        metric: &'a str,
        op: F,
    ) -> impl Future<Output = Result<T, OpError>> + 'a
    where
        F: Future<Output = (Result<T, OpError>, Units)> + 'a,
        T: 'a,
    {
        timed(self.meta(metric), op)
    }
}

/// Runs `op`, measuring its service time from the moment it is polled (the request leaves) to its
/// completion, and records it. The future returns its result and the units it moved (also on error).
pub async fn timed<T, F>(meta: OpMeta<'_>, op: F) -> Result<T, OpError>
where
    F: Future<Output = (Result<T, OpError>, Units)>,
{
    timed_with(meta, op, |_| None).await.0
}

/// As [`timed`], with `failed` deciding whether a successful answer still counts as a failed
/// operation (an HTTP 500 comes back to the script with its body, and is counted as `server`).
/// Also hands back the service time it recorded, for a binding that shows it to the script (HTTP's
/// `duration`): the same number, not a second measurement.
pub async fn timed_with<T, F>(
    meta: OpMeta<'_>,
    op: F,
    failed: impl FnOnce(&T) -> Option<ErrorKind>,
) -> (Result<T, OpError>, Duration)
where
    F: Future<Output = (Result<T, OpError>, Units)>,
{
    let mut in_flight = InFlight {
        meta: &meta,
        start: Instant::now(),
        done: false,
    };
    let (result, units) = op.await;
    let service = in_flight.start.elapsed();
    in_flight.done = true;
    drop(in_flight);
    let error = match &result {
        Ok(v) => failed(v),
        Err(e) => Some(e.kind),
    };
    record(meta, service, error, &units);
    (result, service)
}

/// An operation in flight. Dropped before it completed (its iteration cut off after the graceful
/// stop, the run stopped at once), it leaves a censored sample: its latency was at least the
/// iteration's lateness plus the time it had been in flight.
struct InFlight<'m, 'a> {
    meta: &'m OpMeta<'a>,
    start: Instant,
    done: bool,
}

impl Drop for InFlight<'_, '_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // A drop while the recorder is borrowed cannot come from a cut-off task; never panic here.
        if let Ok(mut r) = self.meta.recorder.try_borrow_mut() {
            r.censor_op(
                self.meta.metric,
                self.meta.tags,
                self.start.elapsed() + self.meta.lateness,
            );
        }
    }
}

/// Runs `op` and measures its service time as [`timed`] does, but records nothing yet: for an
/// operation whose answer decides whether it counts at all (a Kafka poll that got no record and no
/// error is not an operation). Record it with [`Measured::record`], or drop it.
pub async fn measure<'a, T>(meta: OpMeta<'a>, op: impl Future<Output = T>) -> (T, Measured<'a>) {
    let start = Instant::now();
    let out = op.await;
    let service = start.elapsed();
    (out, Measured { meta, service })
}

/// An operation [`measure`]d and not recorded yet.
pub struct Measured<'a> {
    meta: OpMeta<'a>,
    service: Duration,
}

impl Measured<'_> {
    /// Records the operation with the service time measured when it completed, whatever happened
    /// since: `error` is its failure's kind, if it failed.
    pub fn record(self, error: Option<ErrorKind>, units: &Units) {
        record(self.meta, self.service, error, units);
    }
}

/// Records an operation that failed before it could be sent (its session could not be opened), with
/// the time since `start`, when the attempt began: it counts in the metric's errors, and its latency
/// is what the failed attempt cost, not a zero-length sample.
pub fn record_failed(meta: OpMeta<'_>, start: Instant, error: &OpError, units: &Units) {
    record(meta, start.elapsed(), Some(error.kind), units);
}

/// Records a wait measured elsewhere, not by running a future here: a Kafka consumer's join, from
/// subscribing to its first assignment, as librdkafka's callbacks saw it. It did not start with the
/// iteration, so its latency is its duration, without the lateness.
pub fn record_measured(meta: OpMeta<'_>, took: Duration, error: Option<ErrorKind>, units: &Units) {
    let meta = OpMeta {
        lateness: Duration::ZERO,
        ..meta
    };
    record(meta, took, error, units);
}

/// The one place an operation is recorded: its service time, and its latency with the lateness.
fn record(meta: OpMeta<'_>, service: Duration, error: Option<ErrorKind>, units: &Units) {
    meta.recorder.borrow_mut().record_op(
        meta.metric,
        meta.tags,
        service + meta.lateness,
        service,
        error,
        units,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn latency_adds_the_iteration_lateness() {
        let rec = RefCell::new(Recorder::new());
        let tags = Tags::new();
        let meta = OpMeta {
            recorder: &rec,
            metric: "x.op",
            tags: &tags,
            lateness: Duration::from_millis(40),
        };
        let r: Result<(), OpError> = timed(meta, async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            (
                Err(OpError::new(ErrorKind::Timeout, "slow")),
                Units::none().with("rows", 3),
            )
        })
        .await;
        assert_eq!(r.unwrap_err().kind, ErrorKind::Timeout);
        let snap = rec.borrow_mut().take();
        let e = &snap.entries[0];
        assert_eq!(e.errors.get("timeout"), Some(&1));
        assert_eq!(e.units.get("rows"), Some(&3));
        let service = e.service_time().unwrap().max;
        let latency = e.latency().unwrap().max;
        assert!((10.0..10.1).contains(&service), "service {service}");
        assert!((50.0..50.1).contains(&latency), "latency {latency}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_operation_cut_off_in_flight_leaves_a_censored_sample() {
        let rec = RefCell::new(Recorder::new());
        let tags = Tags::new();
        let op = timed(meta(&rec, &tags, "x.op"), async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            (Ok::<(), OpError>(()), Units::none())
        });
        // Cut off after 3 s in flight, as an aborted iteration's future is dropped.
        let cut = tokio::time::timeout(Duration::from_secs(3), op).await;
        assert!(cut.is_err());
        let snap = rec.borrow_mut().take();
        let e = &snap.entries[0];
        assert_eq!(
            (e.count, e.censored),
            (0, 1),
            "completed none, censored one"
        );
        // At least 3 s in flight plus the iteration's 40 ms lateness; no service time was measured.
        let latency = e.latency().unwrap().max;
        assert!((3040.0..3044.0).contains(&latency), "latency {latency}");
        assert!(e.service.as_ref().unwrap().is_empty());
    }

    fn meta<'a>(rec: &'a RefCell<Recorder>, tags: &'a Tags, metric: &'a str) -> OpMeta<'a> {
        OpMeta {
            recorder: rec,
            metric,
            tags,
            lateness: Duration::from_millis(40),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn timed_with_hands_back_the_service_time_it_recorded() {
        let rec = RefCell::new(Recorder::new());
        let tags = Tags::new();
        let op = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            (Ok::<u16, OpError>(500), Units::none())
        };
        let (r, service) = timed_with(meta(&rec, &tags, "x.op"), op, |status| {
            (*status >= 500).then_some(ErrorKind::Server)
        })
        .await;
        assert_eq!(r.unwrap(), 500);
        let snap = rec.borrow_mut().take();
        let e = &snap.entries[0];
        assert_eq!(e.errors.get("server"), Some(&1));
        let recorded = e.service_time().unwrap().max;
        let handed = service.as_secs_f64() * 1000.0;
        assert!((recorded - handed).abs() < 0.1, "{recorded} vs {handed}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_measured_operation_is_recorded_only_when_asked_with_its_own_service_time() {
        let rec = RefCell::new(Recorder::new());
        let tags = Tags::new();
        let wait = || tokio::time::sleep(Duration::from_millis(10));
        // An empty poll: measured, never recorded.
        let ((), _) = measure(meta(&rec, &tags, "x.empty"), wait()).await;
        let ((), kept) = measure(meta(&rec, &tags, "x.op"), wait()).await;
        // What happens after the operation is not its service time.
        tokio::time::sleep(Duration::from_millis(100)).await;
        kept.record(Some(ErrorKind::Timeout), &Units::none().with("records", 2));
        let snap = rec.borrow_mut().take();
        assert_eq!(snap.entries.len(), 1);
        let e = &snap.entries[0];
        assert_eq!(e.errors.get("timeout"), Some(&1));
        assert_eq!(e.units.get("records"), Some(&2));
        let service = e.service_time().unwrap().max;
        let latency = e.latency().unwrap().max;
        assert!((10.0..10.1).contains(&service), "service {service}");
        assert!((50.0..50.1).contains(&latency), "latency {latency}");
    }

    #[test]
    fn a_duration_measured_elsewhere_is_its_latency_without_the_lateness() {
        let rec = RefCell::new(Recorder::new());
        let tags = Tags::new();
        let took = Duration::from_millis(250);
        record_measured(meta(&rec, &tags, "x.join"), took, None, &Units::none());
        let snap = rec.borrow_mut().take();
        let e = &snap.entries[0];
        let service = e.service_time().unwrap().max;
        let latency = e.latency().unwrap().max;
        assert!((250.0..250.3).contains(&service), "service {service}");
        assert!((250.0..250.3).contains(&latency), "latency {latency}");
    }
}

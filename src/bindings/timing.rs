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
    timed_with(meta, op, |_| None).await
}

/// As [`timed`], with `failed` deciding whether a successful answer still counts as a failed
/// operation (an HTTP 500 comes back to the script with its body, and is counted as `server`).
pub async fn timed_with<T, F>(
    meta: OpMeta<'_>,
    op: F,
    failed: impl FnOnce(&T) -> Option<ErrorKind>,
) -> Result<T, OpError>
where
    F: Future<Output = (Result<T, OpError>, Units)>,
{
    let start = Instant::now();
    let (result, units) = op.await;
    let error = match &result {
        Ok(v) => failed(v),
        Err(e) => Some(e.kind),
    };
    record(meta, start, error, &units);
    result
}

/// Records an operation that failed before it could be sent (its session could not be opened), with
/// the time since `start`, when the attempt began: it counts in the metric's errors, and its latency
/// is what the failed attempt cost, not a zero-length sample.
pub fn record_failed(meta: OpMeta<'_>, start: Instant, error: &OpError, units: &Units) {
    record(meta, start, Some(error.kind), units);
}

/// The one place an operation is recorded: service time since `start`, latency with the lateness.
fn record(meta: OpMeta<'_>, start: Instant, error: Option<ErrorKind>, units: &Units) {
    let service = start.elapsed();
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
}

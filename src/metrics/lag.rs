//! Where a consumer's lag is heading, per partition: from its lag and position over the last
//! seconds, one of four trends, kept as a gauge (`kafka.consumer_lag_trend`, the code below) beside
//! the growth in records a second (`kafka.consumer_lag_growth`).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How a partition's lag moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LagTrend {
    /// The lag stays about where it is.
    KeepingUp,
    /// The lag shrinks.
    CatchingUp,
    /// The lag grows.
    FallingBehind,
    /// Records wait and the consumer reads none of them.
    Stalled,
}

impl LagTrend {
    /// The gauge value.
    pub fn code(self) -> f64 {
        match self {
            LagTrend::KeepingUp => 0.0,
            LagTrend::CatchingUp => 1.0,
            LagTrend::FallingBehind => 2.0,
            LagTrend::Stalled => 3.0,
        }
    }

    pub fn from_code(v: f64) -> Option<LagTrend> {
        Some(match v as i64 {
            0 => LagTrend::KeepingUp,
            1 => LagTrend::CatchingUp,
            2 => LagTrend::FallingBehind,
            3 => LagTrend::Stalled,
            _ => return None,
        })
    }

    pub fn words(self) -> &'static str {
        match self {
            LagTrend::KeepingUp => "keeping up",
            LagTrend::CatchingUp => "catching up",
            LagTrend::FallingBehind => "falling behind",
            LagTrend::Stalled => "stalled",
        }
    }
}

/// The span the trend is judged over.
pub const WINDOW: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    lag: i64,
    position: i64,
}

/// Each partition's recent (lag, position) samples.
#[derive(Debug, Default)]
pub struct LagHistory {
    partitions: HashMap<(String, i32), VecDeque<Sample>>,
}

impl LagHistory {
    /// Adds a sample; once the samples span 2 s, returns the lag's growth (records a second over up
    /// to [`WINDOW`]) and the trend. A change within 2 % of the records read meanwhile (at least one
    /// record a second) counts as keeping up, so a consumer that reads in bursts is not flagged.
    /// The history starts over when the position is not known (before the first fetch, after a
    /// reassignment), moves backwards (a seek or an offset reset) or after a gap of over 3 s.
    pub fn add(
        &mut self,
        topic: &str,
        partition: i32,
        at: Instant,
        lag: i64,
        position: i64,
    ) -> Option<(f64, LagTrend)> {
        let q = self
            .partitions
            .entry((topic.to_string(), partition))
            .or_default();
        if position < 0 {
            q.clear();
            return None;
        }
        if q.back().is_some_and(|last| {
            position < last.position || at.duration_since(last.at) > Duration::from_secs(3)
        }) {
            q.clear();
        }
        q.push_back(Sample { at, lag, position });
        while q.front().is_some_and(|s| at.duration_since(s.at) > WINDOW) {
            q.pop_front();
        }
        let first = *q.front()?;
        let dt = at.duration_since(first.at).as_secs_f64();
        if dt < 2.0 {
            return None;
        }
        let growth = (lag - first.lag) as f64 / dt;
        let read = (position - first.position).max(0) as f64;
        let tolerance = (0.02 * read / dt).max(1.0);
        let trend = if lag > 0 && read == 0.0 {
            LagTrend::Stalled
        } else if growth > tolerance {
            LagTrend::FallingBehind
        } else if growth < -tolerance {
            LagTrend::CatchingUp
        } else {
            LagTrend::KeepingUp
        };
        Some((growth, trend))
    }
}

impl LagHistory {
    /// Forgets the partitions not in `assigned` (revoked ones).
    pub fn retain(&mut self, assigned: &[(String, i32)]) {
        self.partitions.retain(|k, _| assigned.contains(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(samples: &[(i64, i64)]) -> Option<(f64, LagTrend)> {
        let t0 = Instant::now();
        let mut h = LagHistory::default();
        let mut last = None;
        for (i, (lag, pos)) in samples.iter().enumerate() {
            last = h.add("t", 0, t0 + Duration::from_secs(i as u64), *lag, *pos);
        }
        last
    }

    #[test]
    fn four_trends_from_lag_and_position() {
        // Reading 1,000/s, lag steady around 50: keeping up (noise within 2 % of what was read).
        let steady: Vec<_> = (0..12).map(|i| (50 + (i % 3) * 20, i * 1000)).collect();
        assert_eq!(run(&steady).unwrap().1, LagTrend::KeepingUp);
        // Lag growing by 500/s while reading 1,000/s.
        let behind: Vec<_> = (0..12).map(|i| (i * 500, i * 1000)).collect();
        let (growth, trend) = run(&behind).unwrap();
        assert_eq!(trend, LagTrend::FallingBehind);
        assert!((growth - 500.0).abs() < 1e-9, "{growth}");
        // Lag shrinking.
        let catching: Vec<_> = (0..12).map(|i| (10_000 - i * 800, i * 1000)).collect();
        assert_eq!(run(&catching).unwrap().1, LagTrend::CatchingUp);
        // Records waiting, position not moving.
        let stalled: Vec<_> = (0..5).map(|_| (300, 42)).collect();
        assert_eq!(run(&stalled).unwrap().1, LagTrend::Stalled);
        // Nothing to read and nothing read: keeping up, not stalled.
        let idle: Vec<_> = (0..5).map(|_| (0, 42)).collect();
        assert_eq!(run(&idle).unwrap().1, LagTrend::KeepingUp);
        // Under 2 s of samples: no verdict yet.
        assert_eq!(run(&[(0, 0), (100, 10)]), None);
        // An unknown position (-1001 before the first fetch) starts the history over, and is no
        // "stall": the verdict waits for 2 s of known positions.
        assert_eq!(run(&[(300, -1001), (300, -1001), (300, -1001)]), None);
        let rejoined: Vec<_> = [(500, -1001), (500, -1001)]
            .into_iter()
            .chain((0..3).map(|i| (500 - i * 100, 1_000_000 + i * 1000)))
            .collect();
        assert_eq!(run(&rejoined).unwrap().1, LagTrend::CatchingUp);
        // A position moving back (an offset reset) starts over too.
        assert_eq!(run(&[(0, 5000), (0, 6000), (9000, 10), (9000, 20)]), None);
    }

    #[test]
    fn the_window_forgets_the_past() {
        // Falling behind for 20 s, then steady for 12 s: the last 10 s decide.
        let mut s: Vec<_> = (0..20).map(|i| (i * 500, i * 1000)).collect();
        s.extend((20..32).map(|i| (10_000, i * 1000)));
        assert_eq!(run(&s).unwrap().1, LagTrend::KeepingUp);
        for code in 0..4 {
            let t = LagTrend::from_code(code as f64).unwrap();
            assert_eq!(t.code(), code as f64);
        }
    }
}

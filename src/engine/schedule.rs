//! Arrival schedules for open-model executors: iteration `i` is due at the time the integrated rate
//! reaches `i` (a constant rate gives `t0 + i * period`; a ramp integrates the linear rate).

use crate::plan::Stage;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
struct Segment {
    start: f64,
    len: f64,
    /// Rates in iterations per second at the start and end of the segment.
    r0: f64,
    r1: f64,
    /// Iterations due before the segment starts.
    n0: f64,
}

impl Segment {
    fn count_within(&self, tau: f64) -> f64 {
        let tau = tau.clamp(0.0, self.len);
        self.r0 * tau + (self.r1 - self.r0) * tau * tau / (2.0 * self.len)
    }

    /// Time into the segment at which `m` iterations of it are due, if within it.
    fn time_of(&self, m: f64) -> Option<f64> {
        if m < 0.0 || m > self.count_within(self.len) + 1e-9 {
            return None;
        }
        let a = (self.r1 - self.r0) / (2.0 * self.len);
        let b = self.r0;
        if a.abs() < 1e-12 {
            return (b > 0.0).then(|| m / b);
        }
        let disc = b * b + 4.0 * a * m;
        if disc < 0.0 {
            return None;
        }
        let denom = b + disc.sqrt();
        if denom <= 0.0 {
            return (m == 0.0).then_some(0.0);
        }
        Some(2.0 * m / denom)
    }
}

#[derive(Debug, Clone)]
pub struct Schedule {
    segments: Vec<Segment>,
    total_len: f64,
}

impl Schedule {
    /// `rate` iterations per `time_unit`, for `duration`.
    pub fn constant(rate: f64, time_unit: Duration, duration: Duration) -> Schedule {
        let r = rate / time_unit.as_secs_f64();
        Schedule::from_points(r, &[(duration.as_secs_f64(), r)])
    }

    /// Starts at `start_rate` and moves linearly to each stage's target over its duration.
    pub fn ramping(start_rate: f64, time_unit: Duration, stages: &[Stage]) -> Schedule {
        let unit = time_unit.as_secs_f64();
        let points: Vec<(f64, f64)> = stages
            .iter()
            .map(|s| (s.duration.as_secs_f64(), s.target / unit))
            .collect();
        Schedule::from_points(start_rate / unit, &points)
    }

    fn from_points(start_rate: f64, points: &[(f64, f64)]) -> Schedule {
        let mut segments = Vec::new();
        let (mut t, mut r, mut n) = (0.0, start_rate, 0.0);
        for &(len, target) in points {
            if len <= 0.0 {
                r = target;
                continue;
            }
            let seg = Segment {
                start: t,
                len,
                r0: r,
                r1: target,
                n0: n,
            };
            n += seg.count_within(len);
            t += len;
            r = target;
            segments.push(seg);
        }
        Schedule {
            segments,
            total_len: t,
        }
    }

    /// Iterations due by time `t` (seconds since the scenario start).
    pub fn count_at(&self, t: f64) -> f64 {
        for s in &self.segments {
            if t < s.start + s.len {
                return s.n0 + s.count_within(t - s.start);
            }
        }
        self.total()
    }

    /// All iterations the schedule holds.
    pub fn total(&self) -> f64 {
        self.segments
            .last()
            .map(|s| s.n0 + s.count_within(s.len))
            .unwrap_or(0.0)
    }

    /// When iteration `i` (from 0) is due, or None if it falls after the end.
    pub fn time_of(&self, i: u64) -> Option<Duration> {
        let m = i as f64;
        for s in &self.segments {
            let within = s.count_within(s.len);
            if m < s.n0 + within {
                let tau = s.time_of(m - s.n0)?;
                let t = s.start + tau;
                return (t < self.total_len).then(|| Duration::from_secs_f64(t));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_is_evenly_spaced_from_t0() {
        let s = Schedule::constant(200.0, Duration::from_secs(1), Duration::from_secs(2));
        assert_eq!(s.time_of(0), Some(Duration::ZERO));
        assert_eq!(s.time_of(1), Some(Duration::from_millis(5)));
        assert_eq!(s.time_of(399).unwrap().as_micros(), 1_995_000);
        assert_eq!(s.time_of(400), None);
        assert_eq!(s.total(), 400.0);
    }

    #[test]
    fn time_unit_scales_the_rate() {
        let s = Schedule::constant(60.0, Duration::from_secs(60), Duration::from_secs(10));
        assert_eq!(s.time_of(3), Some(Duration::from_secs(3)));
    }

    #[test]
    fn ramp_integrates_the_rate() {
        // 0 -> 100/s over 10 s: 500 iterations; half of them after t = 10/sqrt(2).
        let stages = [Stage {
            duration: Duration::from_secs(10),
            target: 100.0,
        }];
        let s = Schedule::ramping(0.0, Duration::from_secs(1), &stages);
        assert!((s.total() - 500.0).abs() < 1e-9);
        let t = s.time_of(250).unwrap().as_secs_f64();
        assert!((t - 10.0 / 2f64.sqrt()).abs() < 1e-6, "{t}");
        // Every scheduled time maps back to its index.
        for i in [1u64, 10, 100, 499] {
            let t = s.time_of(i).unwrap().as_secs_f64();
            assert!((s.count_at(t) - i as f64).abs() < 1e-6);
        }
        assert_eq!(s.time_of(500), None);
    }

    #[test]
    fn ramp_down_and_flat_stages() {
        let stages = [
            Stage {
                duration: Duration::from_secs(2),
                target: 10.0,
            },
            Stage {
                duration: Duration::from_secs(2),
                target: 0.0,
            },
        ];
        let s = Schedule::ramping(10.0, Duration::from_secs(1), &stages);
        assert!((s.total() - 30.0).abs() < 1e-9);
        let times: Vec<f64> = (0..30)
            .map(|i| s.time_of(i).unwrap().as_secs_f64())
            .collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        assert!(times[29] < 4.0);
    }
}

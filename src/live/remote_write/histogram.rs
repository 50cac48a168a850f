//! An HdrHistogram as Prometheus histograms: native (sparse, exponential buckets) or classic
//! (`_bucket{le=...}` counters).
//!
//! Both are built from the HdrHistogram's recorded buckets, each taken at its upper edge (the
//! value HdrHistogram itself reports for a percentile), and put in the exponential bucket whose
//! upper boundary is the first at or above it. So the bucket that holds the HdrHistogram's p99 is
//! the bucket PromQL's `histogram_quantile(0.99, ...)` interpolates in (both count the same ranks),
//! and the two differ by at most that bucket's width: a factor 2^(2^-schema) (native:
//! [`NATIVE_SCHEMA`] 8, 0.27 %; classic: [`CLASSIC_SCHEMA`] 2, 19 %).

use super::proto::{BucketSpan, Histogram as Native};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;

/// The finest schema receivers accept: 256 buckets per power of two, as precise as the
/// HdrHistogram's own 3 significant digits allow to matter, and sparse (only buckets with counts
/// are sent).
pub const NATIVE_SCHEMA: i32 = 8;

/// Classic buckets are series of their own, so they are coarse: 4 per power of two (boundaries
/// 2^(k/4)), only over the range of values recorded.
pub const CLASSIC_SCHEMA: i32 = 2;

/// The receivers' default zero bucket: only a recorded 0 falls in it.
const ZERO_THRESHOLD: f64 = 2.938_735_877_055_719e-39; // 2^-128

/// The exponential bucket a value (> 0) falls in: bucket `i` covers `(b^(i-1), b^i]` with
/// `b = 2^(2^-schema)`. Boundaries are irrational for schema > 0, so no recorded value sits on one
/// and floating-point rounding cannot move it to a neighbour.
pub fn bucket_index(v: f64, schema: i32) -> i32 {
    (v.log2() * 2f64.powi(schema)).ceil() as i32
}

/// The upper boundary of bucket `i`.
pub fn bucket_upper(i: i32, schema: i32) -> f64 {
    2f64.powf(i as f64 / 2f64.powi(schema))
}

/// The counts of `h` per exponential bucket, with values scaled by `scale` (1e-6: µs to seconds),
/// and how many recorded values were 0.
fn buckets(h: &Histogram<u64>, scale: f64, schema: i32) -> (u64, BTreeMap<i32, u64>) {
    let mut zero = 0;
    let mut out = BTreeMap::new();
    for v in h.iter_recorded() {
        let upper = v.value_iterated_to();
        if upper == 0 {
            zero += v.count_at_value();
        } else {
            *out.entry(bucket_index(upper as f64 * scale, schema))
                .or_default() += v.count_at_value();
        }
    }
    (zero, out)
}

/// The sum of the recorded values, scaled (HdrHistogram keeps no exact sum: each bucket counts at
/// its middle, as its mean does).
fn sum(h: &Histogram<u64>, scale: f64) -> f64 {
    h.mean() * h.len() as f64 * scale
}

/// `h` as a native histogram at time `at_ms`. Its count is every recorded value (censored lower
/// bounds included), which the receiver checks against the buckets.
pub fn native(h: &Histogram<u64>, scale: f64, at_ms: i64) -> Native {
    let (zero, buckets) = buckets(h, scale, NATIVE_SCHEMA);
    let mut spans: Vec<BucketSpan> = Vec::new();
    let mut deltas = Vec::with_capacity(buckets.len());
    let (mut prev_index, mut prev_count) = (None::<i32>, 0i64);
    for (&i, &n) in &buckets {
        match prev_index {
            Some(p) if i == p + 1 => spans.last_mut().expect("a span is open").length += 1,
            Some(p) => spans.push(BucketSpan {
                offset: i - p - 1,
                length: 1,
            }),
            None => spans.push(BucketSpan {
                offset: i,
                length: 1,
            }),
        }
        deltas.push(n as i64 - prev_count);
        (prev_index, prev_count) = (Some(i), n as i64);
    }
    Native {
        count_int: Some(h.len()),
        sum: sum(h, scale),
        schema: NATIVE_SCHEMA,
        zero_threshold: ZERO_THRESHOLD,
        zero_count_int: Some(zero),
        positive_spans: spans,
        positive_deltas: deltas,
        reset_hint: 0,
        timestamp: at_ms,
    }
}

/// `h` as classic buckets: `(le, cumulative count)` from the bucket of the lowest value recorded
/// to that of the highest, every boundary in between included (so a boundary once sent is sent
/// again as long as the histogram lasts), then `+Inf`; with the count and sum.
pub struct Classic {
    pub buckets: Vec<(String, u64)>,
    pub count: u64,
    pub sum: f64,
}

pub fn classic(h: &Histogram<u64>, scale: f64) -> Classic {
    let (zero, counts) = buckets(h, scale, CLASSIC_SCHEMA);
    let mut out = Vec::new();
    let mut cumulative = zero;
    if let (Some(&lo), Some(&hi)) = (counts.keys().next(), counts.keys().next_back()) {
        for i in lo..=hi {
            cumulative += counts.get(&i).copied().unwrap_or(0);
            out.push((le(bucket_upper(i, CLASSIC_SCHEMA)), cumulative));
        }
    }
    out.push(("+Inf".to_string(), h.len()));
    Classic {
        buckets: out,
        count: h.len(),
        sum: sum(h, scale),
    }
}

/// A boundary as the `le` label: the shortest text that reads back as the same number, so one
/// boundary is one label value in every push.
fn le(v: f64) -> String {
    format!("{v}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: &[(u64, u64)]) -> Histogram<u64> {
        let mut h = crate::metrics::new_histogram();
        for &(v, n) in values {
            h.record_n(v, n).unwrap();
        }
        h
    }

    /// What PromQL's histogram_quantile does with a native histogram: find the bucket where the
    /// cumulative count reaches q x count, interpolate linearly inside it.
    fn promql_quantile(q: f64, n: &Native) -> f64 {
        let rank = q * n.count_int.unwrap() as f64;
        let mut cumulative = n.zero_count_int.unwrap() as f64;
        if cumulative >= rank {
            return 0.0;
        }
        let (mut index, mut count) = (0i32, 0i64);
        let mut deltas = n.positive_deltas.iter();
        for (k, span) in n.positive_spans.iter().enumerate() {
            index += span.offset + if k == 0 { 0 } else { 1 };
            for j in 0..span.length {
                if j > 0 {
                    index += 1;
                }
                count += deltas.next().unwrap();
                let c = count as f64;
                if cumulative + c >= rank {
                    let (lo, hi) = (
                        bucket_upper(index - 1, n.schema),
                        bucket_upper(index, n.schema),
                    );
                    return lo + (hi - lo) * (rank - cumulative) / c;
                }
                cumulative += c;
            }
        }
        f64::NAN
    }

    #[test]
    fn native_keeps_the_count_the_sum_and_the_p99_within_a_bucket() {
        // A spread of latencies (µs), with a tail.
        let values: Vec<(u64, u64)> = (1..=2000u64)
            .map(|i| (200 + i * i / 7, 1 + i % 3))
            .collect();
        let h = hist(&values);
        let n = native(&h, 1e-6, 1234);
        assert_eq!(n.count_int, Some(h.len()));
        let in_buckets: i64 = {
            let mut c = 0i64;
            n.positive_deltas
                .iter()
                .map(|d| {
                    c += d;
                    c
                })
                .sum()
        };
        assert_eq!(in_buckets as u64 + n.zero_count_int.unwrap(), h.len());
        let exact_sum: f64 = values.iter().map(|&(v, c)| (v * c) as f64).sum::<f64>() * 1e-6;
        assert!(
            (n.sum - exact_sum).abs() / exact_sum < 1e-3,
            "{} vs {exact_sum}",
            n.sum
        );
        let width = 2f64.powf(2f64.powi(-NATIVE_SCHEMA)) - 1.0;
        for q in [0.5, 0.9, 0.99, 0.999] {
            let hdr = h.value_at_quantile(q) as f64 * 1e-6;
            let prom = promql_quantile(q, &n);
            assert!(
                (prom - hdr).abs() <= hdr * width,
                "q{q}: promql {prom} vs hdr {hdr} (bucket width {width})"
            );
        }
        assert_eq!((n.schema, n.timestamp), (NATIVE_SCHEMA, 1234));
    }

    #[test]
    fn native_spans_skip_empty_buckets_and_deltas_chain() {
        // about 1 s, 1.01 s and 2 s: three buckets apart (their indexes near 1, 4 and 257)
        let h = hist(&[(1_000_000, 2), (1_010_000, 3), (2_000_000, 1)]);
        let n = native(&h, 1e-6, 0);
        let idx = |v: u64| bucket_index(h.highest_equivalent(v) as f64 * 1e-6, NATIVE_SCHEMA);
        let (a, b, c) = (idx(1_000_000), idx(1_010_000), idx(2_000_000));
        assert!(a < b && b < c, "{a} {b} {c}");
        let mut want = vec![BucketSpan {
            offset: a,
            length: 1,
        }];
        if b == a + 1 {
            want[0].length = 2;
        } else {
            want.push(BucketSpan {
                offset: b - a - 1,
                length: 1,
            });
        }
        want.push(BucketSpan {
            offset: c - b - 1,
            length: 1,
        });
        assert_eq!(n.positive_spans, want);
        assert_eq!(n.positive_deltas, vec![2, 1, -2]);
    }

    #[test]
    fn a_recorded_zero_goes_to_the_zero_bucket() {
        let n = native(&hist(&[(0, 4), (10, 1)]), 1e-6, 0);
        assert_eq!((n.zero_count_int, n.count_int), (Some(4), Some(5)));
        assert_eq!(n.positive_deltas, vec![1]);
    }

    #[test]
    fn classic_buckets_are_cumulative_from_the_lowest_to_the_highest_value() {
        // 1 ms x3, 1.5 ms x2, 10 ms x1 (bucket boundaries 2^(k/4) s)
        let h = hist(&[(1000, 3), (1500, 2), (10_000, 1)]);
        let c = classic(&h, 1e-6);
        assert_eq!(c.count, 6);
        assert_eq!(c.buckets.last().unwrap(), &("+Inf".to_string(), 6));
        let finite: Vec<(f64, u64)> = c.buckets[..c.buckets.len() - 1]
            .iter()
            .map(|(le, n)| (le.parse().unwrap(), *n))
            .collect();
        // boundaries step by 2^(1/4) with none missing, counts never fall
        for w in finite.windows(2) {
            assert!((w[1].0 / w[0].0 - 2f64.powf(0.25)).abs() < 1e-9, "{w:?}");
            assert!(w[1].1 >= w[0].1);
        }
        let at = |v: f64| finite.iter().find(|(le, _)| *le >= v).unwrap().1;
        assert_eq!(at(0.001001), 3);
        assert_eq!(at(0.0015015), 5);
        assert_eq!(finite.last().unwrap().1, 6);
        assert!(finite[0].0 >= 0.001 && finite[0].0 < 0.001 * 2f64.powf(0.25));
        assert!((c.sum - 0.016).abs() < 1e-4, "{}", c.sum);
    }

    #[test]
    fn an_empty_histogram_has_only_inf() {
        let c = classic(&hist(&[]), 1e-6);
        assert_eq!(c.buckets, vec![("+Inf".to_string(), 0)]);
        let n = native(&hist(&[]), 1e-6, 0);
        assert!(n.positive_spans.is_empty());
        assert_eq!(n.count_int, Some(0));
    }
}

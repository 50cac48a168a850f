//! Hostile bytes for the result-file reader behind `compare`, `merge` and `report`: arbitrary
//! bytes and mutations of a real result file (its histograms included) are read as a result or
//! refused with an error, never a panic, and never hold more memory than the input accounts for.

use super::decode;
use crate::util::fuzz::{self, alloc::peak};
use proptest::prelude::*;
use std::path::Path;

/// A result file as loadgen wrote it (a run of the evaluation suite, with a trend histogram).
const SAMPLE: &str = include_str!("../../results/evaluation/20261129185618/make-events.json");

fn bound(b: &[u8]) -> usize {
    (2 << 20) + 256 * b.len()
}

/// Reads `b` as a result file and rebuilds its metric store (what merge and compare do).
fn check(b: &[u8]) {
    let ((), held) = peak(|| {
        if let Ok(f) = decode(b, Path::new("r.json")) {
            let _ = f.store();
        }
    });
    assert!(held <= bound(b), "{held} bytes held for {}", b.len());
}

/// The sample's histogram text, for mutations aimed at the histogram decoder.
fn sample_hist() -> String {
    let v: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
    v["series_totals"]["iteration_duration{scenario:default}"]["hist"]["values"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_sample_reads() {
    let f = decode(SAMPLE.as_bytes(), Path::new("r.json")).unwrap();
    let store = f.store().unwrap();
    assert!(!store.totals.is_empty());
}

proptest! {
    #![proptest_config(fuzz::config())]

    #[test]
    fn results_arbitrary_bytes(b in fuzz::bytes(512)) {
        check(&b);
    }

    #[test]
    fn results_mutated_file(m in fuzz::mutations()) {
        check(&fuzz::apply(SAMPLE.as_bytes(), &m));
    }

    /// A histogram's own bytes mutated (inside valid base64), compressed as loadgen writes it or
    /// plain, the file around it intact.
    #[test]
    fn results_mutated_histogram(plain in any::<bool>(), m in fuzz::mutations()) {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let hist = sample_hist();
        let sample = if plain { huge_header(1, 3, 1 << 20) } else { b64.decode(&hist).unwrap() };
        let bytes = fuzz::apply(&sample, &m);
        let text = SAMPLE.replace(&hist, &b64.encode(bytes));
        check(text.as_bytes());
    }
}

/// A histogram header (V2, uncompressed: cookie, payload length, normalizing offset,
/// significant digits, lowest, highest, ratio) claiming `digits` up to `highest`.
fn huge_header(payload: u32, digits: u32, highest: u64) -> Vec<u8> {
    let mut b = Vec::new();
    for w in [0x1c84_9303u32 | 0x10, payload, 0, digits] {
        b.extend_from_slice(&w.to_be_bytes());
    }
    for w in [1u64, highest, 1f64.to_bits()] {
        b.extend_from_slice(&w.to_be_bytes());
    }
    b.push(2);
    b
}

/// Regression: a result file whose histogram claims 5 digits up to u64::MAX (50 MB of counts)
/// or 4 GB - 1 bytes of counts held that much for a 5 KB file; now it is refused.
#[test]
fn a_histogram_header_claiming_a_huge_range_is_refused() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    for (payload, digits, highest) in [(1, 5, u64::MAX), (u32::MAX, 3, 1 << 30)] {
        let text = SAMPLE.replace(
            &sample_hist(),
            &b64.encode(huge_header(payload, digits, highest)),
        );
        let (r, held) = peak(|| decode(text.as_bytes(), Path::new("r.json")).map(|f| f.store()));
        assert!(r.unwrap().is_err());
        assert!(held < 1 << 20, "{held} bytes held");
    }
}

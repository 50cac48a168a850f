//! Hostile-bytes property tests' shared parts (tests only): the case count and the mutations of a
//! valid sample that the decoders' property tests apply.
//!
//! The case count comes from `LOADGEN_FUZZ_CASES` (default [`DEFAULT_CASES`], small enough for
//! `cargo test --lib`; `scripts/bench/hostile_bytes.sh` runs a million per decoder).

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;

/// Cases per property when `LOADGEN_FUZZ_CASES` is not set.
pub const DEFAULT_CASES: u32 = 512;

/// The property-test configuration: `LOADGEN_FUZZ_CASES` cases, no regression files written
/// (crashing inputs are kept as plain unit tests next to the decoder instead).
pub fn config() -> Config {
    let cases = std::env::var("LOADGEN_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_CASES);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Length prefixes a hostile peer would send: 4 GB - 1, 2^31 - 1, 2^31, 1 GiB, 1 GiB - 1, -1.
pub const HUGE: [u32; 6] = [
    0xFFFF_FFFF,
    0x7FFF_FFFF,
    0x8000_0000,
    0x4000_0000,
    0x3FFF_FFFF,
    0xFFFF_FFFE,
];

/// One change to a valid sample.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Flips one bit.
    Flip(Index, u8),
    /// Cuts the bytes at a point.
    Truncate(Index),
    /// Inserts a byte.
    Insert(Index, u8),
    /// Removes a byte.
    Remove(Index),
    /// Overwrites four bytes with a big-endian value (a Thrift length or size prefix).
    Prefix(Index, u32),
    /// Inserts a protobuf varint of a huge value (a length-delimited field's length).
    Varint(Index, u64),
}

fn huge() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => proptest::sample::select(HUGE.to_vec()),
        1 => any::<u32>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => any::<Index>().prop_map(Mutation::Remove),
        3 => (any::<Index>(), huge()).prop_map(|(i, v)| Mutation::Prefix(i, v)),
        2 => (any::<Index>(), prop_oneof![Just(u32::MAX as u64), Just(i64::MAX as u64), Just(u64::MAX), any::<u64>()])
            .prop_map(|(i, v)| Mutation::Varint(i, v)),
    ]
}

/// One to four mutations, applied in order.
pub fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    proptest::collection::vec(mutation(), 1..=4)
}

/// `sample` with `muts` applied.
pub fn apply(sample: &[u8], muts: &[Mutation]) -> Vec<u8> {
    let mut b = sample.to_vec();
    for m in muts {
        // Positions within the bytes (an insert may also go at the end).
        let at = |i: &Index, n: usize| if n == 0 { 0 } else { i.index(n) };
        match m {
            Mutation::Flip(i, bit) if !b.is_empty() => {
                let p = at(i, b.len());
                b[p] ^= 1 << bit;
            }
            Mutation::Truncate(i) => b.truncate(at(i, b.len() + 1)),
            Mutation::Insert(i, v) => b.insert(at(i, b.len() + 1), *v),
            Mutation::Remove(i) if !b.is_empty() => {
                b.remove(at(i, b.len()));
            }
            Mutation::Prefix(i, v) => {
                let p = at(i, b.len() + 1);
                let end = (p + 4).min(b.len());
                b.splice(p..end, v.to_be_bytes());
            }
            Mutation::Varint(i, v) => {
                let p = at(i, b.len() + 1);
                let mut enc = Vec::new();
                let mut v = *v;
                loop {
                    let byte = (v & 0x7f) as u8;
                    v >>= 7;
                    if v == 0 {
                        enc.push(byte);
                        break;
                    }
                    enc.push(byte | 0x80);
                }
                b.splice(p..p, enc);
            }
            _ => {}
        }
    }
    b
}

/// Arbitrary bytes, up to `max` long.
pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;

    #[test]
    fn a_prefix_overwrites_four_bytes_and_a_varint_is_inserted() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let i = any::<Index>().new_tree(&mut runner).unwrap().current();
        let out = apply(&[0; 8], &[Mutation::Prefix(i, 0xFFFF_FFFF)]);
        assert!((8..=12).contains(&out.len()));
        assert_eq!(out.iter().filter(|&&b| b == 0xFF).count(), 4);
        let out = apply(&[], &[Mutation::Varint(i, u32::MAX as u64)]);
        assert_eq!(out, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
    }
}

/// Counts the bytes each thread holds, so that a property can bound what decoding one input
/// allocates (the allocator of the library's test binary only).
pub mod alloc {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub struct Counting;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn add(n: isize) {
        let _ = LIVE.try_with(|l| {
            let v = l.get().wrapping_add(n);
            l.set(v);
            let _ = PEAK.try_with(|p| {
                if v > p.get() {
                    p.set(v)
                }
            });
        });
    }

    // SAFETY: every call is passed to the system allocator unchanged; only counters change.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            let p = unsafe { System.alloc(l) };
            if !p.is_null() {
                add(l.size() as isize);
            }
            p
        }
        unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
            let p = unsafe { System.alloc_zeroed(l) };
            if !p.is_null() {
                add(l.size() as isize);
            }
            p
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            unsafe { System.dealloc(p, l) };
            add(-(l.size() as isize));
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
            let q = unsafe { System.realloc(p, l, new) };
            if !q.is_null() {
                add(new as isize - l.size() as isize);
            }
            q
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    /// Runs `f`; returns its result and the most bytes this thread held at once during it,
    /// beyond what it held before.
    pub fn peak<T>(f: impl FnOnce() -> T) -> (T, usize) {
        let start = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(start));
        let out = f();
        let top = PEAK.with(Cell::get);
        (out, (top - start).max(0) as usize)
    }

    #[test]
    fn a_large_buffer_is_seen() {
        let (_, n) = peak(|| vec![1u8; 1 << 20].len());
        assert!(n >= 1 << 20, "{n}");
        let (_, n) = peak(|| 1 + 1);
        assert_eq!(n, 0);
    }
}

//! The options of `--remote-write` (the command line has them whether or not the feature is built).

use std::time::Duration;

/// `--remote-write-histograms`: how latency distributions are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Histograms {
    /// Native histograms; classic buckets from the first refusal on (a receiver without native
    /// histogram support answers with an error naming them).
    Auto,
    /// Native histograms only.
    Native,
    /// Classic `_bucket{le=...}`, `_count` and `_sum` series.
    Classic,
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub interval: Duration,
    pub histograms: Histograms,
}

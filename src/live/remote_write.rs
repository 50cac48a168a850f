//! `loadgen run --remote-write URL`: the run's metrics into Prometheus (being written).

use super::Feed;
use crate::results::schema::ResultFile;

pub struct RemoteWrite;

/// Starts sending on a thread of its own.
pub fn start(_url: &str, _feed: &Feed) -> anyhow::Result<RemoteWrite> {
    anyhow::bail!("--remote-write is not built yet")
}

impl RemoteWrite {
    /// Sends the final totals (from the result, exact) and records what was sent and dropped in
    /// the result's warnings.
    pub fn finish(self, _result: &mut ResultFile) {}
}

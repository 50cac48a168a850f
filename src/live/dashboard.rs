//! `loadgen run --dashboard`: a web page served by the running process (being written).

use super::Feed;

pub struct Dashboard;

/// Binds `addr`, prints the page's address and serves it on a thread of its own.
pub fn start(_addr: &str, _feed: &Feed, _quiet: bool) -> anyhow::Result<Dashboard> {
    anyhow::bail!("--dashboard is not built yet")
}

impl Dashboard {
    /// After the End event: serves the final page as long as asked, then stops.
    pub fn finish(self) {}
}

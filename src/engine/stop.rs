//! Stop levels shared by the coordinator and every worker.

use tokio::sync::watch;

/// Keep going.
pub const RUNNING: u8 = 0;
/// Start nothing new; let running iterations finish within their scenario's `graceful_stop`.
pub const GRACEFUL: u8 = 1;
/// Stop now: cancel running iterations.
pub const HARD: u8 = 2;

#[derive(Clone)]
pub struct StopSignal(watch::Receiver<u8>);

pub struct StopSender(watch::Sender<u8>);

pub fn channel() -> (StopSender, StopSignal) {
    let (tx, rx) = watch::channel(RUNNING);
    (StopSender(tx), StopSignal(rx))
}

impl StopSender {
    /// Raises the level; it never goes down.
    pub fn raise(&self, level: u8) {
        self.0.send_if_modified(|l| {
            if level > *l {
                *l = level;
                true
            } else {
                false
            }
        });
    }

    pub fn level(&self) -> u8 {
        *self.0.borrow()
    }
}

impl StopSignal {
    pub fn level(&self) -> u8 {
        *self.0.borrow()
    }

    pub fn stopping(&self) -> bool {
        self.level() >= GRACEFUL
    }

    /// Resolves once the level is at least `level`; never, if the sender is gone first.
    pub async fn reached(&mut self, level: u8) {
        loop {
            if *self.0.borrow_and_update() >= level {
                return;
            }
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

//! A precise timer for the open-model scheduler. tokio's timer wheel has 1 ms ticks and its driver
//! parks in whole milliseconds, so a sleep wakes up to about 2 ms late. A Linux timerfd registered with
//! the worker's reactor fires when it is due, to the microsecond, without spinning.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::time::Instant;

pub struct PreciseTimer {
    fd: Option<AsyncFd<OwnedFd>>,
}

impl PreciseTimer {
    /// A timer on the current runtime; falls back to tokio's sleep if no timerfd can be had.
    pub fn new() -> PreciseTimer {
        // Unit tests run on tokio's paused clock, which a timerfd does not follow.
        if cfg!(test) {
            return PreciseTimer { fd: None };
        }
        // SAFETY: timerfd_create returns a new descriptor we own, or -1.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        let fd = (raw >= 0)
            // SAFETY: `raw` is a fresh descriptor nobody else owns.
            .then(|| unsafe { OwnedFd::from_raw_fd(raw) })
            // SAFETY: the OwnedFd stays open and the same for the AsyncFd's whole life.
            .and_then(|fd| unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.ok());
        PreciseTimer { fd }
    }

    pub async fn sleep_until(&self, due: Instant) {
        let Some(fd) = &self.fd else {
            return tokio::time::sleep_until(due).await;
        };
        let left = due.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: left.as_secs() as libc::time_t,
                tv_nsec: left.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: the descriptor is a timerfd we own; spec lives across the call.
        let rc = unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc != 0 {
            return tokio::time::sleep_until(due).await;
        }
        loop {
            let Ok(mut guard) = fd.readable().await else {
                return tokio::time::sleep_until(due).await;
            };
            let mut expirations = 0u64;
            // SAFETY: reading 8 bytes into a u64 we own, as timerfd requires.
            let n = unsafe {
                libc::read(
                    fd.as_raw_fd(),
                    &mut expirations as *mut u64 as *mut libc::c_void,
                    8,
                )
            };
            if n == 8 {
                return;
            }
            if io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock {
                guard.clear_ready();
            } else {
                return tokio::time::sleep_until(due).await;
            }
        }
    }
}

impl Default for PreciseTimer {
    fn default() -> Self {
        PreciseTimer::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::time::Duration;

    /// The bound on the median lateness of a wake. tokio's timer rounds a deadline up to its next
    /// 1 ms tick and parks in whole milliseconds, so its median lateness over due times spread
    /// across the millisecond is about 1 ms; a timerfd's is tens of microseconds on an idle machine.
    /// The median (not the worst) so that a few wakes delayed by a busy machine do not fail the test.
    const MEDIAN_BOUND: Duration = Duration::from_micros(400);

    /// The median lateness of `WAKES` sleeps from `sleep`, due 1 ms plus a fraction of a ms from
    /// now (the fractions spread over the millisecond, so no tick phase is favoured); every wake is
    /// checked not early.
    async fn median_lateness<F: Future<Output = ()>>(
        mut sleep: impl FnMut(Instant) -> F,
    ) -> Duration {
        const WAKES: u64 = 61;
        let mut late = Vec::new();
        for i in 0..WAKES {
            let due = Instant::now() + Duration::from_micros(1000 + i * 163 % 1000);
            sleep(due).await;
            let now = Instant::now();
            assert!(now >= due, "woke {:?} early", due - now);
            late.push(now - due);
        }
        late.sort();
        late[late.len() / 2]
    }

    fn precise() -> PreciseTimer {
        // SAFETY: as in new(); a fresh timerfd for this test (new() uses tokio's timer in tests).
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        assert!(raw >= 0);
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let timer = PreciseTimer {
            fd: unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.ok(),
        };
        assert!(timer.fd.is_some(), "timerfd is available on Linux");
        timer
    }

    #[tokio::test]
    async fn wakes_close_to_the_due_time() {
        let timer = precise();
        let median = median_lateness(|due| timer.sleep_until(due)).await;
        eprintln!("timerfd median lateness {median:?}");
        assert!(median < MEDIAN_BOUND, "median lateness {median:?}");
    }

    /// The bound above is one tokio's own sleep does not meet: the test of the precise timer would
    /// fail if it fell back to tokio's timer.
    #[tokio::test]
    async fn tokio_sleep_misses_the_bound() {
        let median = median_lateness(tokio::time::sleep_until).await;
        eprintln!("tokio sleep median lateness {median:?}");
        assert!(median >= MEDIAN_BOUND, "median lateness {median:?}");
    }
}

//! Limits on a VU's Lua code that futures cannot enforce: Lua that never calls into loadgen
//! (`while true do end`) never yields, so it cannot be cancelled like a future. An instruction
//! hook checks the VU's time limit and the run's stop flag and raises an error past them; the
//! memory limit is Lua's own allocator limit.

use super::Shared;
use mlua::Lua;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one VU's Lua code may use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VuLimits {
    /// How long a VU's init code may run.
    pub init_timeout: Duration,
    /// How many bytes the VU's Lua state may hold (0: no limit).
    pub memory: usize,
}

impl Default for VuLimits {
    fn default() -> Self {
        VuLimits {
            init_timeout: Duration::from_secs(60),
            memory: 1 << 30,
        }
    }
}

/// How often (in Lua VM instructions) running Lua code checks its limits: about every 50-100 µs of
/// Lua, for a cost below 1 %.
const EVERY_INSTRUCTIONS: u32 = 10_000;

/// The time limit of the Lua code a VU is running now.
#[derive(Default)]
pub struct Guard {
    /// Nanoseconds from [`epoch`] after which the code is stopped; 0: none.
    deadline_ns: AtomicU64,
    /// What the limit is, for the error: "init_timeout (60s)".
    limit: Mutex<String>,
}

impl Guard {
    /// Stops the VU's Lua code, with an error naming `limit`, if it still runs at `deadline`.
    pub fn set(&self, deadline: Instant, limit: String) {
        *self.limit.lock().expect("guard lock") = limit;
        self.deadline_ns.store(ns(deadline), Ordering::Relaxed);
    }

    pub fn clear(&self) {
        self.deadline_ns.store(0, Ordering::Relaxed);
    }

    /// The error for Lua code past its limit, if it is.
    fn check(&self, now: Instant) -> Option<String> {
        let deadline = self.deadline_ns.load(Ordering::Relaxed);
        (deadline != 0 && ns(now) > deadline).then(|| {
            format!(
                "stopped: still running past {} (a loop that never ends?)",
                self.limit.lock().expect("guard lock")
            )
        })
    }
}

fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn ns(at: Instant) -> u64 {
    (at.saturating_duration_since(epoch()).as_nanos() as u64).max(1)
}

/// Applies the memory limit and installs the hook on `lua` (global, so it covers every coroutine
/// mlua makes for async calls); returns the VU's guard.
pub fn install(lua: &Lua, shared: Arc<Shared>) -> mlua::Result<Arc<Guard>> {
    let limits = shared.limits();
    if limits.memory > 0 {
        lua.set_memory_limit(limits.memory)?;
    }
    let guard = Arc::new(Guard::default());
    let g = guard.clone();
    lua.set_global_hook(
        mlua::HookTriggers::new().every_nth_instruction(EVERY_INSTRUCTIONS),
        move |_, _| {
            if shared.lua_stopped() {
                return Err(mlua::Error::RuntimeError(
                    "stopped: the run is stopping at once".into(),
                ));
            }
            match g.check(Instant::now()) {
                Some(msg) => Err(mlua::Error::RuntimeError(msg)),
                None => Ok(mlua::VmState::Continue),
            }
        },
    )?;
    Ok(guard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guard_fires_only_past_its_deadline() {
        let g = Guard::default();
        let now = Instant::now();
        assert_eq!(g.check(now), None, "no deadline, no limit");
        g.set(now + Duration::from_secs(1), "setup_timeout (1s)".into());
        assert_eq!(g.check(now), None);
        let msg = g.check(now + Duration::from_secs(2)).unwrap();
        assert!(msg.contains("past setup_timeout (1s)"), "{msg}");
        g.clear();
        assert_eq!(g.check(now + Duration::from_secs(2)), None);
    }
}

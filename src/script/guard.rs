//! Limits on a VU's Lua code that futures cannot enforce: Lua that never calls into loadgen
//! (`while true do end`) never yields, so it cannot be cancelled like a future. An instruction
//! hook checks the VU's time limit, the run's stop flag and the Lua state's memory and raises an
//! error past them. (mlua's allocator limit would catch every allocation, but it makes every table
//! and string built from Rust a protected call: 21-27 % more per iteration in
//! results/benchmarks/lua_cost_20261130, against 5-10 % for the hook alone.)

use super::Shared;
use mlua::Lua;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How often (in Lua VM instructions) running Lua code checks its limits. Any count hook makes Lua
/// trap every instruction (that is the hook's cost); the check itself, every 1,000, adds little.
const EVERY_INSTRUCTIONS: u32 = 1_000;

/// The time limit of the Lua code a VU is running now.
#[derive(Default)]
pub struct Guard {
    /// Nanoseconds from [`epoch`] after which the code is stopped; 0: none.
    deadline_ns: AtomicU64,
    /// What the limit is, for the error: "init_timeout (60s)".
    limit: Mutex<String>,
    /// The Lua state's memory limit in bytes (0: none).
    memory: AtomicU64,
}

impl Guard {
    /// Stops the VU's Lua code, with an error naming `limit`, if it still runs at `deadline`.
    pub fn set(&self, deadline: Instant, limit: &str) {
        let mut l = self.limit.lock().expect("guard lock");
        if *l != limit {
            *l = limit.to_string();
        }
        drop(l);
        self.deadline_ns.store(ns(deadline), Ordering::Relaxed);
    }

    pub fn set_memory(&self, bytes: usize) {
        self.memory.store(bytes as u64, Ordering::Relaxed);
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

pub(super) fn ns(at: Instant) -> u64 {
    (at.saturating_duration_since(epoch()).as_nanos() as u64).max(1)
}

/// The error the guard raises: Lua stopped by a limit or by the run stopping, not by the script.
#[derive(Debug, Clone)]
pub struct Stopped(pub String);

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Stopped {}

/// Whether `e` is the guard's `Stopped` error (however Lua and mlua wrapped it on the way out).
pub fn is_stopped(e: &mlua::Error) -> bool {
    match e {
        mlua::Error::ExternalError(x) => x.downcast_ref::<Stopped>().is_some(),
        mlua::Error::CallbackError { cause, .. } => is_stopped(cause),
        mlua::Error::WithContext { cause, .. } => is_stopped(cause),
        _ => false,
    }
}

fn stopped(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::external(Stopped(msg.into()))
}

/// Installs the hook on `lua` (global, so it covers every coroutine mlua makes for async calls);
/// returns the VU's guard.
pub fn install(lua: &Lua, shared: Arc<Shared>) -> mlua::Result<Arc<Guard>> {
    let guard = Arc::new(Guard::default());
    let g = guard.clone();
    lua.set_global_hook(
        mlua::HookTriggers::new().every_nth_instruction(EVERY_INSTRUCTIONS),
        move |lua, _| {
            let memory = g.memory.load(Ordering::Relaxed) as usize;
            if memory > 0 && lua.used_memory() > memory {
                // What the last error left behind is garbage by now: collect before judging.
                lua.gc_collect()?;
                let used = lua.used_memory();
                if used > memory {
                    return Err(mlua::Error::RuntimeError(format!(
                        "not enough memory: this VU's Lua state holds {} MiB, over lua_memory_mib ({})",
                        used >> 20,
                        memory >> 20
                    )));
                }
            }
            if shared.lua_stopped() {
                return Err(stopped("stopped: the run is stopping at once"));
            }
            let now = Instant::now();
            let stop_at = shared.lua_stop_at_ns();
            if stop_at != 0 && ns(now) > stop_at {
                return Err(stopped(
                    "stopped: still running past the graceful stop after an interrupt",
                ));
            }
            match g.check(now) {
                Some(msg) => Err(stopped(msg)),
                None => Ok(mlua::VmState::Continue),
            }
        },
    )?;
    Ok(guard)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_guard_fires_only_past_its_deadline() {
        let g = Guard::default();
        let now = Instant::now();
        assert_eq!(g.check(now), None, "no deadline, no limit");
        g.set(now + Duration::from_secs(1), "setup_timeout (1s)");
        assert_eq!(g.check(now), None);
        let msg = g.check(now + Duration::from_secs(2)).unwrap();
        assert!(msg.contains("past setup_timeout (1s)"), "{msg}");
        g.clear();
        assert_eq!(g.check(now + Duration::from_secs(2)), None);
    }
}

//! Process-wide state every VU on every worker may read: the script, its environment and seed,
//! data sets, shared instances, the abort and stop flags, the VU limits.

use super::data;
use crate::plan::ScriptSource;
use crate::plan::VuLimits;
use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

type SharedInstance = Arc<dyn Any + Send + Sync>;

/// A binding's health check of one server: blocking, run once before the load (see
/// [`Shared::add_healthcheck`]); its error names the server and its address.
pub type HealthCheck = Box<dyn FnOnce() -> Result<(), String> + Send>;

/// Process-wide state every VU on every worker may read.
pub struct Shared {
    pub script: ScriptSource,
    /// `-e KEY=VALUE` from the command line.
    pub env: BTreeMap<String, String>,
    /// The run seed; settled once the options are read, before any VU but VU 0 exists.
    seed: std::sync::atomic::AtomicU64,
    pub data: Mutex<HashMap<PathBuf, Arc<data::DataSet>>>,
    /// Instances created in init code and shared by all VUs (clients, rate limiters), by key: the
    /// kind with the given name, or with the settings (see [`shared_instance`]); beside each, the
    /// settings it was made with.
    instances: Mutex<HashMap<String, (String, SharedInstance)>>,
    pub zeta: Mutex<HashMap<(u64, u64), f64>>,
    abort: Mutex<Option<String>>,
    abort_flag: AtomicBool,
    /// The health checks VU 0's init asked for, by target, in the order asked; `None` once taken.
    healthchecks: Mutex<Vec<(String, Option<HealthCheck>)>>,
    /// `loadgen check`: bindings contact no server (health checks are listed, not run; clients that
    /// would connect at once are not made).
    offline: AtomicBool,
    /// Set when the run must stop at once: every running Lua code raises an error at its next
    /// instruction check (a loop that never calls into loadgen cannot be cancelled otherwise).
    stop_lua: AtomicBool,
    /// After a first interrupt: when running Lua code must stop (see [`Shared::stop_lua_at`]).
    stop_lua_at_ns: std::sync::atomic::AtomicU64,
    /// The limits of a VU (set from the options before the VUs beyond VU 0 are made).
    limits: Mutex<VuLimits>,
    /// `--instance I/N` (set from the command line before VU 0 is made): `lg.instance()`.
    instance: Mutex<crate::plan::Instance>,
    /// The modules scripts may `require` besides `loadgen` and `loadgen.gen` (the bindings).
    pub modules: &'static [super::Module],
    /// Iterations running and the scheduler's worst recent lateness, for the live view.
    pub live: crate::live::LiveGauges,
}

impl Shared {
    pub fn new(
        script: ScriptSource,
        env: BTreeMap<String, String>,
        seed: u64,
        modules: &'static [super::Module],
    ) -> Arc<Shared> {
        Arc::new(Shared {
            script,
            env,
            seed: std::sync::atomic::AtomicU64::new(seed),
            data: Mutex::default(),
            instances: Mutex::default(),
            zeta: Mutex::default(),
            abort: Mutex::default(),
            abort_flag: AtomicBool::new(false),
            healthchecks: Mutex::default(),
            offline: AtomicBool::new(false),
            stop_lua: AtomicBool::new(false),
            stop_lua_at_ns: Default::default(),
            limits: Mutex::default(),
            instance: Mutex::default(),
            modules,
            live: Default::default(),
        })
    }

    /// Stops every running Lua code at its next instruction check (the run stops at once).
    pub fn stop_lua(&self) {
        self.stop_lua.store(true, Ordering::SeqCst);
    }

    /// Whether running Lua code must stop at once.
    pub fn lua_stopped(&self) -> bool {
        self.stop_lua.load(Ordering::Relaxed)
    }

    /// Lets Lua code run again after [`Shared::stop_lua`] (for `teardown()`, once the workers are done).
    pub fn resume_lua(&self) {
        self.stop_lua.store(false, Ordering::SeqCst);
    }

    /// Stops every running Lua code at its next instruction check after `at` (a graceful stop).
    pub fn stop_lua_at(&self, at: std::time::Instant) {
        self.stop_lua_at_ns
            .store(super::guard::ns(at), Ordering::SeqCst);
    }

    /// When running Lua code must stop (nanoseconds on the guard's clock; 0: no such time).
    pub fn lua_stop_at_ns(&self) -> u64 {
        self.stop_lua_at_ns.load(Ordering::Relaxed)
    }

    pub fn set_limits(&self, limits: VuLimits) {
        *self.limits.lock().expect("limits lock") = limits;
    }

    pub fn limits(&self) -> VuLimits {
        *self.limits.lock().expect("limits lock")
    }

    pub fn set_run_instance(&self, instance: crate::plan::Instance) {
        *self.instance.lock().expect("instance lock") = instance;
    }

    pub fn run_instance(&self) -> crate::plan::Instance {
        *self.instance.lock().expect("instance lock")
    }

    pub fn seed(&self) -> u64 {
        self.seed.load(Ordering::Relaxed)
    }

    pub fn set_seed(&self, seed: u64) {
        self.seed.store(seed, Ordering::Relaxed);
    }

    /// The instance shared under `key`, made by `make` on first use. `settings` describes what it
    /// was made with: a later request under the same key with other settings (a name reused for a
    /// different limiter) is an error naming both.
    pub fn instance<T: Any + Send + Sync>(
        &self,
        key: &str,
        settings: &str,
        make: impl FnOnce() -> Result<T, String>,
    ) -> Result<Arc<T>, String> {
        let mut map = self.instances.lock().expect("instances lock");
        if let Some((made_with, existing)) = map.get(key) {
            if made_with != settings {
                return Err(format!(
                    "{key}: made with {made_with} by one VU and with {settings} by another"
                ));
            }
            return existing
                .clone()
                .downcast::<T>()
                .map_err(|_| format!("{key}: created differently by another VU"));
        }
        let made = Arc::new(make()?);
        map.insert(key.to_string(), (settings.to_string(), made.clone()));
        Ok(made)
    }

    pub fn set_offline(&self) {
        self.offline.store(true, Ordering::Relaxed);
    }

    /// Whether bindings must not contact any server (`loadgen check`).
    pub fn offline(&self) -> bool {
        self.offline.load(Ordering::Relaxed)
    }

    /// The targets of the health checks asked for, sorted (what `loadgen check` lists).
    pub fn healthcheck_targets(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .healthchecks
            .lock()
            .expect("healthcheck lock")
            .iter()
            .map(|(t, _)| t.clone())
            .collect();
        v.sort();
        v
    }

    /// Keeps the health check of `target` for the engine's health stage, the first time one is
    /// asked for (the same server named by two clients is checked once).
    pub fn add_healthcheck(&self, target: &str, check: HealthCheck) {
        let mut checks = self.healthchecks.lock().expect("healthcheck lock");
        if !checks.iter().any(|(t, _)| t == target) {
            checks.push((target.to_string(), Some(check)));
        }
    }

    /// The health checks not yet run, in the order they were asked for.
    pub fn take_healthchecks(&self) -> Vec<(String, HealthCheck)> {
        self.healthchecks
            .lock()
            .expect("healthcheck lock")
            .iter_mut()
            .filter_map(|(t, c)| c.take().map(|c| (t.clone(), c)))
            .collect()
    }

    /// `lg.abort()` was called, or a threshold asked to abort.
    pub fn request_abort(&self, reason: String) {
        let mut a = self.abort.lock().expect("abort lock");
        if a.is_none() {
            *a = Some(reason);
        }
        self.abort_flag.store(true, Ordering::SeqCst);
    }

    pub fn aborted(&self) -> bool {
        self.abort_flag.load(Ordering::Relaxed)
    }

    pub fn abort_reason(&self) -> Option<String> {
        self.abort.lock().expect("abort lock").clone()
    }

    /// The folder of the script: relative data paths resolve from here.
    pub fn script_dir(&self) -> PathBuf {
        self.script
            .path
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default()
    }
}

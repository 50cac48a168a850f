//! The Lua side: one [`Vu`] is one Lua 5.4 state running the script. Lua 5.4 rather than LuaJIT:
//! its 64-bit integers keep BIGINT keys, Kafka offsets and epoch-microsecond timestamps exact, and
//! the per-call cost is far below what any store here absorbs (docs/benchmarks.md measures it).

pub mod core;
pub mod data;
pub mod gen;
pub mod json;
pub mod rng;

use crate::metrics::{Recorder, Tags};
use crate::plan::ScriptSource;
use mlua::{Function, Lua, Value};
use std::any::Any;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The life-cycle phase a Lua state is in; named in every script error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Init,
    Setup,
    Iteration,
    Teardown,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Init => "init",
            Phase::Setup => "setup",
            Phase::Iteration => "iteration",
            Phase::Teardown => "teardown",
        })
    }
}

/// A script error: where (phase, VU) and what (with file and line from Lua).
#[derive(Debug, Clone, thiserror::Error)]
#[error("script error in {phase} (VU {vu}): {message}")]
pub struct ScriptError {
    pub phase: Phase,
    pub vu: u64,
    pub message: String,
}

type SharedInstance = Arc<dyn Any + Send + Sync>;

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
    healthchecked: Mutex<std::collections::HashSet<String>>,
    connect_error: Mutex<Option<String>>,
    /// `loadgen check`: bindings contact no server (health checks are listed, not run; clients that
    /// would connect at once are not made).
    offline: AtomicBool,
}

impl Shared {
    pub fn new(script: ScriptSource, env: BTreeMap<String, String>, seed: u64) -> Arc<Shared> {
        Arc::new(Shared {
            script,
            env,
            seed: std::sync::atomic::AtomicU64::new(seed),
            data: Mutex::default(),
            instances: Mutex::default(),
            zeta: Mutex::default(),
            abort: Mutex::default(),
            abort_flag: AtomicBool::new(false),
            healthchecked: Mutex::default(),
            connect_error: Mutex::default(),
            offline: AtomicBool::new(false),
        })
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

    /// The targets whose health check ran (or, offline, would run), sorted.
    pub fn healthcheck_targets(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .healthchecked
            .lock()
            .expect("healthcheck lock")
            .iter()
            .cloned()
            .collect();
        v.sort();
        v
    }

    /// True the first time a health check of `target` is asked for.
    pub fn first_healthcheck(&self, target: &str) -> bool {
        self.healthchecked
            .lock()
            .expect("healthcheck lock")
            .insert(target.to_string())
    }

    pub fn set_connect_error(&self, msg: String) {
        *self.connect_error.lock().expect("connect lock") = Some(msg);
    }

    /// The failed health check, if any (exit code 4).
    pub fn connect_error(&self) -> Option<String> {
        self.connect_error.lock().expect("connect lock").clone()
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

/// Per-Lua-state context, stored as mlua app data. Never borrowed across an await.
pub struct VuState {
    pub vu_id: u64,
    pub scenario: Rc<str>,
    /// Iterations this VU has started (0 before the first).
    pub iteration: u64,
    /// Lateness of the current iteration against its schedule.
    pub lateness: Duration,
    /// Tags every sample of this VU carries (scenario, group).
    pub tags: Rc<Tags>,
    pub recorder: Rc<RefCell<Recorder>>,
    pub rng: rng::Rng,
    pub env: Rc<BTreeMap<String, String>>,
    pub shared: Arc<Shared>,
    pub phase: Phase,
    /// The keys of the shared instances this state's init code asked for.
    claimed: std::collections::HashSet<String>,
}

/// The instance of `kind` every VU shares: the one named `name`, or without a name the one made
/// with `settings` (a canonical description of everything that makes it what it is). Sharing is by
/// this key, never by the order of the calls, so init code behind an `if` still gets the right
/// one. Asking twice for the same key in one VU's init is an error: two limiters with the same
/// rate are two budgets, and only a name can tell every VU which is which.
pub fn shared_instance<T: Any + Send + Sync>(
    lua: &Lua,
    kind: &str,
    name: Option<&str>,
    settings: String,
    make: impl FnOnce() -> Result<T, String>,
) -> mlua::Result<Arc<T>> {
    let key = match name {
        Some(n) => format!("{kind} '{n}'"),
        None => format!("{kind} {{{settings}}}"),
    };
    let shared = {
        let mut st = state_mut(lua);
        if st.phase == Phase::Init && !st.claimed.insert(key.clone()) {
            return Err(lua_error(
                lua,
                match name {
                    Some(n) => format!("{kind}: the name '{n}' is used twice in init"),
                    None => format!(
                        "{kind}: two made with the same settings ({settings}) in init; give each \
                         its own name = \"...\" so that every VU shares the right one"
                    ),
                },
            ));
        }
        st.shared.clone()
    };
    shared
        .instance(&key, &settings, make)
        .map_err(|e| lua_error(lua, e))
}

/// What a binding needs to time one operation, taken out of the VU state before awaiting.
pub struct OpScope {
    pub recorder: Rc<RefCell<Recorder>>,
    pub tags: Rc<Tags>,
    pub lateness: Duration,
}

impl OpScope {
    pub fn of(lua: &Lua) -> OpScope {
        let st = state(lua);
        OpScope {
            recorder: st.recorder.clone(),
            tags: st.tags.clone(),
            lateness: st.lateness,
        }
    }

    /// The VU's tags plus the call's own.
    pub fn with_tags(mut self, extra: Option<Tags>) -> OpScope {
        if let Some(extra) = extra.filter(|t| !t.is_empty()) {
            let mut tags = (*self.tags).clone();
            tags.extend(extra);
            self.tags = Rc::new(tags);
        }
        self
    }
}

pub fn state(lua: &Lua) -> mlua::AppDataRef<'_, VuState> {
    lua.app_data_ref::<VuState>()
        .expect("every Lua state of loadgen has a VuState")
}

pub fn state_mut(lua: &Lua) -> mlua::AppDataRefMut<'_, VuState> {
    lua.app_data_mut::<VuState>()
        .expect("every Lua state of loadgen has a VuState")
}

/// `file:line:` of the Lua code calling into Rust, for errors raised by bindings.
pub fn caller(lua: &Lua) -> String {
    for level in 1..4 {
        let found = lua.inspect_stack(level, |d| {
            let line = d.current_line()?;
            let src = d.source().short_src.map(|s| s.to_string())?;
            (src != "[C]").then(|| format!("{src}:{line}: "))
        });
        if let Some(Some(at)) = found {
            return at;
        }
    }
    String::new()
}

/// A Lua error raised by Rust code, prefixed with the script location of the call.
pub fn lua_error(lua: &Lua, msg: impl fmt::Display) -> mlua::Error {
    mlua::Error::RuntimeError(format!("{}{msg}", caller(lua)))
}

/// A short, human message for an mlua error (the root cause, with its file and line).
pub fn describe(e: &mlua::Error) -> String {
    match e {
        // Lua appends a traceback to errors raised with error(); the first line says where.
        mlua::Error::RuntimeError(m) => m
            .split("\nstack traceback:")
            .next()
            .unwrap_or(m)
            .to_string(),
        mlua::Error::SyntaxError { message, .. } => format!("syntax error: {message}"),
        mlua::Error::CallbackError { cause, .. } => describe(cause),
        mlua::Error::WithContext { context, cause } => format!("{context}: {}", describe(cause)),
        mlua::Error::ExternalError(err) => err.to_string(),
        other => other.to_string(),
    }
}

/// Where a VU runs: which scenario, with which extra tags and environment.
#[derive(Clone)]
pub struct VuSpec {
    pub vu_id: u64,
    pub scenario: Rc<str>,
    pub tags: Rc<Tags>,
    pub env: Rc<BTreeMap<String, String>>,
}

/// One virtual user: a Lua state that has run the script's init code.
pub struct Vu {
    pub lua: Lua,
    pub id: u64,
}

impl Vu {
    /// Creates the Lua state, registers the modules and runs the script's top-level (init) code.
    pub fn new(
        shared: Arc<Shared>,
        spec: VuSpec,
        recorder: Rc<RefCell<Recorder>>,
    ) -> Result<Vu, ScriptError> {
        let id = spec.vu_id;
        let err = |phase, e: &mlua::Error| ScriptError {
            phase,
            vu: id,
            message: describe(e),
        };
        let lua = Lua::new();
        // Iterations make short-lived garbage (responses, records): the generational collector
        // handles that with less work than the incremental one (docs/benchmarks.md).
        lua.gc_set_mode(mlua::state::GcMode::Generational(Default::default()));
        let seed = shared.seed();
        lua.set_app_data(VuState {
            vu_id: id,
            scenario: spec.scenario,
            iteration: 0,
            lateness: Duration::ZERO,
            tags: spec.tags,
            recorder,
            rng: rng::Rng::for_vu(seed, id),
            env: spec.env,
            shared: shared.clone(),
            phase: Phase::Init,
            claimed: Default::default(),
        });
        register_modules(&lua).map_err(|e| err(Phase::Init, &e))?;
        script_relative_require(&lua, &shared.script_dir()).map_err(|e| err(Phase::Init, &e))?;
        lua.load(shared.script.source.as_str())
            .set_name(format!("@{}", shared.script.path.display()))
            .exec()
            .map_err(|e| err(Phase::Init, &e))?;
        Ok(Vu { lua, id })
    }

    /// A global function of the script, or None when it does not exist.
    pub fn function(&self, name: &str) -> Option<Function> {
        match self.lua.globals().raw_get::<Value>(name) {
            Ok(Value::Function(f)) => Some(f),
            _ => None,
        }
    }

    /// The script's global `options`, as JSON.
    pub fn options(&self) -> Result<serde_json::Value, String> {
        let v: Value = self
            .lua
            .globals()
            .raw_get("options")
            .map_err(|e| e.to_string())?;
        json::to_json(&v).map_err(|e| e.replacen("value", "options", 1))
    }

    /// Switches the phase; setup and teardown samples carry the tag `group` = `::setup` or
    /// `::teardown` (as k6 names them).
    pub fn set_phase(&self, phase: Phase) {
        let mut st = state_mut(&self.lua);
        st.phase = phase;
        if matches!(phase, Phase::Setup | Phase::Teardown) {
            let mut tags = (*st.tags).clone();
            tags.insert("group".into(), format!("::{phase}"));
            st.tags = Rc::new(tags);
        }
    }

    /// Prepares the state for the next iteration.
    pub fn begin_iteration(&self, lateness: Duration) {
        let mut st = state_mut(&self.lua);
        st.iteration += 1;
        st.lateness = lateness;
        st.phase = Phase::Iteration;
    }

    /// Restarts this VU's random stream from the run seed (VU 0, once the options gave the seed).
    pub fn reseed(&self) {
        let mut st = state_mut(&self.lua);
        st.rng = rng::Rng::for_vu(st.shared.seed(), st.vu_id);
    }

    /// Converts setup data into this state's Lua value.
    pub fn data(&self, data: &serde_json::Value) -> mlua::Result<Value> {
        json::to_lua(&self.lua, data)
    }
}

/// `require("name")` finds `name.lua` (and `name/init.lua`) beside the script first, as k6 resolves
/// imports relative to the script, then in Lua's usual places.
fn script_relative_require(lua: &Lua, dir: &std::path::Path) -> mlua::Result<()> {
    let package: mlua::Table = lua.globals().get("package")?;
    let old: String = package.get("path")?;
    let dir = if dir.as_os_str().is_empty() {
        ".".to_string()
    } else {
        dir.display().to_string()
    };
    package.set("path", format!("{dir}/?.lua;{dir}/?/init.lua;{old}"))
}

/// Modules are built on first `require`, so a VU pays only for what its script uses
/// (docs/benchmarks.md measures the memory per VU).
fn register_modules(lua: &Lua) -> mlua::Result<()> {
    let preload: mlua::Table = lua
        .globals()
        .get::<mlua::Table>("package")?
        .get("preload")?;
    preload.set("loadgen", lua.create_function(|lua, ()| core::module(lua))?)?;
    preload.set(
        "loadgen.gen",
        lua.create_function(|lua, ()| gen::module(lua))?,
    )?;
    #[cfg(feature = "elasticsearch")]
    preload.set(
        "loadgen.elasticsearch",
        lua.create_function(|lua, ()| crate::bindings::elasticsearch::lua::module(lua))?,
    )?;
    #[cfg(feature = "hdfs")]
    preload.set(
        "loadgen.hdfs",
        lua.create_function(|lua, ()| crate::bindings::hdfs::lua::module(lua))?,
    )?;
    #[cfg(feature = "kafka")]
    preload.set(
        "loadgen.kafka",
        lua.create_function(|lua, ()| crate::bindings::kafka::lua::module(lua))?,
    )?;
    #[cfg(feature = "hive")]
    preload.set(
        "loadgen.hive",
        lua.create_function(|lua, ()| crate::bindings::hive::lua::module(lua))?,
    )?;
    #[cfg(feature = "phoenix")]
    preload.set(
        "loadgen.phoenix",
        lua.create_function(|lua, ()| crate::bindings::phoenix::lua::module(lua))?,
    )?;
    #[cfg(feature = "http")]
    preload.set(
        "loadgen.http",
        lua.create_function(|lua, ()| crate::bindings::http::lua::module(lua))?,
    )?;
    Ok(())
}

/// Runs a function and turns a Lua error into a message with file and line.
pub async fn call(f: &Function, args: impl mlua::IntoLuaMulti) -> Result<Value, String> {
    f.call_async::<Value>(args).await.map_err(|e| describe(&e))
}

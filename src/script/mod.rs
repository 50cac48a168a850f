//! The Lua side: one [`Vu`] is one Lua 5.4 state running the script. Lua 5.4 rather than LuaJIT:
//! its 64-bit integers keep BIGINT keys, Kafka offsets and epoch-microsecond timestamps exact, and
//! the per-call cost is far below what any store here absorbs (docs/benchmarks.md measures it).

pub mod core;
pub mod data;
pub mod gen;
mod guard;
pub mod json;
pub mod rng;
mod shared;

use crate::metrics::{Recorder, Tags};
use mlua::{Function, Lua, Value};
use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

pub use guard::is_stopped;
use guard::Guard;
pub use shared::Shared;

/// Coroutines a VU's Lua state keeps for reuse by async calls (see [`Vu::new`]).
const COROUTINE_POOL: usize = 4;

/// A Lua module a binding adds: its `require` name and the function that builds it.
pub type Module = (&'static str, fn(&Lua) -> mlua::Result<mlua::Table>);

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
    /// The error was a server the run needs failing before the load ([`Unreachable`]): exit 4.
    pub unreachable: bool,
}

impl ScriptError {
    pub fn new(phase: Phase, vu: u64, e: &mlua::Error) -> ScriptError {
        ScriptError {
            phase,
            vu,
            message: describe(e),
            unreachable: is_unreachable(e),
        }
    }
}

/// A server the run needs failed before the load (a Flink job that could not be deployed in
/// `setup()`). Raised as a Lua error with [`unreachable_error`]; the run then ends as one whose
/// server health check failed (exit 4), not as a script error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(pub String);

/// A Lua error carrying [`Unreachable`], with the script's file and line as [`lua_error`] gives.
pub fn unreachable_error(lua: &Lua, msg: impl fmt::Display) -> mlua::Error {
    mlua::Error::external(Unreachable(format!("{}{msg}", caller(lua))))
}

fn is_unreachable(e: &mlua::Error) -> bool {
    match e {
        mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } => {
            is_unreachable(cause)
        }
        mlua::Error::ExternalError(err) => err.downcast_ref::<Unreachable>().is_some(),
        _ => false,
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
    guard: Arc<Guard>,
}

impl Vu {
    /// Creates the Lua state, registers the modules and runs the script's top-level (init) code.
    pub fn new(
        shared: Arc<Shared>,
        spec: VuSpec,
        recorder: Rc<RefCell<Recorder>>,
    ) -> Result<Vu, ScriptError> {
        let id = spec.vu_id;
        let err = |phase, e: &mlua::Error| ScriptError::new(phase, id, e);
        // Every iteration is a `call_async`, which runs the function in a coroutine: with mlua's
        // default pool of 0, each one was a new Lua thread for the collector to free (a visible share
        // of an iteration's CPU in results/benchmarks/engine_cost_20261130). A VU runs one iteration
        // at a time, so a few recycled coroutines cover it.
        let lua = Lua::new_with(
            mlua::StdLib::ALL_SAFE,
            mlua::LuaOptions::new().thread_pool_size(COROUTINE_POOL),
        )
        .map_err(|e| err(Phase::Init, &e))?;
        let limits = shared.limits();
        let guard = guard::install(&lua, shared.clone()).map_err(|e| err(Phase::Init, &e))?;
        guard.set_memory(limits.memory);
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
        let vu = Vu { lua, guard };
        vu.limit_until(
            std::time::Instant::now() + limits.init_timeout,
            &format!(
                "init_timeout ({})",
                crate::util::format_duration(limits.init_timeout)
            ),
        );
        vu.lua
            .load(shared.script.source.as_str())
            .set_name(format!("@{}", shared.script.path.display()))
            .exec()
            .map_err(|e| err(Phase::Init, &e))?;
        vu.unlimit();
        Ok(vu)
    }

    /// Stops this VU's Lua code (with an error naming `limit`) if it still runs at `deadline`.
    pub fn limit_until(&self, deadline: std::time::Instant, limit: &str) {
        self.guard.set(deadline, limit);
    }

    /// Lifts the time limit of [`Vu::limit_until`].
    pub fn unlimit(&self) {
        self.guard.clear();
    }

    /// Applies the memory limit of the options (VU 0 was made before they were read).
    pub fn set_memory_limit(&self, bytes: usize) {
        self.guard.set_memory(bytes);
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
    // Scripts are trusted code: Lua's `io` and `os` stay (files, commands: the evaluation suite
    // uses both). `os.exit` alone goes, because ending the process would lose the result file.
    let os: mlua::Table = lua.globals().get("os")?;
    os.set(
        "exit",
        lua.create_function(|lua, _: mlua::MultiValue| -> mlua::Result<()> {
            Err(lua_error(
                lua,
                "os.exit is not available in loadgen scripts (the result would be lost): \
                 lg.abort(message) stops the run and keeps it",
            ))
        })?,
    )?;
    let preload: mlua::Table = lua
        .globals()
        .get::<mlua::Table>("package")?
        .get("preload")?;
    preload.set("loadgen", lua.create_function(|lua, ()| core::module(lua))?)?;
    preload.set(
        "loadgen.gen",
        lua.create_function(|lua, ()| gen::module(lua))?,
    )?;
    // The bindings built into this binary (`Shared::new` was given them): loaded on `require`.
    for &(name, load) in state(lua).shared.modules {
        preload.set(name, lua.create_function(move |lua, ()| load(lua))?)?;
    }
    Ok(())
}

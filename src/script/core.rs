//! The `loadgen` module: sleep, env, time, ids, checks, groups, custom metrics, limiters, JSON.

use super::{caller, json, lua_error, state, state_mut};
use crate::metrics::Tags;
use mlua::{Function, Lua, MultiValue, Table, UserData, UserDataMethods, Value};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// Names loadgen records itself; user metrics may not take them.
const RESERVED: &[&str] = &[
    "iterations",
    "iteration_duration",
    "dropped_iterations",
    "checks",
    "group_duration",
];
const RESERVED_PREFIXES: &[&str] = &["http.", "kafka.", "es.", "hive.", "phoenix.", "hdfs."];

/// Reads a duration argument: a number of seconds or a string such as "250ms".
pub fn duration_arg(lua: &Lua, v: &Value, what: &str) -> mlua::Result<Duration> {
    match v {
        Value::Integer(i) if *i >= 0 => Ok(Duration::from_secs(*i as u64)),
        Value::Number(n) if *n >= 0.0 && n.is_finite() => Ok(Duration::from_secs_f64(*n)),
        Value::String(s) => crate::util::parse_duration(&s.to_string_lossy())
            .map_err(|e| lua_error(lua, format!("{what}: {e}"))),
        other => Err(lua_error(
            lua,
            format!(
                "{what}: expected seconds or a duration string such as \"250ms\", got {}",
                other.type_name()
            ),
        )),
    }
}

/// Reads a table of `key = value` settings (tags, headers, client config) as strings; numbers and
/// booleans are written as text. `what` names the table in errors.
pub fn string_pairs(
    lua: &Lua,
    t: Option<Table>,
    what: &str,
) -> mlua::Result<Vec<(String, String)>> {
    let Some(t) = t else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for pair in t.pairs::<String, Value>() {
        let (k, v) = pair?;
        let v = match v {
            Value::String(s) => s.to_string_lossy(),
            Value::Integer(i) => i.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Boolean(b) => b.to_string(),
            other => {
                return Err(lua_error(
                    lua,
                    format!(
                        "{what} '{k}': expected a string, number or boolean, got {}",
                        other.type_name()
                    ),
                ))
            }
        };
        out.push((k, v));
    }
    Ok(out)
}

/// Reads an optional `tags` table.
pub fn tags_arg(lua: &Lua, v: Option<Table>) -> mlua::Result<Option<Tags>> {
    match v {
        None => Ok(None),
        t => Ok(Some(string_pairs(lua, t, "tag")?.into_iter().collect())),
    }
}

fn with_tags(lua: &Lua, extra: Option<Tags>) -> Rc<Tags> {
    let base = state(lua).tags.clone();
    match extra.filter(|t| !t.is_empty()) {
        None => base,
        Some(extra) => {
            let mut t = (*base).clone();
            t.extend(extra);
            Rc::new(t)
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Counter,
    Trend,
    Rate,
    Gauge,
}

/// A user metric handle (`lg.counter("name")` and friends).
struct Metric {
    name: String,
    kind: Kind,
}

impl UserData for Metric {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        fn record(lua: &Lua, this: &Metric, value: Value, tags: Option<Table>) -> mlua::Result<()> {
            let tags = with_tags(lua, tags_arg(lua, tags)?);
            let num = |v: &Value| -> mlua::Result<f64> {
                match v {
                    Value::Integer(i) => Ok(*i as f64),
                    Value::Number(n) => Ok(*n),
                    Value::Nil if this.kind == Kind::Counter => Ok(1.0),
                    other => Err(lua_error(
                        lua,
                        format!(
                            "{}: expected a number, got {}",
                            this.name,
                            other.type_name()
                        ),
                    )),
                }
            };
            let st = state(lua);
            let mut rec = st.recorder.borrow_mut();
            match this.kind {
                Kind::Counter => rec.add_counter(&this.name, &tags, num(&value)?),
                Kind::Trend => rec.add_trend(&this.name, &tags, num(&value)?),
                Kind::Gauge => rec.set_gauge(&this.name, &tags, num(&value)?),
                Kind::Rate => {
                    let pass = match value {
                        Value::Boolean(b) => b,
                        Value::Nil => false,
                        Value::Integer(i) => i != 0,
                        Value::Number(n) => n != 0.0,
                        _ => true,
                    };
                    rec.add_rate(&this.name, &tags, pass)
                }
            }
            Ok(())
        }
        m.add_method("add", |lua, this, (v, tags): (Value, Option<Table>)| {
            record(lua, this, v, tags)
        });
        m.add_method("set", |lua, this, (v, tags): (Value, Option<Table>)| {
            record(lua, this, v, tags)
        });
        m.add_method("name", |_, this, ()| Ok(this.name.clone()));
    }
}

fn metric(lua: &Lua, name: String, kind: Kind) -> mlua::Result<Metric> {
    if name.is_empty()
        || RESERVED.contains(&name.as_str())
        || RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
    {
        return Err(lua_error(
            lua,
            format!("metric name '{name}' is empty or reserved for loadgen's own metrics"),
        ));
    }
    if name.contains(['{', '}']) {
        return Err(lua_error(
            lua,
            format!("metric name '{name}' may not contain braces"),
        ));
    }
    Ok(Metric { name, kind })
}

/// A rate limiter shared by every VU (found by its settings or name: `make_limiter`).
struct Limiter(Arc<governor::DefaultDirectRateLimiter>);

impl UserData for Limiter {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        // Waits until `n` units (records, docs, rows...) may go.
        m.add_async_method("wait", |lua, this, n: Option<u32>| async move {
            let n = std::num::NonZeroU32::new(n.unwrap_or(1).max(1)).expect("max(1)");
            let limiter = this.0.clone();
            limiter.until_n_ready(n).await.map_err(|e| {
                lua_error(
                    &lua,
                    format!("limiter:wait({n}): {e} (more than the burst)"),
                )
            })
        });
    }
}

/// Waits until `n` units (records, documents, rows) may go through a binding's `rate_limit`, in steps no
/// larger than the limiter's burst: governor refuses a step above it (`InsufficientCapacity`, which
/// names the burst), and the step shrinks to that. Every unit is waited for, whatever the batch size.
pub async fn wait_units(limiter: &governor::DefaultDirectRateLimiter, n: u32) {
    let mut left = n;
    let mut most = u32::MAX;
    while let Some(step) = std::num::NonZeroU32::new(left.min(most)) {
        match limiter.until_n_ready(step).await {
            Ok(()) => left -= step.get(),
            Err(governor::InsufficientCapacity(burst)) => most = burst.max(1),
        }
    }
}

/// A token bucket shared by every VU: `kind` is what asks for it (`lg.limiter`, or a client's
/// `rate_limit`), `target` what the client talks to (empty for `lg.limiter`), `name` the script's
/// own name for it. See [`crate::script::shared_instance`] for how VUs find the same one.
pub fn make_limiter(
    lua: &Lua,
    kind: &str,
    name: Option<&str>,
    target: &str,
    rate: f64,
    burst: Option<u32>,
) -> mlua::Result<Arc<governor::DefaultDirectRateLimiter>> {
    if !(rate.is_finite() && rate > 0.0) {
        return Err(lua_error(
            lua,
            format!("rate_limit: expected a rate > 0 per second, got {rate}"),
        ));
    }
    let burst = burst.unwrap_or_else(|| (rate.ceil() as u32).clamp(1, 1_000_000));
    let mut settings = format!("rate = {rate}/s, burst = {burst}");
    if !target.is_empty() {
        settings = format!("{target}, {settings}");
    }
    crate::script::shared_instance(lua, kind, name, settings, || {
        let period = Duration::from_secs_f64(1.0 / rate);
        let quota = governor::Quota::with_period(period)
            .ok_or("rate too high")?
            .allow_burst(std::num::NonZeroU32::new(burst.max(1)).expect("max(1)"));
        Ok(governor::RateLimiter::direct(quota))
    })
}

pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;

    m.set(
        "sleep",
        lua.create_async_function(|lua, d: Value| async move {
            let d = duration_arg(&lua, &d, "sleep")?;
            tokio::time::sleep(d).await;
            Ok(())
        })?,
    )?;

    m.set(
        "env",
        lua.create_function(|lua, (key, default): (String, Option<Value>)| {
            let st = state(lua);
            let v = st
                .env
                .get(&key)
                .or_else(|| st.shared.env.get(&key))
                .cloned()
                .or_else(|| std::env::var(&key).ok());
            Ok(match v {
                Some(v) => Value::String(lua.create_string(v)?),
                None => default.unwrap_or(Value::Nil),
            })
        })?,
    )?;

    m.set(
        "now",
        lua.create_function(|_, ()| Ok(crate::util::epoch_micros() / 1000))?,
    )?;
    m.set(
        "now_us",
        lua.create_function(|_, ()| Ok(crate::util::epoch_micros()))?,
    )?;
    m.set(
        "rss_bytes",
        lua.create_function(|_, ()| Ok(crate::util::rss_bytes()))?,
    )?;
    m.set("vu", lua.create_function(|lua, ()| Ok(state(lua).vu_id))?)?;
    m.set(
        "instance",
        lua.create_function(|lua, ()| {
            let i = state(lua).shared.run_instance();
            let t = lua.create_table()?;
            t.set("index", i.index + 1)?;
            t.set("count", i.count)?;
            Ok(t)
        })?,
    )?;
    m.set(
        "iteration",
        lua.create_function(|lua, ()| Ok(state(lua).iteration))?,
    )?;
    m.set(
        "scenario",
        lua.create_function(|lua, ()| Ok(state(lua).scenario.to_string()))?,
    )?;
    // How late the current iteration started against its schedule, in ms (0 in closed models and
    // outside iterations): a script that times several calls as one adds it, as bindings do.
    m.set(
        "lateness_ms",
        lua.create_function(|lua, ()| Ok(state(lua).lateness.as_secs_f64() * 1000.0))?,
    )?;
    m.set(
        "phase",
        lua.create_function(|lua, ()| Ok(state(lua).phase.to_string()))?,
    )?;

    // check(value, { name = function(v) return bool end, ... }, tags) -> all passed
    m.set(
        "check",
        lua.create_async_function(
            |lua, (value, checks, tags): (Value, Table, Option<Table>)| async move {
                let mut all = true;
                let mut names: Vec<(String, Function)> = Vec::new();
                for pair in checks.pairs::<String, Function>() {
                    let (name, f) = pair.map_err(|e| lua_error(&lua, format!("check: {e}")))?;
                    names.push((name, f));
                }
                names.sort_by(|a, b| a.0.cmp(&b.0));
                let base = tags_arg(&lua, tags)?;
                for (name, f) in names {
                    let pass = !matches!(
                        f.call_async::<Value>(value.clone()).await?,
                        Value::Nil | Value::Boolean(false)
                    );
                    all &= pass;
                    let mut t = base.clone().unwrap_or_default();
                    t.insert("check".into(), name);
                    let tags = with_tags(&lua, Some(t));
                    state(&lua)
                        .recorder
                        .borrow_mut()
                        .add_rate("checks", &tags, pass);
                }
                Ok(all)
            },
        )?,
    )?;

    // group(name, fn, ...) runs fn with the tag group=name and records group_duration.
    m.set(
        "group",
        lua.create_async_function(
            |lua, (name, f, args): (String, Function, MultiValue)| async move {
                let previous = state(&lua).tags.clone();
                let mut tags = (*previous).clone();
                let full = match previous.get("group") {
                    Some(outer) => format!("{outer}::{name}"),
                    None => name,
                };
                tags.insert("group".into(), full);
                let tags = Rc::new(tags);
                state_mut(&lua).tags = tags.clone();
                let start = std::time::Instant::now();
                let result = f.call_async::<MultiValue>(args).await;
                let ms = start.elapsed().as_secs_f64() * 1000.0;
                state(&lua)
                    .recorder
                    .borrow_mut()
                    .add_trend("group_duration", &tags, ms);
                state_mut(&lua).tags = previous;
                result
            },
        )?,
    )?;

    for (fname, kind) in [
        ("counter", Kind::Counter),
        ("trend", Kind::Trend),
        ("rate", Kind::Rate),
        ("gauge", Kind::Gauge),
    ] {
        m.set(
            fname,
            lua.create_function(move |lua, name: String| metric(lua, name, kind))?,
        )?;
    }

    m.set(
        "limiter",
        lua.create_function(|lua, opts: Table| {
            let rate: f64 = opts
                .get::<Option<f64>>("rate")?
                .ok_or_else(|| lua_error(lua, "limiter: 'rate' (per second) is required"))?;
            check_keys(lua, "lg.limiter", &opts, &["burst", "name", "rate"])?;
            let burst: Option<u32> = opts.get("burst")?;
            let name: Option<String> = opts.get("name")?;
            Ok(Limiter(make_limiter(
                lua,
                "lg.limiter",
                name.as_deref(),
                "",
                rate,
                burst,
            )?))
        })?,
    )?;

    m.set(
        "abort",
        lua.create_function(|lua, msg: Option<String>| -> mlua::Result<()> {
            let reason = format!(
                "{}lg.abort({})",
                caller(lua),
                msg.as_deref().map(|m| format!("{m:?}")).unwrap_or_default()
            );
            let st = state(lua);
            st.shared.request_abort(reason.clone());
            Err(mlua::Error::RuntimeError(reason))
        })?,
    )?;

    m.set(
        "json_encode",
        lua.create_function(|lua, v: Value| {
            let j = json::to_json(&v).map_err(|e| lua_error(lua, format!("json_encode: {e}")))?;
            Ok(j.to_string())
        })?,
    )?;
    m.set(
        "json_decode",
        lua.create_function(|lua, s: mlua::LuaString| {
            let j: serde_json::Value = serde_json::from_slice(&s.as_bytes())
                .map_err(|e| lua_error(lua, format!("json_decode: {e}")))?;
            json::to_lua(lua, &j)
        })?,
    )?;

    Ok(m)
}

/// Refuses any key of an options table that is not in `valid`, naming it and listing the valid ones
/// (`kafka.producer: unknown option 'ack'; valid: acks, ...`): a typo is an error, not a default.
pub fn check_keys(lua: &Lua, what: &str, t: &Table, valid: &[&str]) -> mlua::Result<()> {
    for pair in t.clone().pairs::<mlua::Value, mlua::Value>() {
        let (k, _) = pair?;
        let key = match &k {
            mlua::Value::String(s) => s.to_string_lossy(),
            other => format!("{other:?}"),
        };
        if !valid.contains(&key.as_str()) {
            return Err(lua_error(
                lua,
                format!(
                    "{what}: unknown option '{key}'; valid: {}",
                    valid.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::wait_units;
    use std::num::NonZeroU32;
    use std::time::{Duration, Instant};

    /// A batch larger than the burst waits for every unit. (Before `wait_units`, Elasticsearch and
    /// Phoenix asked for steps of 1,000 units and, refused above the burst, waited for one unit
    /// instead: a 5,000-document bulk under `rate_limit = 500` went out after 5 units.)
    #[tokio::test(flavor = "current_thread")]
    async fn a_batch_above_the_burst_waits_for_every_unit() {
        let quota = governor::Quota::per_second(NonZeroU32::new(1_000).unwrap())
            .allow_burst(NonZeroU32::new(100).unwrap());
        let l = governor::RateLimiter::direct(quota);
        let t0 = Instant::now();
        wait_units(&l, 300).await;
        // 100 at once (the burst), 200 more at 1,000/s: at least 0.2 s (a lower bound from the
        // rate, not a speed target), and nothing left in the bucket afterwards.
        assert!(
            t0.elapsed() >= Duration::from_millis(190),
            "{:?}",
            t0.elapsed()
        );
        assert!(l.check_n(NonZeroU32::new(100).unwrap()).unwrap().is_err());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_batch_within_the_burst_goes_at_once() {
        let quota = governor::Quota::per_second(NonZeroU32::new(10).unwrap())
            .allow_burst(NonZeroU32::new(50).unwrap());
        let l = governor::RateLimiter::direct(quota);
        wait_units(&l, 50).await;
        wait_units(&l, 0).await;
        assert!(l.check_n(NonZeroU32::new(1).unwrap()).unwrap().is_err());
    }
}

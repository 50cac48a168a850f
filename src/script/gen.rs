//! The `loadgen.gen` module: seeded random data and key distributions, data files.

use super::rng::{fnv64, zeta, Zipf};
use super::{data, lua_error, state, state_mut};
use mlua::{Lua, Table, UserData, UserDataMethods, Value};
use std::fmt::Write;

const WORDS: &[&str] = &[
    "alpha",
    "broker",
    "cache",
    "delta",
    "engine",
    "filter",
    "gateway",
    "harbor",
    "index",
    "join",
    "kernel",
    "ledger",
    "metric",
    "node",
    "offset",
    "partition",
    "query",
    "replica",
    "shard",
    "topic",
    "update",
    "vector",
    "window",
    "yield",
    "zone",
    "amber",
    "basalt",
    "cedar",
    "dune",
    "ember",
    "fjord",
    "granite",
    "heron",
    "iris",
    "juniper",
    "kelp",
    "lichen",
    "maple",
    "nectar",
    "opal",
    "pine",
    "quartz",
    "river",
    "sage",
    "tundra",
    "umber",
    "violet",
    "willow",
    "xenon",
    "yarrow",
    "zephyr",
    "checkout",
    "login",
    "search",
    "payment",
    "session",
    "order",
    "stream",
    "batch",
    "latency",
    "timeout",
    "retry",
    "commit",
    "rollback",
    "snapshot",
    "segment",
    "column",
    "region",
    "master",
    "worker",
    "driver",
    "client",
    "server",
    "socket",
    "buffer",
    "record",
];
const SERVICES: &[&str] = &[
    "checkout", "search", "auth", "payments", "catalog", "gateway",
];
const LEVELS: &[(&str, u64)] = &[("INFO", 80), ("WARN", 12), ("ERROR", 6), ("DEBUG", 2)];

fn pick<'a>(lua: &Lua, items: &'a [&'a str]) -> &'a str {
    let i = state_mut(lua).rng.below(items.len() as u64) as usize;
    items[i]
}

fn words(lua: &Lua, n: usize) -> String {
    let mut st = state_mut(lua);
    let mut s = String::with_capacity(n * 7);
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(WORDS[st.rng.below(WORDS.len() as u64) as usize]);
    }
    s
}

pub fn uuid(lua: &Lua) -> String {
    let mut st = state_mut(lua);
    let (a, b) = (st.rng.next_u64(), st.rng.next_u64());
    // Version 4, variant 10xx.
    let a = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
    let b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        a & 0xFFFF,
        b >> 48,
        b & 0xFFFF_FFFF_FFFF
    )
}

/// A monitoring event, as the platform's logs carry them.
fn event(lua: &Lua) -> mlua::Result<Table> {
    let ts = crate::util::epoch_micros() / 1000;
    let host = format!("host-{:03}", state_mut(lua).rng.below(200));
    let service = pick(lua, SERVICES);
    let level = {
        let mut st = state_mut(lua);
        let mut r = st.rng.below(100);
        LEVELS
            .iter()
            .find(|(_, w)| {
                if r < *w {
                    true
                } else {
                    r -= w;
                    false
                }
            })
            .map(|(l, _)| *l)
            .unwrap_or("INFO")
    };
    let (status, latency, bytes) = {
        let mut st = state_mut(lua);
        let status = if level == "ERROR" { 500 } else { 200 };
        let latency = st.rng.normal(40.0, 15.0).max(0.1);
        (
            status,
            (latency * 10.0).round() / 10.0,
            200 + st.rng.below(20_000) as i64,
        )
    };
    let t = lua.create_table()?;
    t.set("ts", ts)?;
    t.set("host", host)?;
    t.set("service", service)?;
    t.set("level", level)?;
    t.set("status", status)?;
    t.set("latency_ms", latency)?;
    t.set("bytes", bytes)?;
    t.set("trace_id", uuid(lua))?;
    t.set("message", words(lua, 8))?;
    Ok(t)
}

/// A key distribution object: `d:next()` returns an integer key in [0, n).
struct Dist {
    kind: DistKind,
}

enum DistKind {
    Uniform(u64),
    Zipf {
        z: Zipf,
        scrambled: bool,
        latest: bool,
    },
}

impl UserData for Dist {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("next", |lua, this, ()| {
            let mut st = state_mut(lua);
            let v = match &this.kind {
                DistKind::Uniform(n) => st.rng.below(*n),
                DistKind::Zipf {
                    z,
                    scrambled,
                    latest,
                } => {
                    let n = z.n();
                    let rank = z.sample(&mut st.rng);
                    if *scrambled {
                        fnv64(rank) % n
                    } else if *latest {
                        n - 1 - rank
                    } else {
                        rank
                    }
                }
            };
            Ok(v as i64)
        });
    }
}

fn zipf(lua: &Lua, n: u64, theta: f64) -> mlua::Result<Zipf> {
    if n == 0 {
        return Err(lua_error(lua, "zipfian: n must be at least 1"));
    }
    if !(theta > 0.0 && theta < 1.0) {
        return Err(lua_error(
            lua,
            format!("zipfian: theta must be in (0, 1), got {theta}"),
        ));
    }
    let shared = state(lua).shared.clone();
    let key = (n, theta.to_bits());
    let cached = shared.zeta.lock().expect("zeta lock").get(&key).copied();
    let zetan = match cached {
        Some(z) => z,
        None => {
            let z = zeta(n, theta);
            shared.zeta.lock().expect("zeta lock").insert(key, z);
            z
        }
    };
    Ok(Zipf::new(n, theta, zetan))
}

fn count(lua: &Lua, v: i64, what: &str) -> mlua::Result<u64> {
    if v < 1 {
        return Err(lua_error(
            lua,
            format!("{what}: n must be at least 1, got {v}"),
        ));
    }
    Ok(v as u64)
}

pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    m.set(
        "int",
        lua.create_function(|lua, (lo, hi): (i64, i64)| {
            if hi < lo {
                return Err(lua_error(
                    lua,
                    format!("int({lo}, {hi}): the upper bound is below the lower"),
                ));
            }
            Ok(state_mut(lua).rng.range(lo, hi))
        })?,
    )?;
    m.set(
        "float",
        lua.create_function(|lua, ()| Ok(state_mut(lua).rng.next_f64()))?,
    )?;
    m.set(
        "normal",
        lua.create_function(|lua, (mean, sd): (f64, f64)| Ok(state_mut(lua).rng.normal(mean, sd)))?,
    )?;
    m.set(
        "uniform",
        lua.create_function(|lua, n: i64| {
            Ok(Dist {
                kind: DistKind::Uniform(count(lua, n, "uniform")?),
            })
        })?,
    )?;
    m.set(
        "zipfian",
        lua.create_function(|lua, (n, opts): (i64, Option<Table>)| {
            let n = count(lua, n, "zipfian")?;
            let theta = match &opts {
                Some(o) => o.get::<Option<f64>>("theta")?.unwrap_or(0.99),
                None => 0.99,
            };
            let scrambled = match &opts {
                Some(o) => o.get::<Option<bool>>("scrambled")?.unwrap_or(false),
                None => false,
            };
            Ok(Dist {
                kind: DistKind::Zipf {
                    z: zipf(lua, n, theta)?,
                    scrambled,
                    latest: false,
                },
            })
        })?,
    )?;
    m.set(
        "latest",
        lua.create_function(|lua, n: i64| {
            let n = count(lua, n, "latest")?;
            Ok(Dist {
                kind: DistKind::Zipf {
                    z: zipf(lua, n, 0.99)?,
                    scrambled: false,
                    latest: true,
                },
            })
        })?,
    )?;
    m.set("uuid", lua.create_function(|lua, ()| Ok(uuid(lua)))?)?;
    m.set(
        "word",
        lua.create_function(|lua, ()| Ok(pick(lua, WORDS).to_string()))?,
    )?;
    m.set(
        "words",
        lua.create_function(|lua, n: Option<usize>| Ok(words(lua, n.unwrap_or(5))))?,
    )?;
    m.set(
        "sentence",
        lua.create_function(|lua, n: Option<usize>| {
            let mut s = words(lua, n.unwrap_or(10).max(1));
            if let Some(first) = s.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            s.push('.');
            Ok(s)
        })?,
    )?;
    m.set(
        "string",
        lua.create_function(|lua, n: usize| {
            const ALPHABET: &[u8] =
                b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
            let mut st = state_mut(lua);
            let s: String = (0..n)
                .map(|_| ALPHABET[st.rng.below(ALPHABET.len() as u64) as usize] as char)
                .collect();
            Ok(s)
        })?,
    )?;
    m.set(
        "timestamp",
        lua.create_function(|_, ()| Ok(crate::util::epoch_micros()))?,
    )?;
    m.set(
        "iso_time",
        lua.create_function(|_, ()| Ok(crate::util::rfc3339(std::time::SystemTime::now())))?,
    )?;
    m.set(
        "choice",
        lua.create_function(|lua, t: Table| {
            let n = t.raw_len();
            if n == 0 {
                return Ok(Value::Nil);
            }
            let i = state_mut(lua).rng.below(n as u64) as usize;
            t.raw_get::<Value>(i + 1)
        })?,
    )?;
    m.set("event", lua.create_function(|lua, ()| event(lua))?)?;
    m.set(
        "json_event",
        lua.create_function(|lua, ()| {
            let t = event(lua)?;
            let j = super::json::to_json(&Value::Table(t)).map_err(|e| lua_error(lua, e))?;
            let mut s = String::with_capacity(256);
            write!(s, "{j}").expect("writing to a String");
            Ok(s)
        })?,
    )?;
    m.set(
        "csv",
        lua.create_function(|lua, (path, opts): (String, Option<Table>)| {
            let header = match &opts {
                Some(o) => o.get::<Option<bool>>("header")?.unwrap_or(true),
                None => true,
            };
            let sep = match &opts {
                Some(o) => o
                    .get::<Option<String>>("separator")?
                    .and_then(|s| s.chars().next())
                    .unwrap_or(','),
                None => ',',
            };
            data::open(lua, &path, "csv", header, sep)
        })?,
    )?;
    m.set(
        "jsonl",
        lua.create_function(|lua, path: String| data::open(lua, &path, "jsonl", false, ','))?,
    )?;
    Ok(m)
}

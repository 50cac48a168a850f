//! Script `options` + command-line overrides -> [`RunPlan`]. The precedence lives here and only here:
//! command line (or its `LOADGEN_*` environment variable, which clap folds in) over the script.
//!
//! The input is the script's `options` table already converted to JSON, so this module stays free of
//! Lua types and is unit-tested with plain JSON.

use super::*;
use crate::metrics::thresholds::{parse_metric_selector, Expression, ThresholdRule, ThresholdSpec};
use crate::util::parse_duration;
use serde_json::{Map, Value};

/// What the command line may override.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub vus: Option<u64>,
    pub duration: Option<Duration>,
    pub iterations: Option<u64>,
    pub rate: Option<f64>,
    pub tags: BTreeMap<String, String>,
    pub seed: Option<u64>,
    pub workers: Option<usize>,
}

const DEFAULT_GRACEFUL_STOP: Duration = Duration::from_secs(30);
const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(600);

/// Reads the fields of one JSON object, remembering which keys were asked for, so that leftovers are
/// reported with the list of valid keys.
struct Fields<'a> {
    path: String,
    map: &'a Map<String, Value>,
    known: Vec<&'static str>,
}

type R<T> = Result<T, String>;

impl<'a> Fields<'a> {
    fn new(path: impl Into<String>, value: &'a Value) -> R<Self> {
        let path = path.into();
        match value {
            Value::Object(map) => Ok(Fields {
                path,
                map,
                known: Vec::new(),
            }),
            other => Err(format!("{path}: expected a table, got {}", kind(other))),
        }
    }

    fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    fn u64(&mut self, key: &'static str) -> R<Option<u64>> {
        let at = self.at(key);
        self.get(key)
            .map(|v| match v {
                Value::Number(n) => n
                    .as_u64()
                    .or_else(|| {
                        n.as_f64()
                            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                            .map(|f| f as u64)
                    })
                    .ok_or_else(|| format!("{at}: expected a whole number >= 0, got {n}")),
                other => Err(format!(
                    "{at}: expected a whole number, got {}",
                    kind(other)
                )),
            })
            .transpose()
    }

    fn f64(&mut self, key: &'static str) -> R<Option<f64>> {
        let at = self.at(key);
        self.get(key)
            .map(|v| match v {
                Value::Number(n) => n
                    .as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .ok_or_else(|| format!("{at}: expected a number >= 0, got {n}")),
                other => Err(format!("{at}: expected a number, got {}", kind(other))),
            })
            .transpose()
    }

    fn bool(&mut self, key: &'static str) -> R<Option<bool>> {
        let at = self.at(key);
        self.get(key)
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| format!("{at}: expected true or false, got {}", kind(v)))
            })
            .transpose()
    }

    fn string(&mut self, key: &'static str) -> R<Option<String>> {
        let at = self.at(key);
        self.get(key)
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{at}: expected a string, got {}", kind(v)))
            })
            .transpose()
    }

    fn duration(&mut self, key: &'static str) -> R<Option<Duration>> {
        let at = self.at(key);
        self.get(key)
            .map(|v| match v {
                Value::String(s) => parse_duration(s).map_err(|e| format!("{at}: {e}")),
                Value::Number(n) => n
                    .as_f64()
                    .filter(|f| *f >= 0.0)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| format!("{at}: bad duration {n}")),
                other => Err(format!(
                    "{at}: expected a duration such as \"30s\", got {}",
                    kind(other)
                )),
            })
            .transpose()
    }

    fn string_map(&mut self, key: &'static str) -> R<BTreeMap<String, String>> {
        let at = self.at(key);
        let Some(v) = self.get(key) else {
            return Ok(BTreeMap::new());
        };
        let Value::Object(map) = v else {
            return Err(format!(
                "{at}: expected a table of strings, got {}",
                kind(v)
            ));
        };
        map.iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Number(n) => Ok((k.clone(), n.to_string())),
                Value::Bool(b) => Ok((k.clone(), b.to_string())),
                other => Err(format!("{at}.{k}: expected a string, got {}", kind(other))),
            })
            .collect()
    }

    fn required<T>(&self, key: &'static str, value: Option<T>, what: &str) -> R<T> {
        value.ok_or_else(|| format!("{}: required ({what})", self.at(key)))
    }

    /// Errors on any key nobody asked for, listing the valid ones.
    fn finish(self) -> R<()> {
        let mut unknown: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !self.known.contains(&k.as_str()))
            .collect();
        unknown.sort();
        if let Some(key) = unknown.first() {
            let mut valid = self.known.clone();
            valid.sort();
            valid.dedup();
            return Err(format!(
                "{}: unknown option; valid options here: {}",
                self.at(key),
                valid.join(", ")
            ));
        }
        Ok(())
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

fn stages(path: &str, v: Option<&Value>) -> R<Vec<Stage>> {
    let Some(v) = v else {
        return Err(format!(
            "{path}: required (a list of {{ duration = \"10s\", target = N }})"
        ));
    };
    let Value::Array(items) = v else {
        return Err(format!(
            "{path}: expected a list of {{ duration = \"10s\", target = N }}, got {}",
            kind(v)
        ));
    };
    if items.is_empty() {
        return Err(format!("{path}: needs at least one stage"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let mut f = Fields::new(format!("{path}[{}]", i + 1), item)?;
            let duration = f.duration("duration")?;
            let target = f.f64("target")?;
            let stage = Stage {
                duration: f.required("duration", duration, "a duration")?,
                target: f.required("target", target, "a number")?,
            };
            f.finish()?;
            Ok(stage)
        })
        .collect()
}

fn scenario(name: &str, value: &Value) -> R<Scenario> {
    let path = format!("scenarios.{name}");
    let mut f = Fields::new(&path, value)?;
    let executor_name = f.string("executor")?;
    let executor_name = f.required(
        "executor",
        executor_name,
        "one of shared-iterations, per-vu-iterations, constant-vus, ramping-vus, \
         constant-arrival-rate, ramping-arrival-rate",
    )?;
    let exec = f.string("exec")?.unwrap_or_else(|| "default".into());
    let start_time = f.duration("start_time")?.unwrap_or_default();
    let graceful_stop = f
        .duration("graceful_stop")?
        .unwrap_or(DEFAULT_GRACEFUL_STOP);
    let tags = f.string_map("tags")?;
    let env = f.string_map("env")?;
    // Unknown keys first: a typo ("rte") says more than the missing field it hides ("rate").
    let specific: &[&'static str] = match executor_name.as_str() {
        "shared-iterations" | "per-vu-iterations" => &["vus", "iterations", "max_duration"],
        "constant-vus" => &["vus", "duration"],
        "ramping-vus" => &["start_vus", "stages", "graceful_ramp_down"],
        "constant-arrival-rate" => &[
            "rate",
            "time_unit",
            "duration",
            "pre_allocated_vus",
            "max_vus",
            "drop_late",
        ],
        "ramping-arrival-rate" => &[
            "start_rate",
            "time_unit",
            "stages",
            "pre_allocated_vus",
            "max_vus",
            "drop_late",
        ],
        _ => &[],
    };
    if !specific.is_empty() {
        let mut valid: Vec<&str> = f.known.iter().chain(specific).copied().collect();
        valid.sort();
        if let Some(bad) = f.map.keys().filter(|k| !valid.contains(&k.as_str())).min() {
            return Err(format!(
                "{}: unknown option for {executor_name}; valid options here: {}",
                f.at(bad),
                valid.join(", ")
            ));
        }
    }
    let positive = |f: &Fields, key: &'static str, v: u64| -> R<u64> {
        if v == 0 {
            Err(format!("{}: must be at least 1", f.at(key)))
        } else {
            Ok(v)
        }
    };
    let executor = match executor_name.as_str() {
        "shared-iterations" | "per-vu-iterations" => {
            let vus = f.u64("vus")?.unwrap_or(1);
            let vus = positive(&f, "vus", vus)?;
            let iterations = f.u64("iterations")?.unwrap_or(1);
            let max_duration = f.duration("max_duration")?.unwrap_or(DEFAULT_MAX_DURATION);
            if executor_name == "shared-iterations" {
                Executor::SharedIterations {
                    vus: vus.min(iterations.max(1)),
                    iterations,
                    max_duration,
                }
            } else {
                Executor::PerVuIterations {
                    vus,
                    iterations,
                    max_duration,
                }
            }
        }
        "constant-vus" => {
            let vus = f.u64("vus")?.unwrap_or(1);
            let duration = f.duration("duration")?;
            Executor::ConstantVus {
                vus: positive(&f, "vus", vus)?,
                duration: f.required("duration", duration, "a duration such as \"30s\"")?,
            }
        }
        "ramping-vus" => {
            let start_vus = f.u64("start_vus")?.unwrap_or(1);
            let st = stages(&f.at("stages"), f.get("stages"))?;
            let graceful_ramp_down = f
                .duration("graceful_ramp_down")?
                .unwrap_or(DEFAULT_GRACEFUL_STOP);
            Executor::RampingVus {
                start_vus,
                stages: st,
                graceful_ramp_down,
            }
        }
        "constant-arrival-rate" | "ramping-arrival-rate" => {
            let time_unit = f.duration("time_unit")?.unwrap_or(Duration::from_secs(1));
            if time_unit.is_zero() {
                return Err(format!("{}: must be longer than 0", f.at("time_unit")));
            }
            let pre = f.u64("pre_allocated_vus")?;
            let pre = f.required(
                "pre_allocated_vus",
                pre,
                "VUs to initialise before the start",
            )?;
            let pre = positive(&f, "pre_allocated_vus", pre)?;
            let max_vus = f.u64("max_vus")?.unwrap_or(pre).max(pre);
            let drop_late = f.bool("drop_late")?.unwrap_or(false);
            if executor_name == "constant-arrival-rate" {
                let rate = f.f64("rate")?;
                let rate = f.required("rate", rate, "iterations per time_unit")?;
                if rate <= 0.0 {
                    return Err(format!("{}: must be more than 0", f.at("rate")));
                }
                let duration = f.duration("duration")?;
                Executor::ConstantArrivalRate {
                    rate,
                    time_unit,
                    duration: f.required("duration", duration, "a duration such as \"30s\"")?,
                    pre_allocated_vus: pre,
                    max_vus,
                    drop_late,
                }
            } else {
                let start_rate = f.f64("start_rate")?.unwrap_or(0.0);
                let st = stages(&f.at("stages"), f.get("stages"))?;
                Executor::RampingArrivalRate {
                    start_rate,
                    time_unit,
                    stages: st,
                    pre_allocated_vus: pre,
                    max_vus,
                    drop_late,
                }
            }
        }
        other => {
            return Err(format!(
                "{}: unknown executor '{other}'; valid: shared-iterations, per-vu-iterations, \
                 constant-vus, ramping-vus, constant-arrival-rate, ramping-arrival-rate",
                f.at("executor")
            ))
        }
    };
    f.finish()?;
    if executor.max_duration().is_zero() {
        return Err(format!("{path}: the executor's duration is 0"));
    }
    Ok(Scenario {
        name: name.to_string(),
        exec,
        start_time,
        graceful_stop,
        tags,
        env,
        executor,
    })
}

fn thresholds(value: Option<&Value>) -> R<Vec<ThresholdSpec>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let Value::Object(map) = value else {
        return Err(format!("thresholds: expected a table, got {}", kind(value)));
    };
    let mut specs = Vec::new();
    for (key, rules_value) in map {
        let path = format!("thresholds[\"{key}\"]");
        let (metric, tags) = parse_metric_selector(key).map_err(|e| format!("{path}: {e}"))?;
        let items: Vec<&Value> = match rules_value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        let mut rules = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let at = format!("{path}[{}]", i + 1);
            let (source, abort_on_fail, delay_abort_eval) = match item {
                Value::String(s) => (s.clone(), false, Duration::ZERO),
                Value::Object(_) => {
                    let mut f = Fields::new(&at, item)?;
                    let source = f.string("threshold")?;
                    let source = f.required("threshold", source, "an expression such as \"p(95) < 200ms\"")?;
                    let abort = f.bool("abort_on_fail")?.unwrap_or(false);
                    let delay = f.duration("delay_abort_eval")?.unwrap_or_default();
                    f.finish()?;
                    (source, abort, delay)
                }
                other => {
                    return Err(format!(
                        "{at}: expected an expression string or {{ threshold = ..., abort_on_fail = ... }}, got {}",
                        kind(other)
                    ))
                }
            };
            let expression = Expression::parse(&source).map_err(|e| format!("{at}: {e}"))?;
            rules.push(ThresholdRule {
                expression,
                source,
                abort_on_fail,
                delay_abort_eval,
            });
        }
        specs.push(ThresholdSpec {
            key: key.clone(),
            metric,
            tags,
            rules,
        });
    }
    Ok(specs)
}

/// Builds the plan. `options` is the script's `options` table as JSON (`Null` when absent).
pub fn build(options: &Value, o: &Overrides) -> R<RunPlan> {
    let empty = Value::Object(Map::new());
    let options = if options.is_null() { &empty } else { options };
    let mut f = Fields::new("", options).map_err(|_| "options: expected a table".to_string())?;
    let vus = f.u64("vus")?;
    let duration = f.duration("duration")?;
    let iterations = f.u64("iterations")?;
    let rate = f.f64("rate")?;
    let has_stages = f.has("stages");
    let stages_value = f.get("stages");
    let scenarios_value = f.get("scenarios");
    let thresholds = thresholds(f.get("thresholds"))?;
    let mut tags = f.string_map("tags")?;
    let setup_timeout = f
        .duration("setup_timeout")?
        .unwrap_or(Duration::from_secs(60));
    let teardown_timeout = f
        .duration("teardown_timeout")?
        .unwrap_or(Duration::from_secs(60));
    let seed = f.u64("seed")?;
    let defaults = VuLimits::default();
    let vu_limits = VuLimits {
        init_timeout: f.duration("init_timeout")?.unwrap_or(defaults.init_timeout),
        memory: f
            .u64("lua_memory_mib")?
            .map(|m| (m as usize).saturating_mul(1 << 20))
            .unwrap_or(defaults.memory),
    };
    f.finish()?;
    if vu_limits.init_timeout.is_zero() {
        return Err("init_timeout: expected a duration above 0".into());
    }

    let shortcut_in_script =
        vus.is_some() || duration.is_some() || iterations.is_some() || rate.is_some() || has_stages;
    let shortcut_on_cli =
        o.vus.is_some() || o.duration.is_some() || o.iterations.is_some() || o.rate.is_some();

    let scenarios = if let (Some(sc), false) = (scenarios_value, shortcut_on_cli) {
        if shortcut_in_script {
            return Err(
                "options: vus/duration/iterations/rate/stages cannot be combined with scenarios; \
                 put them inside a scenario"
                    .into(),
            );
        }
        let Value::Object(map) = sc else {
            return Err(format!(
                "scenarios: expected a table of scenarios, got {}",
                kind(sc)
            ));
        };
        if map.is_empty() {
            return Err("scenarios: no scenario defined".into());
        }
        map.iter()
            .map(|(name, v)| scenario(name, v))
            .collect::<R<Vec<_>>>()?
    } else {
        // Shortcuts: the command line wins over the script.
        let vus = o.vus.or(vus);
        let duration = o.duration.or(duration);
        let iterations = o.iterations.or(iterations);
        let rate = o.rate.or(rate);
        if vus == Some(0) {
            return Err("vus: must be at least 1".into());
        }
        let executor = if let Some(rate) = rate {
            if rate <= 0.0 {
                return Err("rate: must be more than 0".into());
            }
            let duration =
                duration.ok_or("rate: needs a duration (--duration or options.duration)")?;
            let (pre, max) = match vus {
                Some(v) => (v, v),
                None => (10, 1000),
            };
            Executor::ConstantArrivalRate {
                rate,
                time_unit: Duration::from_secs(1),
                duration,
                pre_allocated_vus: pre,
                max_vus: max,
                drop_late: false,
            }
        } else if let Some(iterations) = iterations {
            Executor::SharedIterations {
                vus: vus.unwrap_or(1).min(iterations.max(1)),
                iterations,
                max_duration: duration.unwrap_or(DEFAULT_MAX_DURATION),
            }
        } else if let Some(duration) = duration {
            if duration.is_zero() {
                return Err("duration: must be longer than 0".into());
            }
            Executor::ConstantVus {
                vus: vus.unwrap_or(1),
                duration,
            }
        } else if has_stages && !shortcut_on_cli {
            Executor::RampingVus {
                start_vus: vus.unwrap_or(1),
                stages: stages("stages", stages_value)?,
                graceful_ramp_down: DEFAULT_GRACEFUL_STOP,
            }
        } else {
            Executor::SharedIterations {
                vus: 1,
                iterations: 1,
                max_duration: DEFAULT_MAX_DURATION,
            }
        };
        vec![Scenario {
            name: "default".into(),
            exec: "default".into(),
            start_time: Duration::ZERO,
            graceful_stop: DEFAULT_GRACEFUL_STOP,
            tags: BTreeMap::new(),
            env: BTreeMap::new(),
            executor,
        }]
    };
    tags.extend(o.tags.clone());
    Ok(RunPlan {
        scenarios,
        thresholds,
        tags,
        setup_timeout,
        teardown_timeout,
        vu_limits,
        seed: o.seed.or(seed).unwrap_or_else(random_seed),
        workers: o.workers.unwrap_or_else(crate::util::cores).max(1),
    })
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(crate::util::epoch_micros());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(v: Value) -> R<RunPlan> {
        build(&v, &Overrides::default())
    }

    #[test]
    fn default_is_one_iteration() {
        let p = plan(Value::Null).unwrap();
        assert_eq!(
            p.scenarios[0].executor,
            Executor::SharedIterations {
                vus: 1,
                iterations: 1,
                max_duration: DEFAULT_MAX_DURATION
            }
        );
    }

    #[test]
    fn shortcuts_and_cli_precedence() {
        let p = plan(json!({"vus": 5, "duration": "10s"})).unwrap();
        assert_eq!(
            p.scenarios[0].executor,
            Executor::ConstantVus {
                vus: 5,
                duration: Duration::from_secs(10)
            }
        );
        let o = Overrides {
            vus: Some(7),
            ..Default::default()
        };
        let p = build(&json!({"vus": 5, "duration": "10s"}), &o).unwrap();
        assert_eq!(p.scenarios[0].executor.max_vus(), 7);
        // The command line replaces script scenarios, as k6 does.
        let o = Overrides {
            iterations: Some(3),
            ..Default::default()
        };
        let p = build(
            &json!({"scenarios": {"a": {"executor": "constant-vus", "duration": "1s"}}}),
            &o,
        )
        .unwrap();
        assert_eq!(p.scenarios[0].name, "default");
        assert!(matches!(
            p.scenarios[0].executor,
            Executor::SharedIterations { iterations: 3, .. }
        ));
    }

    #[test]
    fn unknown_keys_name_the_key_and_the_valid_ones() {
        let e = plan(json!({"scenarios": {"ingest": {
            "executor": "constant-arrival-rate", "rte": 5, "duration": "1s", "pre_allocated_vus": 1}}}))
        .unwrap_err();
        assert!(
            e.contains("scenarios.ingest.rte: unknown option for constant-arrival-rate"),
            "{e}"
        );
        assert!(e.contains("rate"), "{e}");
        let e = plan(json!({"vsu": 1})).unwrap_err();
        assert!(e.starts_with("vsu: unknown option"), "{e}");
    }

    #[test]
    fn wrong_types_and_missing_fields_are_named() {
        let e = plan(json!({"scenarios": {"s": {"executor": "constant-vus"}}})).unwrap_err();
        assert_eq!(
            e,
            "scenarios.s.duration: required (a duration such as \"30s\")"
        );
        let e = plan(json!({"scenarios": {"s": {"executor": "constant-vus", "duration": "3x"}}}))
            .unwrap_err();
        assert!(
            e.contains("scenarios.s.duration") && e.contains("unknown unit 'x'"),
            "{e}"
        );
        let e = plan(json!({"vus": "many", "duration": "1s"})).unwrap_err();
        assert_eq!(e, "vus: expected a whole number, got a string");
        let e = plan(json!({"scenarios": {"s": {"executor": "warp"}}})).unwrap_err();
        assert!(e.contains("unknown executor 'warp'"), "{e}");
        let e = plan(
            json!({"scenarios": {"s": {"executor": "constant-arrival-rate",
            "rate": 0, "duration": "1s", "pre_allocated_vus": 1}}}),
        )
        .unwrap_err();
        assert!(e.contains("rate: must be more than 0"), "{e}");
    }

    #[test]
    fn thresholds_parse_with_tags_and_abort() {
        let p = plan(json!({"thresholds": {
            "http.request{name:get}": ["p(95) < 20ms", {"threshold": "error_rate < 0.01", "abort_on_fail": true}]
        }}))
        .unwrap();
        let t = &p.thresholds[0];
        assert_eq!(t.metric, "http.request");
        assert_eq!(t.tags.get("name").map(String::as_str), Some("get"));
        assert_eq!(t.rules.len(), 2);
        assert!(t.rules[1].abort_on_fail);
        let e = plan(json!({"thresholds": {"x": "p(95) <"}})).unwrap_err();
        assert!(e.starts_with("thresholds[\"x\"][1]:"), "{e}");
    }

    #[test]
    fn ramping_arrival_rate_reads_stages() {
        let p = plan(
            json!({"scenarios": {"r": {"executor": "ramping-arrival-rate",
            "start_rate": 10, "pre_allocated_vus": 2, "max_vus": 4,
            "stages": [{"duration": "10s", "target": 100}, {"duration": "5s", "target": 0}]}}}),
        )
        .unwrap();
        assert_eq!(
            p.scenarios[0].executor.max_duration(),
            Duration::from_secs(15)
        );
        assert_eq!(p.scenarios[0].executor.max_vus(), 4);
    }
}

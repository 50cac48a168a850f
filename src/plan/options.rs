//! Script `options` + command-line overrides -> [`RunPlan`]. The precedence lives here and only here:
//! command line (or its `LOADGEN_*` environment variable, which clap folds in) over the script.
//!
//! The input is the script's `options` table already converted to JSON, so this module stays free of
//! Lua types and is unit-tested with plain JSON.

use super::fields::{kind, Fields, R};
use super::scenario::{scenario, stages};
use super::*;
use crate::metrics::thresholds::{parse_metric_selector, Expression, ThresholdRule, ThresholdSpec};
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
    pub instance: Instance,
}

pub(super) const DEFAULT_GRACEFUL_STOP: Duration = Duration::from_secs(30);
pub(super) const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(600);

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
                wake_quantum: crate::plan::DEFAULT_WAKE_QUANTUM,
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
    // Lua hands a table's keys over in an order that differs from one Lua state (and process) to
    // the next. The plan must not: the VU ids of a scenario follow the VUs of the scenarios before
    // it, and the instances of a distributed run must agree on them (and on the plan's hash).
    let mut scenarios = scenarios;
    scenarios.sort_by(|a, b| a.name.cmp(&b.name));
    let mut thresholds = thresholds;
    thresholds.sort_by(|a, b| a.key.cmp(&b.key));
    split_among(&scenarios, o.instance)?;
    let seed = o.seed.or(seed);
    Ok(RunPlan {
        scenarios,
        thresholds,
        tags,
        setup_timeout,
        teardown_timeout,
        vu_limits,
        seed: seed.unwrap_or_else(random_seed),
        seed_given: seed.is_some(),
        workers: o.workers.unwrap_or_else(crate::util::cores).max(1),
        instance: o.instance,
        // Set by `loadgen run` (`--start-at`); not an option of the script.
        start_at: None,
    })
}

/// Every instance of a run must hold at least one VU of every scenario: one without VUs could
/// run none of its share of the iterations (VUs are split round-robin, see
/// `engine::executors::split`).
fn split_among(scenarios: &[Scenario], instance: Instance) -> R<()> {
    for s in scenarios {
        let vus = s.executor.max_vus();
        if vus < instance.count {
            let what = match s.executor {
                Executor::ConstantArrivalRate { .. } | Executor::RampingArrivalRate { .. } => {
                    "max_vus"
                }
                Executor::RampingVus { .. } => "the largest stage target",
                _ => "vus",
            };
            return Err(format!(
                "scenario '{}': {what} is {vus}, fewer than the {} instances of --instance {}; \
                 each instance needs at least one VU of every scenario (raise {what} to {} or run \
                 fewer instances)",
                s.name, instance.count, instance, instance.count
            ));
        }
    }
    Ok(())
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
        assert_eq!(
            p.scenarios[0].executor.wake_quantum(),
            crate::plan::DEFAULT_WAKE_QUANTUM
        );
    }

    #[test]
    fn wake_quantum_is_read_for_arrival_rates_only() {
        let p = plan(
            json!({"scenarios": {"c": {"executor": "constant-arrival-rate", "rate": 10,
            "duration": "1s", "pre_allocated_vus": 1, "wake_quantum": "0s"}}}),
        )
        .unwrap();
        assert_eq!(p.scenarios[0].executor.wake_quantum(), Duration::ZERO);
        let e = plan(
            json!({"scenarios": {"v": {"executor": "constant-vus", "duration": "1s",
            "wake_quantum": "1ms"}}}),
        )
        .unwrap_err();
        assert!(e.contains("unknown option for constant-vus"), "{e}");
    }

    #[test]
    fn instance_parses_one_based_and_names_the_flag() {
        assert_eq!(Instance::parse("2/4"), Ok(Instance { index: 1, count: 4 }));
        assert_eq!(Instance::parse("1/1"), Ok(Instance::default()));
        for bad in ["0/4", "5/4", "1/0", "2", "a/b", "-1/2"] {
            let e = Instance::parse(bad).unwrap_err();
            assert!(e.starts_with(&format!("--instance '{bad}'")), "{e}");
        }
    }

    /// A scenario with fewer VUs than instances would leave an instance with none: refused, naming
    /// the scenario and the setting to raise.
    #[test]
    fn fewer_vus_than_instances_is_refused() {
        let o = |n| Overrides {
            instance: Instance { index: 0, count: n },
            ..Default::default()
        };
        let opts = json!({"scenarios": {"ingest": {"executor": "constant-arrival-rate", "rate": 10,
            "duration": "1s", "pre_allocated_vus": 1, "max_vus": 3}}});
        assert!(build(&opts, &o(3)).is_ok());
        let e = build(&opts, &o(4)).unwrap_err();
        assert!(
            e.starts_with("scenario 'ingest': max_vus is 3, fewer than the 4 instances"),
            "{e}"
        );
        let e = build(&json!({"vus": 2, "duration": "1s"}), &o(3)).unwrap_err();
        assert!(e.starts_with("scenario 'default': vus is 2"), "{e}");
    }

    /// Instances of one run resolve the same plan; the seed is recorded as given or not.
    #[test]
    fn the_seed_is_known_to_be_given_or_drawn() {
        assert!(!plan(json!({})).unwrap().seed_given);
        let p = plan(json!({"seed": 7})).unwrap();
        assert!(p.seed_given && p.seed == 7);
    }
}

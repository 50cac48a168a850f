//! One scenario of the script's `options.scenarios` -> [`Scenario`]: its executor and that
//! executor's settings, each checked with the path of a bad value.

use super::fields::{kind, Fields, R};
use super::options::{DEFAULT_GRACEFUL_STOP, DEFAULT_MAX_DURATION};
use super::*;
use serde_json::Value;

pub fn stages(path: &str, v: Option<&Value>) -> R<Vec<Stage>> {
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

pub fn scenario(name: &str, value: &Value) -> R<Scenario> {
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
            "wake_quantum",
        ],
        "ramping-arrival-rate" => &[
            "start_rate",
            "time_unit",
            "stages",
            "pre_allocated_vus",
            "max_vus",
            "drop_late",
            "wake_quantum",
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
            let wake_quantum = f
                .duration("wake_quantum")?
                .unwrap_or(crate::plan::DEFAULT_WAKE_QUANTUM);
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
                    wake_quantum,
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
                    wake_quantum,
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

//! `loadgen check`: load the script, validate the options, print the plan. Sends nothing: the
//! bindings' health checks are listed, not run, and no client that would connect is made.

use super::exit::{ExitCode, Failure};
use super::run::{load_with, ScriptArgs};
use crate::plan::Executor;
use crate::util::format_duration as d;

pub fn check(args: ScriptArgs) -> Result<ExitCode, Failure> {
    let loaded = load_with(&args, true)?;
    let plan = &loaded.plan;
    println!("script {} is valid", args.script.display());
    println!("workers: {}, seed: {}", plan.workers, plan.seed);
    if plan.instance.count > 1 {
        println!(
            "instance {} of a distributed run (plan {}): its share of the scenarios below",
            plan.instance,
            &loaded.plan_hash[..12]
        );
    }
    for s in &plan.scenarios {
        let detail = match &s.executor {
            Executor::SharedIterations {
                vus,
                iterations,
                max_duration,
            } => {
                format!(
                    "{iterations} iterations shared by {vus} VUs, max {}",
                    d(*max_duration)
                )
            }
            Executor::PerVuIterations {
                vus,
                iterations,
                max_duration,
            } => {
                format!(
                    "{iterations} iterations for each of {vus} VUs, max {}",
                    d(*max_duration)
                )
            }
            Executor::ConstantVus { vus, duration } => format!("{vus} VUs for {}", d(*duration)),
            Executor::RampingVus {
                start_vus, stages, ..
            } => {
                let st: Vec<String> = stages
                    .iter()
                    .map(|s| format!("{} to {}", d(s.duration), s.target))
                    .collect();
                format!("from {start_vus} VUs: {}", st.join(", "))
            }
            Executor::ConstantArrivalRate {
                rate,
                time_unit,
                duration,
                pre_allocated_vus,
                max_vus,
                drop_late,
                ..
            } => format!(
                "{rate} iterations per {} for {}, VUs {pre_allocated_vus}..{max_vus}{}",
                d(*time_unit),
                d(*duration),
                if *drop_late {
                    ", late iterations dropped"
                } else {
                    ""
                }
            ),
            Executor::RampingArrivalRate {
                start_rate,
                time_unit,
                stages,
                pre_allocated_vus,
                max_vus,
                drop_late,
                ..
            } => {
                let st: Vec<String> = stages
                    .iter()
                    .map(|s| format!("{} to {}", d(s.duration), s.target))
                    .collect();
                format!(
                    "from {start_rate} per {}: {}, VUs {pre_allocated_vus}..{max_vus}{}",
                    d(*time_unit),
                    st.join(", "),
                    if *drop_late {
                        ", late iterations dropped"
                    } else {
                        ""
                    }
                )
            }
        };
        println!(
            "scenario {}: {} ({detail}), exec {}(), starts at {}, graceful stop {}",
            s.name,
            s.executor.name(),
            s.exec,
            d(s.start_time),
            d(s.graceful_stop)
        );
    }
    for t in &plan.thresholds {
        for r in &t.rules {
            println!(
                "threshold {}: {}{}",
                t.key,
                r.source,
                if r.abort_on_fail {
                    " (aborts the run)"
                } else {
                    ""
                }
            );
        }
    }
    for t in loaded.shared.healthcheck_targets() {
        println!("server checked before a run (not contacted now): {t}");
    }
    println!("longest run: {}", d(plan.max_duration()));
    Ok(ExitCode::Ok)
}

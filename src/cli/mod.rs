//! The command line: clap arguments (low level) are turned into a validated plan (high level) by
//! the subcommands; every error leaves here with its exit code.

mod check;
mod compare;
pub mod exit;
mod merge;
mod plan_id;
mod report;
mod run;

use clap::{Parser, Subcommand};
use exit::{ExitCode, Failure};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    version,
    about = "A Lua-scriptable load generator for data stores"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a script: send the load, print the summary, write the result file.
    Run(run::RunArgs),
    /// Load and validate a script, print the plan; sends nothing.
    Check(run::ScriptArgs),
    /// Compare result files side by side (the first is the baseline).
    Compare(compare::CompareArgs),
    /// Merge result files of several instances of one plan into one, exactly.
    Merge(merge::MergeArgs),
    /// Write an HTML page with tables and charts of result files.
    Report(report::ReportArgs),
    /// Print the version.
    Version,
}

/// Parses `KEY=VALUE`.
pub fn key_value(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not KEY=VALUE"))?;
    if k.is_empty() {
        return Err(format!("'{s}' has an empty key"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// Parses a duration flag.
pub fn duration(s: &str) -> Result<std::time::Duration, String> {
    crate::util::parse_duration(s)
}

/// How far in the past `--start-at` may be (clocks of several machines, a slow command line), and
/// how far ahead (a typo in the date would otherwise hold the run for days).
const START_AT_PAST: std::time::Duration = std::time::Duration::from_secs(5);
const START_AT_AHEAD: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Parses `--start-at`: an RFC 3339 time at most 5 s in the past and 24 h ahead.
pub fn start_at(s: &str) -> Result<std::time::SystemTime, String> {
    let at = crate::util::parse_rfc3339(s)?;
    let now = std::time::SystemTime::now();
    if let Ok(past) = now.duration_since(at) {
        if past > START_AT_PAST {
            return Err(format!(
                "{s} is {:.1} s in the past (more than {} s): give a time a little ahead, the \
                 same for every instance",
                past.as_secs_f64(),
                START_AT_PAST.as_secs()
            ));
        }
    } else if at.duration_since(now).unwrap_or_default() > START_AT_AHEAD {
        return Err(format!(
            "{s} is more than 24 h ahead; the load would wait that long"
        ));
    }
    Ok(at)
}

pub fn path_exists(p: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(p);
    if path.is_file() {
        Ok(path)
    } else if path.exists() {
        Err(format!("{p} is not a file"))
    } else {
        Err(format!("{p}: no such file"))
    }
}

pub fn dispatch(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Check(args) => check::check(args),
        Command::Compare(args) => compare::compare(args),
        Command::Merge(args) => merge::merge(args),
        Command::Report(args) => report::report(args),
        Command::Version => {
            println!(
                "loadgen {} (Lua 5.4, features: {})",
                env!("CARGO_PKG_VERSION"),
                features().join(", ")
            );
            Ok(ExitCode::Ok)
        }
    }
}

fn features() -> Vec<&'static str> {
    let mut f = Vec::new();
    if cfg!(feature = "http") {
        f.push("http");
    }
    if cfg!(feature = "kafka") {
        f.push("kafka");
    }
    if cfg!(feature = "elasticsearch") {
        f.push("elasticsearch");
    }
    if cfg!(feature = "hdfs") {
        f.push("hdfs");
    }
    if cfg!(feature = "hive") {
        f.push("hive");
    }
    if cfg!(feature = "phoenix") {
        f.push("phoenix");
    }
    if cfg!(feature = "dashboard") {
        f.push("dashboard");
    }
    if cfg!(feature = "prometheus") {
        f.push("prometheus");
    }
    f
}

/// The whole program: parse, dispatch, print the error chain, return the exit code.
pub fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                ExitCode::Usage
            } else {
                ExitCode::Ok
            };
            let _ = e.print();
            return std::process::ExitCode::from(code.code());
        }
    };
    match dispatch(cli) {
        Ok(code) => std::process::ExitCode::from(code.code()),
        Err(f) => {
            eprintln!("error: {f}");
            std::process::ExitCode::from(f.code.code())
        }
    }
}

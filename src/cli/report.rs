//! `loadgen report`.

use super::exit::{ExitCode, Failure};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Result files, each a section of the page, in this order.
    #[arg(required = true, num_args = 1.., value_parser = super::path_exists)]
    pub files: Vec<PathBuf>,
    /// The HTML file to write (default: the first result file with the extension .html).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// One page for a store evaluation (scripts/suite/evaluate.sh): load, cold and hot queries, the
    /// open-model sweep's curves, the mixed load and the cost, across the stores, instead of one
    /// section per file. The files must carry the suite's run tags (suite=evaluation, phase, store).
    #[arg(long)]
    pub evaluation: bool,
}

pub fn report(args: ReportArgs) -> Result<ExitCode, Failure> {
    let mut runs = Vec::new();
    for p in &args.files {
        let r = crate::results::read(p).map_err(|e| Failure::new(ExitCode::Usage, e))?;
        runs.push((p.display().to_string(), r));
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.files[0].with_extension("html"));
    let html = if args.evaluation {
        crate::results::evaluation::render(&runs).map_err(Failure::usage)?
    } else {
        crate::results::report::render(&runs)
    };
    std::fs::write(&out, html)
        .map_err(|e| Failure::usage(format!("--out {}: cannot write: {e}", out.display())))?;
    println!("report: {}", out.display());
    Ok(ExitCode::Ok)
}

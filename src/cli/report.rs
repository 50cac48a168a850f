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
    /// Serve the live dashboard's page for one result file instead of writing HTML: `--serve`
    /// (127.0.0.1, a free port, printed) or `--serve=ADDR:PORT`; until Ctrl-C.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, require_equals = true,
          default_missing_value = "127.0.0.1:0", conflicts_with_all = ["out", "evaluation"])]
    pub serve: Option<String>,
}

pub fn report(args: ReportArgs) -> Result<ExitCode, Failure> {
    let mut runs = Vec::new();
    for p in &args.files {
        let r = crate::results::read(p).map_err(|e| Failure::new(ExitCode::Usage, e))?;
        runs.push((p.display().to_string(), r));
    }
    if let Some(addr) = &args.serve {
        let [(label, r)] = <[_; 1]>::try_from(runs)
            .map_err(|_| Failure::usage("--serve shows one result file; give exactly one"))?;
        crate::live::dashboard::serve_result(addr, &label, r)
            .map_err(|e| Failure::usage(format!("--serve={addr}: {e:#}")))?;
        return Ok(ExitCode::Ok);
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

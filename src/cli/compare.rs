//! `loadgen compare`.

use super::exit::{ExitCode, Failure};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Result files; the first is the baseline.
    #[arg(required = true, num_args = 2.., value_parser = super::path_exists)]
    pub files: Vec<PathBuf>,
    /// A change worse than this many percent is marked with '!'.
    #[arg(long, default_value_t = 5.0)]
    pub tolerance: f64,
    /// Exit with 99 when any run is worse than the baseline beyond the tolerance.
    #[arg(long)]
    pub fail_on_worse: bool,
}

pub fn compare(args: CompareArgs) -> Result<ExitCode, Failure> {
    if !(args.tolerance.is_finite() && args.tolerance >= 0.0) {
        return Err(Failure::usage(format!(
            "--tolerance: expected a percentage >= 0, got {}",
            args.tolerance
        )));
    }
    let mut files = Vec::new();
    for p in &args.files {
        let r = crate::results::read(p).map_err(|e| Failure::new(ExitCode::Usage, e))?;
        files.push((p.display().to_string(), r));
    }
    let (text, worse) = crate::results::compare::render(&files, args.tolerance);
    print!("{text}");
    Ok(if worse && args.fail_on_worse {
        ExitCode::ThresholdsCrossed
    } else {
        ExitCode::Ok
    })
}

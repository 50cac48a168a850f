//! `loadgen merge`.

use super::exit::{ExitCode, Failure};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Result files of instances of the same script.
    #[arg(required = true, num_args = 1.., value_parser = super::path_exists)]
    pub files: Vec<PathBuf>,
    /// Where to write the merged result.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
}

pub fn merge(args: MergeArgs) -> Result<ExitCode, Failure> {
    crate::results::check_writable(&args.out).map_err(|e| Failure::new(ExitCode::Usage, e))?;
    let mut files = Vec::new();
    for p in &args.files {
        let r = crate::results::read(p).map_err(|e| Failure::new(ExitCode::Usage, e))?;
        files.push((p.display().to_string(), r));
    }
    let mut merged =
        crate::results::merge::merge(&files).map_err(|e| Failure::new(ExitCode::Usage, e))?;
    let crossed = merged.thresholds.iter().any(|t| !t.ok);
    if crossed && merged.status == crate::results::outcome::Status::Completed {
        merged.exit_code = ExitCode::ThresholdsCrossed.code();
    }
    crate::results::write(&args.out, &merged)?;
    print!(
        "{}",
        crate::results::summary::render(&merged, Some(&args.out.display().to_string()))
    );
    Ok(if crossed {
        ExitCode::ThresholdsCrossed
    } else {
        ExitCode::Ok
    })
}

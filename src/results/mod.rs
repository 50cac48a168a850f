//! The result file: a versioned JSON document (schema in `docs/result.schema.json`), written
//! atomically, read back by `compare` and `merge`.

pub mod compare;
pub mod evaluation;
pub mod freshness;
pub use crate::metrics::hist;
pub mod merge;
pub mod outcome;
#[cfg(test)]
mod props;
pub mod report;
pub mod schema;
pub mod summary;

pub use schema::{ResultFile, SCHEMA_VERSION};

use anyhow::{bail, Context};
use std::path::Path;

/// Writes `file` to `path` atomically: a temporary file in the same folder, then a rename.
pub fn write(path: &Path, file: &ResultFile) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create folder {}", dir.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "result.json".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let text = serde_json::to_vec_pretty(file).context("cannot encode the result")?;
    std::fs::write(&tmp, &text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot move the result into {}", path.display())
    })
}

/// Checks early that `path` can be written (before any load is sent).
pub fn check_writable(path: &Path) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("--out: cannot create folder {}", dir.display()))?;
    if path.is_dir() {
        bail!("--out: {} is a folder, not a file", path.display());
    }
    let probe = dir.join(format!(".loadgen-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .with_context(|| format!("--out: cannot write into {}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Reads a result file of any schema version this loadgen knows.
pub fn read(path: &Path) -> anyhow::Result<ResultFile> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    decode(&text, path)
}

/// A result file's bytes, read from `path` (named in errors).
fn decode(text: &[u8], path: &Path) -> anyhow::Result<ResultFile> {
    let value: serde_json::Value =
        serde_json::from_slice(text).with_context(|| format!("{} is not JSON", path.display()))?;
    let version = value.get("schema_version").and_then(|v| v.as_u64());
    match version {
        Some(SCHEMA_VERSION) => serde_json::from_value(value)
            .with_context(|| format!("{} is not a valid loadgen result (schema {SCHEMA_VERSION})", path.display())),
        Some(v) => bail!(
            "{}: result schema version {v} is not known to this loadgen (it reads version {SCHEMA_VERSION})",
            path.display()
        ),
        None => bail!("{}: no schema_version; not a loadgen result file", path.display()),
    }
}

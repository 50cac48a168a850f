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

/// Writes `file` to `path` atomically: a temporary file in the same folder, flushed, then a rename.
/// On an error nothing is left behind: no temporary file, and `path` as it was.
pub fn write(path: &Path, file: &ResultFile) -> anyhow::Result<()> {
    let text = serde_json::to_vec_pretty(file).context("cannot encode the result")?;
    let dir = folder(path);
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create folder {}", dir.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "result.json".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = write_flushed(&tmp, &text)
        .with_context(|| format!("cannot write {}", tmp.display()))
        .and_then(|()| {
            std::fs::rename(&tmp, path)
                .with_context(|| format!("cannot move the result into {}", path.display()))
        });
    if written.is_err() {
        // A full disk leaves part of the file behind.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Writes `bytes` to a new file at `path` and flushes it: some filesystems report a failed write
/// only then (NFS, quotas), and a truncated file must not be renamed into place.
fn write_flushed(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// The folder a file at `path` goes into (`.` for a bare file name).
fn folder(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Checks early that `path` can be written (before any load is sent).
pub fn check_writable(path: &Path) -> anyhow::Result<()> {
    let dir = folder(path);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::outcome::{FailureKind, RunOutcome};
    use crate::results::schema::RunInfo;

    fn result() -> ResultFile {
        let outcome = RunOutcome::not_started(FailureKind::Script, "x".into(), 1);
        let info = RunInfo {
            script_path: "s.lua".into(),
            script_sha256: String::new(),
            tags: Default::default(),
            seed: 0,
            exit_code: 3,
            instance: None,
            plan_hash: None,
        };
        ResultFile::new(&outcome, info)
    }

    /// Issue 16: a result write that fails leaves no `.tmp` file beside the path.
    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // The rename fails: a folder that is not empty is in the way.
        let path = dir.path().join("r.json");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("x"), b"").unwrap();
        let e = write(&path, &result()).unwrap_err();
        assert!(
            format!("{e:#}").contains("cannot move the result into"),
            "{e:#}"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["r.json"]);

        let ok = dir.path().join("sub").join("r.json");
        let file = result();
        write(&ok, &file).unwrap();
        assert_eq!(read(&ok).unwrap(), file);
    }
}

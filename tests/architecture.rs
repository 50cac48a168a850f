//! The shape of `src/`, checked: no import cycle between top-level modules, exit codes chosen only
//! in `cli/`, operations recorded only by `bindings/timing.rs`, and no source file over 500 lines
//! (docs/architecture.md draws the same graph).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("src/ is readable") {
        let p = e.expect("a directory entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file of src/ belongs to (`src/engine/worker.rs` -> `engine`).
fn top_module(file: &Path) -> String {
    let rel = file.strip_prefix(src()).expect("under src/");
    let first = rel.components().next().expect("a component");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_string()
}

/// Every `crate::<module>` a file names (code, doc links and all: a doc link is a dependency a
/// reader follows too).
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let from = top_module(&f);
        if from == "lib" || from == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&f).expect("a source file");
        let deps = g.entry(from.clone()).or_default();
        for to in named_modules(&text) {
            if to != from {
                deps.insert(to);
            }
        }
    }
    g
}

/// A path from `from` back to `to` through `g`, if there is one.
fn path(
    g: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
    seen: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    for next in g.get(from).into_iter().flatten() {
        if next == to {
            return Some(vec![from.to_string(), next.clone()]);
        }
        if seen.insert(next.clone()) {
            if let Some(mut rest) = path(g, next, to, seen) {
                rest.insert(0, from.to_string());
                return Some(rest);
            }
        }
    }
    None
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    let g = graph();
    assert!(g.len() >= 7, "the top-level modules were found: {g:?}");
    let mut cycles = Vec::new();
    for m in g.keys() {
        if let Some(p) = path(&g, m, m, &mut BTreeSet::new()) {
            cycles.push(p.join(" -> "));
        }
    }
    assert!(cycles.is_empty(), "import cycles: {cycles:#?}");
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    g.entry("c".into()).or_default().insert("a".into());
    let p = path(&g, "a", "a", &mut BTreeSet::new()).expect("a cycle");
    assert_eq!(p, ["a", "b", "c", "a"]);
    assert_eq!(
        named_modules("use crate::script::{x}; // [`crate::plan::RunPlan`]"),
        BTreeSet::from(["script".to_string(), "plan".to_string()])
    );
}

#[test]
fn only_the_cli_chooses_exit_codes() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let outside: Vec<String> = files
        .iter()
        .filter(|f| top_module(f) != "cli")
        .filter(|f| {
            std::fs::read_to_string(f)
                .expect("a source file")
                .contains("ExitCode::")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        outside.is_empty(),
        "exit codes named outside cli/: {outside:?}"
    );
}

/// Every operation is timed and recorded by the one timing helper: `Recorder::record_op` is called
/// only from src/bindings/timing.rs (and inside src/metrics/, which defines it). A binding that
/// times itself would measure its operations its own way.
#[test]
fn only_the_timing_helper_records_an_operation() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let timing = src().join("bindings").join("timing.rs");
    let calls = |f: &Path| {
        std::fs::read_to_string(f)
            .expect("a source file")
            .contains("record_op(")
    };
    assert!(calls(&timing), "bindings/timing.rs records operations");
    let outside: Vec<String> = files
        .iter()
        .filter(|f| **f != timing && top_module(f) != "metrics")
        .filter(|f| calls(f))
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        outside.is_empty(),
        "record_op called outside bindings/timing.rs: {outside:?}"
    );
}

#[test]
fn no_source_file_is_over_500_lines() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f)
                .expect("a source file")
                .lines()
                .count();
            (n > 500).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these: {long:?}");
}

//! What loadgen sets on its own process before a run.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Transparent huge pages are off for loadgen (src/main.rs): with them, khugepaged filled 2 MiB
/// ranges of mimalloc's arena and the RSS of a steady run rose in steps (docs/benchmarks.md,
/// section 14). The kernel shows the process's setting in /proc/PID/status.
#[cfg(target_os = "linux")]
#[test]
fn a_run_has_transparent_huge_pages_off() {
    let case = Case::new(
        r#"
local lg = require("loadgen")
options = { vus = 1, duration = "3s" }
function default() lg.sleep(0.1) end
"#,
    );
    let mut child = Command::new(bin())
        .arg("run")
        .arg(case.script())
        .arg("--out")
        .arg(case.out())
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Read until the process has set it (at the start of main) or has ended without it.
    let status = format!("/proc/{}/status", child.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = String::new();
    let off = loop {
        let text = std::fs::read_to_string(&status).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.starts_with("THP_enabled:")) {
            last = l.to_string();
            if l.split_whitespace().nth(1) == Some("0") {
                break true;
            }
        }
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let ok = child.wait().unwrap();
    assert!(off, "THP still on for the whole run: '{last}'");
    assert!(ok.success(), "the run failed: {ok}");
}

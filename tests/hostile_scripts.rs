//! Bad and hostile scripts (issue 16, item 4): each ends with a clear message, its exit code and a
//! result file wherever one can still be written. Cases `tests/cli.rs` already covers: endless
//! loops in init, `setup()` and an iteration, unbounded allocation in an iteration, `os.exit` in an
//! iteration, busy Lua stopped by `lg.abort()` and by an interrupt. Here: the rest, the sandbox's
//! decisions (docs/scripting.md, "Errors in scripts"), and a result path that cannot be written at
//! the end of a run (the README's exit codes).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn metric_sum(r: &serde_json::Value, name: &str) -> f64 {
    r["metrics"][name]["sum"].as_f64().unwrap_or(0.0)
}

fn failure(r: &serde_json::Value) -> String {
    r["failure"].as_str().unwrap_or_default().to_string()
}

#[test]
fn an_endless_loop_in_teardown_is_stopped_by_its_timeout_and_the_counts_are_kept() {
    let case = Case::new(
        r#"
local lg = require("loadgen")
options = { vus = 1, iterations = 3, teardown_timeout = "1s" }
function default() lg.counter("done"):add(1) end
function teardown() local n = 0; while true do n = n + 1 end end
"#,
    );
    let t = Instant::now();
    let o = case.run(&[]);
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("teardown_timeout (1s)"),
        "{}",
        stderr(&o)
    );
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["status"], "failed");
    assert!(
        failure(&r).contains("teardown_timeout (1s)"),
        "{}",
        failure(&r)
    );
    assert_eq!(r["scenarios"][0]["iterations"], 3, "{}", r["scenarios"]);
    assert_eq!(metric_sum(&r, "done"), 3.0);
}

#[test]
fn unbounded_allocation_in_setup_is_a_script_error_at_the_memory_limit() {
    let case = Case::new(
        r#"
options = { iterations = 1, lua_memory_mib = 64 }
function setup()
  local t = {}
  while true do t[#t + 1] = string.rep("x", 1000000) .. #t end
end
function default() end
"#,
    );
    let o = case.run(&[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["status"], "failed");
    let f = failure(&r);
    assert!(
        f.contains("not enough memory") && f.contains("lua_memory_mib (64)"),
        "{f}"
    );
}

/// `os.exit` would end the process without a result: refused in every phase, with the message
/// pointing at `lg.abort()`. In init and `setup()` that is a script error (exit 3) with a result.
#[test]
fn os_exit_is_refused_in_init_and_setup() {
    for (phase, script) in [
        ("init", "os.exit(0)\nfunction default() end\n"),
        (
            "setup",
            "options = { iterations = 1 }\nfunction setup() os.exit(0) end\nfunction default() end\n",
        ),
    ] {
        let case = Case::new(script);
        let o = case.run(&[]);
        assert_eq!(code(&o), 3, "{phase}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("os.exit is not available"),
            "{phase}: {}",
            stderr(&o)
        );
        let r = case.result();
        assert_valid(&r);
        assert_eq!(r["status"], "failed", "{phase}");
        let f = failure(&r);
        assert!(
            f.contains("os.exit is not available") && f.contains("lg.abort"),
            "{phase}: {f}"
        );
    }
}

/// What the sandbox allows, as docs/scripting.md says: Lua's `io` and `os` but `os.exit` (files,
/// commands: the tests' own teardowns list folders with `io.popen`), `load`; no C modules, no
/// `debug`. Each fact is checked in `setup()` (VU 0) and in every iteration; a fact that does not
/// hold raises, naming itself.
#[test]
fn the_sandbox_keeps_io_and_os_and_refuses_c_modules_and_debug() {
    let case = Case::new(
        r#"
local lg = require("loadgen")
options = { vus = 2, iterations = 4 }

local facts = {
  popen = function()
    local p = assert(io.popen("echo from-popen"))
    local s = p:read("a")
    p:close()
    return s == "from-popen\n", s
  end,
  execute = function()
    local ok, how, n = os.execute("exit 3")
    return ok == nil and how == "exit" and n == 3, tostring(how) .. " " .. tostring(n)
  end,
  files = function()
    local name = os.tmpname()
    local f = assert(io.open(name, "w"))
    f:write("return 'kept'")
    f:close()
    assert(os.rename(name, name .. ".lua"))
    local s = io.open(name .. ".lua"):read("a")
    local loaded = dofile(name .. ".lua") == "kept" and loadfile(name .. ".lua")() == "kept"
    assert(os.remove(name .. ".lua"))
    return s == "return 'kept'" and loaded, s
  end,
  clock = function()
    return os.time() > 0 and os.clock() >= 0 and os.date("!%Y") ~= nil, "time"
  end,
  getenv = function() return os.getenv("PATH") ~= nil, "PATH" end,
  load = function() return load("return 1 + 1")() == 2, "load" end,
  no_loadlib = function()
    local ok, e = pcall(package.loadlib, "libc.so.6", "*")
    return not ok and tostring(e):find("disabled") ~= nil, tostring(e)
  end,
  no_c_modules = function()
    local ok, e = pcall(require, "loadgen_no_such_c_module")
    return not ok and tostring(e):find("can't load C modules") ~= nil, tostring(e)
  end,
  no_debug = function() return debug == nil, type(debug) end,
}

local function check_all()
  for name, fact in pairs(facts) do
    local ok, detail = fact()
    if not ok then error("sandbox fact '" .. name .. "' does not hold: " .. tostring(detail)) end
    lg.counter("holds." .. name):add(1)
  end
end

function setup() check_all() end
function default() check_all() end
"#,
    );
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = case.result();
    assert_valid(&r);
    assert_eq!(
        r["script_errors"].as_object().map(|e| e.len()),
        Some(0),
        "{}",
        r["script_errors"]
    );
    for name in [
        "popen",
        "execute",
        "files",
        "clock",
        "getenv",
        "load",
        "no_loadlib",
        "no_c_modules",
        "no_debug",
    ] {
        // Setup's call plus one per iteration.
        assert_eq!(metric_sum(&r, &format!("holds.{name}")), 5.0, "{name}");
    }
}

/// The one result file in `dir` named like a fallback of `script.lua`.
fn fallback_file(dir: &Path) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    let name = found[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("loadgen-script-") && name.ends_with(".json"),
        "{name}"
    );
    found[0].clone()
}

/// What every lost `--out` must show: exit 1, one stderr line naming the error, the path and the
/// fallback; the fallback valid, marked, with the run's counts.
fn assert_fell_back(o: &Output, out: &Path, fallback_dir: &Path, error: &str) {
    let err = stderr(o);
    assert_eq!(code(o), 1, "{err}");
    let fallback = fallback_file(fallback_dir);
    let line = err
        .lines()
        .find(|l| l.contains("could not be written"))
        .unwrap_or_else(|| panic!("no line on the result file: {err}"));
    for part in [
        &out.display().to_string(),
        error,
        &fallback.display().to_string(),
    ] {
        assert!(line.contains(part), "{part} missing from: {line}");
    }
    assert!(
        stdout(o).contains(&format!("result: {}", fallback.display())),
        "{}",
        stdout(o)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fallback).unwrap()).unwrap();
    assert_valid(&r);
    assert_eq!(r["status"], "completed");
    assert_eq!(r["exit_code"], 1);
    assert_eq!(r["scenarios"][0]["iterations"], 20, "{}", r["scenarios"]);
    assert_eq!(metric_sum(&r, "done"), 20.0);
    let warnings = r["warnings"].to_string();
    assert!(
        warnings.contains(&format!("could not be written to {}", out.display()))
            && warnings.contains("the run's own exit code was 0"),
        "{warnings}"
    );
}

/// The `--out` folder is replaced by a regular file in the middle of the run: the result goes to
/// `$TMPDIR` instead, exit 1; and when `$TMPDIR` cannot be written either, the summary is still
/// printed and stderr says that no result file was written.
#[test]
fn a_result_folder_replaced_mid_run_falls_back_to_tmpdir() {
    let case = Case::new(
        r#"
local lg = require("loadgen")
options = { vus = 1, iterations = 20 }
function default()
  if lg.iteration() == 10 then
    local dir = lg.env("OUT_DIR")
    -- The result folder becomes a regular file (check_writable left it empty).
    assert(os.remove(dir))
    local f = assert(io.open(dir, "w"))
    f:write("a file where the result folder was\n")
    f:close()
  end
  lg.counter("done"):add(1)
end
"#,
    );
    let dir = case.path("out");
    let out = dir.join("result.json");
    let tmpdir = case.path("tmp");
    let run = |tmpdir: &Path| {
        Command::new(bin())
            .args(["run", "--quiet", "-e"])
            .arg(format!("OUT_DIR={}", dir.display()))
            .arg(case.script())
            .arg("--out")
            .arg(&out)
            .env("TMPDIR", tmpdir)
            .output()
            .unwrap()
    };
    let o = run(&tmpdir);
    assert_fell_back(&o, &out, &tmpdir, "File exists");
    assert!(dir.is_file());

    // Nowhere to write: TMPDIR is a regular file too.
    std::fs::remove_file(&dir).unwrap();
    let o = run(&dir);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "could not be written to {}: cannot create folder {}",
            out.display(),
            dir.display()
        )) && stderr(&o).contains("no result file was written"),
        "{}",
        stderr(&o)
    );
    let summary = stdout(&o);
    assert!(
        summary.contains("shared-iterations") && !summary.contains("result:"),
        "{summary}"
    );
}

/// A full disk at the end of the run: `--out` lies on a 256 KiB tmpfs (mounted in a user and mount
/// namespace of its own) that `setup()` fills, so the result's write gets ENOSPC. The result goes
/// to `$TMPDIR`, exit 1, and no temporary file is left on the full disk.
#[test]
fn a_full_disk_falls_back_to_tmpdir_and_leaves_no_temporary_file() {
    let case = Case::new(
        r#"
local lg = require("loadgen")
options = { vus = 1, iterations = 20 }
function setup()
  local f = assert(io.open(lg.env("DISK") .. "/filler", "w"))
  local block = string.rep("x", 4096)
  while f:write(block) do end
  f:close()
end
function default() lg.counter("done"):add(1) end
"#,
    );
    let disk = case.path("disk");
    std::fs::create_dir(&disk).unwrap();
    let tmpdir = case.path("tmp");
    let listing = case.path("listing");
    let out = disk.join("result.json");
    let mount = "mount -t tmpfs -o size=256k tmpfs \"$1\"";
    // The machines this project runs on allow unprivileged user namespaces; say so if one does not.
    let probe = Command::new("unshare")
        .args(["-rm", "sh", "-c", mount, "sh"])
        .arg(&disk)
        .output()
        .unwrap_or_else(|e| panic!("the full-disk test runs `unshare` (util-linux): {e}"));
    assert!(
        probe.status.success(),
        "the full-disk test needs `unshare -rm` and a tmpfs mount in it (user and mount namespaces): {}",
        stderr(&probe)
    );
    // The tmpfs goes with the namespace: list it from inside, after the run.
    let script = format!(
        "{mount} || exit 90; \"$2\" run --quiet -e DISK=\"$1\" \"$3\" --out \"$4\"; rc=$?; \
         ls -A \"$1\" > \"$5\"; exit $rc"
    );
    let o = Command::new("unshare")
        .args(["-rm", "sh", "-c", &script, "sh"])
        .args([&disk, &bin(), &case.script(), &out, &listing])
        .env("TMPDIR", &tmpdir)
        .output()
        .unwrap();
    assert_ne!(code(&o), 90, "mount failed: {}", stderr(&o));
    assert_fell_back(&o, &out, &tmpdir, "No space left on device");
    let left = std::fs::read_to_string(&listing).unwrap();
    assert_eq!(left.trim(), "filler", "left on the full disk: {left}");
}

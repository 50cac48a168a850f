//! Hive in the stack's HA mode (`scripts/stack up --ha hive`): two HiveServer2 registered in ZooKeeper,
//! found by `loadgen.hive`'s service discovery, and one of them killed under queries. `#[ignore]`d in
//! the default mode's test run; scripts/test runs them with `--ignored` in its HA phase.

mod common;

use common::stack::{require, stack_state};
use common::*;
use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};

const ZOOKEEPER: &str = "127.0.0.1:2182";

fn require_ha() {
    require(
        "ZooKeeper of the HA mode (scripts/stack up --ha hive)",
        ZOOKEEPER,
    );
    require("HiveServer2 1 (HA mode)", "127.0.0.1:10000");
    require("HiveServer2 2 (HA mode)", "127.0.0.1:10002");
}

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sessions opened through ZooKeeper discovery land on both instances.
#[test]
#[ignore = "HA mode only: scripts/test runs it with --ignored after `scripts/stack up --ha hive`"]
fn discovery_finds_both_hiveservers_and_spreads_sessions_over_them() {
    require_ha();
    let _one = one_at_a_time();
    let case = Case::new(
        r#"
local lg = require("loadgen")
local hive = require("loadgen.hive")
local h = hive.connect{ zookeeper = lg.env("ZK") }
options = { scenarios = { q = { executor = "per-vu-iterations", vus = 4, iterations = 2 } },
            thresholds = { checks = { "rate == 1" } } }
function default()
  local r = h:query("SELECT 1")
  lg.check(r, { ["query answered"] = function(r) return not r.err and r.rows[1][1] == 1 end })
  if r.err then print(r.error) end
  print("server " .. tostring(h:server()))
end
"#,
    );
    let o = case.run(&["-e", &format!("ZK={ZOOKEEPER}")]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let out = format!("{}{}", stdout(&o), stderr(&o));
    // An instance registers the name its bind address resolves to (localhost here).
    for port in ["10000", "10002"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with("server ") && l.ends_with(&format!(":{port}"))),
            "no session on port {port}: {out}"
        );
    }
}

/// Starts whatever Hive process is down again, even if the test failed.
struct RestartHive;

impl Drop for RestartHive {
    fn drop(&mut self) {
        let root = env!("CARGO_MANIFEST_DIR");
        match Command::new(format!("{root}/scripts/stack"))
            .args(["up", "hive"])
            .output()
        {
            Ok(o) if !o.status.success() => eprintln!(
                "restarting hive failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            _ => {}
        }
    }
}

/// Queries through discovery at 4 a second for 30 s; 8 s in, the first HiveServer2 gets SIGKILL
/// (checked dead). Its znode outlives it (until its ZooKeeper session expires), so the client must
/// skip it: sessions it broke fail their statement and reconnect to the other, and every query from
/// 10 s after the kill on succeeds.
#[test]
#[ignore = "HA mode only: scripts/test runs it with --ignored after `scripts/stack up --ha hive`"]
fn queries_go_on_through_the_other_hiveserver2_when_one_is_killed() {
    require_ha();
    let _one = one_at_a_time();
    let _restart = RestartHive;
    let case = Case::new(
        r#"
local lg = require("loadgen")
local hive = require("loadgen.hive")
local h = hive.connect{ zookeeper = lg.env("ZK"), timeout = "10s" }
local late_ok, late_failed = lg.counter("late_ok"), lg.counter("late_failed")
options = { scenarios = { q = { executor = "constant-arrival-rate", rate = 4, duration = "30s",
                                pre_allocated_vus = 4, max_vus = 20 } } }
function default()
  local r = h:query("SELECT 1")
  if lg.now() > tonumber(lg.env("LATE_MS")) then
    if r.err then late_failed:add(1); print("late: " .. r.error) else late_ok:add(1) end
  end
end
"#,
    );
    let pid_file = stack_state().join("pids/hive-server2.pid");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap_or_else(|e| panic!("HiveServer2's PID file {}: {e}", pid_file.display()))
        .trim()
        .parse()
        .unwrap();
    let killed_at = loadgen::util::epoch_micros() / 1000 + 8_000;
    let mut child = Command::new(bin())
        .arg("run")
        .arg(case.script())
        .arg("--out")
        .arg(case.out())
        .arg("--quiet")
        .args(["-e", &format!("ZK={ZOOKEEPER}")])
        .args(["-e", &format!("LATE_MS={}", killed_at + 10_000)])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(8));
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let t = Instant::now();
    while unsafe { libc::kill(pid, 0) } == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "HiveServer2 {pid} alive after SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = child.wait().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{out}");
    let r = case.result();
    assert_valid(&r);
    let late_ok = r["metrics"]["late_ok"]["sum"].as_f64().unwrap_or(0.0);
    let late_failed = r["metrics"]["late_failed"]["sum"].as_f64().unwrap_or(0.0);
    assert!(
        late_ok >= 30.0,
        "{late_ok} queries succeeded from 10 s after the kill on: {out}"
    );
    assert_eq!(late_failed, 0.0, "{out}");
    let q = &r["metrics"]["hive.query"];
    println!(
        "queries {} failed {} by kind {}",
        q["count"], q["error_count"], q["errors"]
    );
}

//! Hive in the stack's HA mode (`scripts/stack up --ha hive`): two HiveServer2 registered in ZooKeeper,
//! found by `loadgen.hive`'s service discovery, and one of them killed under queries. `#[ignore]`d in
//! the default mode's test run; scripts/test runs them with `--ignored` in its HA phase.

mod common;

use common::fault::{finish, kill_stack_process, spawn_run, RestartOnDrop};
use common::stack::require;
use common::*;
use std::time::Duration;

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

/// Queries through discovery at 4 a second for 30 s; 8 s in, the first HiveServer2 gets SIGKILL
/// (checked dead). Its znode outlives it (until its ZooKeeper session expires), so the client must
/// skip it: sessions it broke fail their statement and reconnect to the other, and every query from
/// 10 s after the kill on succeeds.
#[test]
#[ignore = "HA mode only: scripts/test runs it with --ignored after `scripts/stack up --ha hive`"]
fn queries_go_on_through_the_other_hiveserver2_when_one_is_killed() {
    require_ha();
    let _one = one_at_a_time();
    let _restart = RestartOnDrop("hive");
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
    let late_from = loadgen::epoch_micros() / 1000 + 18_000;
    let child = spawn_run(
        &case,
        &[format!("ZK={ZOOKEEPER}"), format!("LATE_MS={late_from}")],
    );
    std::thread::sleep(Duration::from_secs(8));
    kill_stack_process("hive-server2", libc::SIGKILL, Duration::from_secs(10));
    let (status, out) = finish(child);
    assert_eq!(status, Some(0), "{out}");
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

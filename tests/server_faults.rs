//! Servers of the stack killed (SIGKILL, checked dead) in the middle of a run and started again while
//! it goes on: Elasticsearch under bulk loading, the Phoenix Query Server under upserts, HiveServer2
//! under a long query. For each: the run ends on time with a valid result, the failures are counted
//! by kind in the per-second series while the server is down, the binding works again once the
//! server is back (successes in the seconds after the restart), no call outlives its timeout, and
//! every write the server acknowledged is counted back from it at the end.
//! One test at a time (a mutex): each restarts a server the others do not use, but three JVMs
//! starting at once on two cores would stretch every timing here. In a file of its own so that no
//! other test of these servers runs while one is down.

mod common;

use common::fault::{finish, kill_stack_process, spawn_run, RestartOnDrop};
use common::stack::{
    require, require_elasticsearch, require_hive, require_phoenix, unique, ELASTICSEARCH, PHOENIX,
};
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|p| p.into_inner())
}

/// `scripts/stack up SERVER`: returns once the stack calls it healthy, with the epoch ms of that moment.
fn restart(server: &str) -> i64 {
    let root = env!("CARGO_MANIFEST_DIR");
    let t = Instant::now();
    let o = Command::new(format!("{root}/scripts/stack"))
        .args(["up", server])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "scripts/stack up {server} failed after {:?}:\n{}{}",
        t.elapsed(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!("{server} up again in {:?}", t.elapsed());
    loadgen::epoch_micros() / 1000
}

/// Kills the stack's process `proc` (SIGKILL to its process group), checks it gone and its port
/// closed, starts `server` again; returns (killed_at_ms, up_again_ms).
fn kill_and_restart(server: &str, proc: &str, addr: &str) -> (i64, i64) {
    assert!(
        TcpStream::connect(addr).is_ok(),
        "{proc} is not listening on {addr} before the fault"
    );
    let killed = kill_stack_process(proc, libc::SIGKILL, Duration::from_secs(30));
    assert!(
        TcpStream::connect(addr).is_err(),
        "{proc}'s process is gone but {addr} still accepts connections"
    );
    (killed, restart(server))
}

/// One second of a metric in the per-second series: its count and errors by kind.
struct Second {
    count: u64,
    errors: BTreeMap<String, u64>,
}

/// The metric's seconds in the per-second series, by unix second; a second in which it recorded
/// nothing has no entry.
fn seconds(r: &Value, metric: &str) -> BTreeMap<i64, Second> {
    r["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| {
            let m = s["metrics"].get(metric)?;
            let errors = m["error_kinds"]
                .as_object()
                .map(|e| {
                    e.iter()
                        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                        .collect()
                })
                .unwrap_or_default();
            let second = Second {
                count: m["count"].as_u64().unwrap(),
                errors,
            };
            Some((s["t"].as_i64().unwrap(), second))
        })
        .collect()
}

fn show(secs: &BTreeMap<i64, Second>) -> String {
    secs.iter()
        .map(|(t, s)| format!("{t} count {} errors {:?}", s.count, s.errors))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The fault shows in the per-second series as it happened: failures (of one of `kinds`) in the
/// seconds from the kill until the server was back, and only successes in every second from
/// `settle_s` seconds after it was back to the last of the load (`load_s` seconds from the first of
/// the series); a second without the metric at all is a stall and fails the check.
fn assert_fault_in_series(
    r: &Value,
    metric: &str,
    kinds: &[&str],
    (killed_ms, up_ms): (i64, i64),
    settle_s: i64,
    load_s: i64,
) {
    let secs = seconds(r, metric);
    let (down_from, up_at) = (killed_ms / 1000, up_ms / 1000);
    let failed: u64 = secs
        .range(down_from..=up_at)
        .flat_map(|(_, s)| s.errors.iter())
        .filter(|(k, _)| kinds.contains(&k.as_str()))
        .map(|(_, n)| n)
        .sum();
    assert!(
        failed > 0,
        "no {kinds:?} failure of {metric} counted between the kill ({killed_ms} ms) and the restart ({up_ms} ms):\n{}",
        show(&secs)
    );
    // Every worker reports its first second, recorded or not: the series starts with the load.
    let first = r["series"][0]["t"].as_i64().unwrap();
    let (from, last) = (up_at + settle_s, first + load_s - 1);
    assert!(
        last - from + 1 >= 3,
        "{metric}: {} s of load from {settle_s} s after the restart ({up_ms} ms) to the last second of the load ({last}); at least 3 needed:\n{}",
        last - from + 1,
        show(&secs)
    );
    for t in from..=last {
        let why = match secs.get(&t) {
            None => "nothing recorded".to_string(),
            Some(s) if s.count == 0 || !s.errors.is_empty() => {
                format!("count {}, errors {:?}", s.count, s.errors)
            }
            Some(_) => continue,
        };
        panic!(
            "{metric} should succeed in every second from {settle_s} s after the restart ({up_ms} ms) to the last second of the load ({last}); second {t}: {why}:\n{}",
            show(&secs)
        );
    }
    // Every failure has a kind the docs name; none is hidden as a script error.
    for (t, s) in &secs {
        for k in s.errors.keys() {
            assert!(
                ["connect", "timeout", "server", "protocol"].contains(&k.as_str()),
                "{metric} failed as {k} at {t}: {}",
                show(&secs)
            );
        }
    }
}

/// The series of `metric` in the scenario `scenario` (`series_totals`, keyed `name{tag:value,...}`).
fn scenario_series<'a>(r: &'a Value, metric: &str, scenario: &str) -> Vec<&'a Value> {
    let tag = format!("scenario:{scenario}");
    r["series_totals"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| {
            k.strip_prefix(metric)
                .and_then(|t| t.strip_prefix('{')?.strip_suffix('}'))
                .is_some_and(|tags| tags.split(',').any(|t| t == tag))
        })
        .map(|(_, v)| v)
        .collect()
}

fn max_service_ms(r: &Value, metric: &str) -> f64 {
    r["metrics"][metric]["service_time"]["max"]
        .as_f64()
        .unwrap_or_else(|| panic!("no service time for {metric}: {}", r["metrics"][metric]))
}

/// The run's own end: exit 0, a valid completed result, the count-back check held.
fn assert_run_ok(status: Option<i32>, out: &str, r: &Value) {
    assert_eq!(status, Some(0), "{out}");
    assert_valid(r);
    assert_eq!(r["status"], "completed", "{out}");
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{out}");
}

/// Bulk loading at 10 requests of 20 documents a second for 40 s; 6 s in, Elasticsearch gets
/// SIGKILL and is started again at once (about 15 s down). Every document of an acknowledged bulk
/// (the ids written to a file by the script) is found after the restart: Elasticsearch syncs its
/// translog before it answers, so what it acknowledged survives a kill.
#[test]
fn elasticsearch_killed_and_restarted_during_bulk_loading() {
    require_elasticsearch();
    let _one = one_at_a_time();
    let _restart = RestartOnDrop("elasticsearch");
    let index = unique("lg-fault-es");
    let case = Case::new(
        r#"
local lg = require("loadgen")
local es = require("loadgen.elasticsearch")
local c = es.client{ url = lg.env("URL"), timeout = "3s" }
local index, dir = lg.env("INDEX"), lg.env("DIR")
local acked
options = { scenarios = { load = { executor = "constant-arrival-rate", rate = 10, duration = "40s",
                                   pre_allocated_vus = 4, max_vus = 40 } } }
function setup()
  local r = c:create_index(index, { settings = { number_of_shards = 1, number_of_replicas = 0 } })
  assert(r.ok, r.error)
end
function default()
  local docs, base = {}, lg.vu() .. "-" .. lg.iteration()
  for i = 1, 20 do docs[i] = { _id = base .. "-" .. i, n = i } end
  local r = c:bulk(index, docs)
  if not r.err then
    acked = acked or io.open(dir .. "/acked-" .. lg.vu(), "a")
    for i = 1, 20 do acked:write(docs[i]._id, "\n") end
    acked:flush()
  end
end
function teardown()
  local ids = {}
  local ls = io.popen("ls " .. dir)
  for f in ls:lines() do
    if f:match("^acked%-") then for id in io.lines(dir .. "/" .. f) do ids[#ids + 1] = id end end
  end
  ls:close()
  assert(c:refresh(index).ok)
  local found = 0
  for i = 1, #ids, 500 do
    local chunk = table.move(ids, i, math.min(i + 499, #ids), 1, {})
    local r = c:count(index, { query = { ids = { values = chunk } } })
    assert(not r.err, r.error)
    found = found + r.count
  end
  local all = c:count(index).count
  print("acknowledged", #ids, "found", found, "in the index", all)
  lg.check(found, { ["every acknowledged document found"] = function(f) return #ids > 0 and f == #ids end })
end
"#,
    );
    let run = spawn_run(
        &case,
        &[
            format!("URL={ELASTICSEARCH}"),
            format!("INDEX={index}"),
            format!("DIR={}", case.dir.path().display()),
        ],
    );
    std::thread::sleep(Duration::from_secs(6));
    let (killed, up) = kill_and_restart("elasticsearch", "elasticsearch", "127.0.0.1:9200");
    let (status, out) = finish(run);
    eprintln!("killed at {killed} ms, up again at {up} ms\n{out}");
    let r = case.result();
    assert_run_ok(status, &out, &r);
    assert!(out.contains("acknowledged"), "{out}");
    assert_fault_in_series(&r, "es.bulk", &["connect", "timeout"], (killed, up), 3, 40);
    // A call is bounded by its timeout (3 s) whatever the server does.
    assert!(
        max_service_ms(&r, "es.bulk") < 4_000.0,
        "{}",
        r["metrics"]["es.bulk"]
    );
}

/// Upserts (autocommit) at 20 a second for 35 s through the Query Server's protobuf listener; 5 s
/// in, the Query Server gets SIGKILL (HBase stays up) and is started again. Its connections are gone
/// with it: the client opens a new one once and runs the statement again, and every acknowledged
/// row is in the table at the end.
#[test]
fn phoenix_query_server_killed_and_restarted_during_upserts() {
    require_phoenix("protobuf");
    let _one = one_at_a_time();
    let _restart = RestartOnDrop("phoenix");
    let table = unique("LG_FAULT").replace('-', "_").to_uppercase();
    let case = Case::new(
        r#"
local lg = require("loadgen")
local phoenix = require("loadgen.phoenix")
local c = phoenix.connect{ url = lg.env("URL"), timeout = "3s" }
local tbl, dir = lg.env("TABLE"), lg.env("DIR")
local acked
options = { scenarios = { load = { executor = "constant-arrival-rate", rate = 20, duration = "35s",
                                   pre_allocated_vus = 4, max_vus = 40 } } }
function setup()
  local r = c:execute("CREATE TABLE " .. tbl .. " (ID VARCHAR PRIMARY KEY, N BIGINT)")
  assert(not r.err, r.error)
end
local up
function default()
  up = up or c:prepare("UPSERT INTO " .. tbl .. " (ID, N) VALUES (?, ?)")
  local id = lg.vu() .. "-" .. lg.iteration()
  local r = up:execute({ id, lg.iteration() })
  if not r.err then
    acked = acked or io.open(dir .. "/acked-" .. lg.vu(), "a")
    acked:write(id, "\n")
    acked:flush()
  end
end
function teardown()
  local ids = {}
  local ls = io.popen("ls " .. dir)
  for f in ls:lines() do
    if f:match("^acked%-") then for id in io.lines(dir .. "/" .. f) do ids[#ids + 1] = "'" .. id .. "'" end end
  end
  ls:close()
  local found = 0
  for i = 1, #ids, 200 do
    local chunk = table.move(ids, i, math.min(i + 199, #ids), 1, {})
    local r = c:query("SELECT COUNT(*) FROM " .. tbl .. " WHERE ID IN (" .. table.concat(chunk, ",") .. ")")
    assert(not r.err, r.error)
    found = found + r.rows[1][1]
  end
  local all = c:query("SELECT COUNT(*) FROM " .. tbl).rows[1][1]
  print("acknowledged", #ids, "found", found, "in the table", all)
  lg.check(found, { ["every acknowledged row found"] = function(f) return #ids > 0 and f == #ids end })
  c:execute("DROP TABLE " .. tbl)
end
"#,
    );
    let run = spawn_run(
        &case,
        &[
            format!("URL={PHOENIX}"),
            format!("TABLE={table}"),
            format!("DIR={}", case.dir.path().display()),
        ],
    );
    std::thread::sleep(Duration::from_secs(5));
    let (killed, up) = kill_and_restart("phoenix", "phoenix", "127.0.0.1:8765");
    let (status, out) = finish(run);
    eprintln!("killed at {killed} ms, up again at {up} ms\n{out}");
    let r = case.result();
    assert_run_ok(status, &out, &r);
    assert!(out.contains("acknowledged"), "{out}");
    assert_fault_in_series(
        &r,
        "phoenix.execute",
        &["connect", "timeout"],
        (killed, up),
        3,
        35,
    );
    assert!(
        max_service_ms(&r, "phoenix.execute") < 4_000.0,
        "{}",
        r["metrics"]["phoenix.execute"]
    );
}

/// A long query (HiveServer2 sleeps 30 s in it) on one VU, short queries at 2 a second on others,
/// 50 s in all; 5 s in, HiveServer2 gets SIGKILL (the metastore stays up) and is started again. The
/// long query fails when its connection goes (not after 30 s), every VU's session is opened again
/// once the server is back, short queries succeed from then on, and none outlives its timeout.
#[test]
fn hiveserver2_killed_during_a_long_query() {
    require_hive();
    let _one = one_at_a_time();
    let _restart = RestartOnDrop("hive");
    let case = Case::new(
        r#"
local lg = require("loadgen")
local hive = require("loadgen.hive")
local h = hive.connect{ host = "127.0.0.1", port = 10000, timeout = "10s", query_timeout = "60s" }
options = { scenarios = {
  long = { executor = "per-vu-iterations", vus = 1, iterations = 1, exec = "long", max_duration = "50s" },
  short = { executor = "constant-arrival-rate", rate = 2, duration = "50s", pre_allocated_vus = 2,
            max_vus = 20, exec = "short" } } }
function long()
  local t = lg.now()
  local r = h:query("SELECT reflect('java.lang.Thread', 'sleep', CAST(30000 AS BIGINT))")
  print("long query", r.err or "ok", r.error, "after ms", lg.now() - t)
end
function short()
  h:query("SELECT 1")
end
"#,
    );
    let run = spawn_run(&case, &[]);
    std::thread::sleep(Duration::from_secs(5));
    let (killed, up) = kill_and_restart("hive", "hive-server2", "127.0.0.1:10000");
    require("HiveServer2", common::stack::HIVE);
    let (status, out) = finish(run);
    eprintln!("killed at {killed} ms, up again at {up} ms\n{out}");
    let r = case.result();
    assert_eq!(status, Some(0), "{out}");
    assert_valid(&r);
    assert_eq!(r["status"], "completed", "{out}");
    // The long query failed with its connection, well before its 30 s.
    let long = scenario_series(&r, "hive.query", "long")
        .first()
        .copied()
        .unwrap_or_else(|| {
            panic!(
                "no hive.query series of the long scenario: {}",
                r["series_totals"]
            )
        });
    assert_eq!(
        long["error_count"], 1,
        "the long query should fail: {long}\n{out}"
    );
    assert!(
        long["service_time"]["max"].as_f64().unwrap() < 15_000.0,
        "the long query should fail when its connection goes, 5 s in: {long}"
    );
    assert_fault_in_series(
        &r,
        "hive.query",
        &["connect", "timeout", "protocol"],
        (killed, up),
        3,
        50,
    );
    // A short query is bounded by the handle's timeout (10 s) whatever the server does.
    let short = scenario_series(&r, "hive.query", "short");
    assert!(
        !short.is_empty(),
        "no hive.query series of the short scenario: {}",
        r["series_totals"]
    );
    for s in short {
        assert!(
            s["service_time"]["max"]
                .as_f64()
                .unwrap_or_else(|| panic!("no service time for a short query: {s}"))
                < 11_000.0,
            "a short query outlived the 10 s timeout: {s}"
        );
    }
}

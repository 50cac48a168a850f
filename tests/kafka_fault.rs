//! Kafka under a fault: one of the three brokers of `scripts/stack` is killed (SIGKILL) in the middle
//! of a run and started again (`scripts/stack up kafka`) while the run goes on. The run goes on,
//! errors (if any) are counted, and every record acknowledged to loadgen is consumed back afterwards.
//! The test also checks that the fault happened and that the run saw it: the broker's process is
//! gone and its port closed, and the run's own metadata watcher saw broker 2 in every in-sync replica
//! set before the signal, out of them (and leading nothing) after it, and back in the cluster and in
//! an in-sync replica set after the restart.
//! The watcher samples until the test has seen that (or given up): however long the restart takes
//! on a busy machine, there are samples after it.
//! In a file of its own so that no other Kafka test runs while a broker is down.

mod common;

use common::fault::{finish, kill_stack_process, spawn_run, RestartOnDrop};
use common::stack::{require_kafka, unique, KAFKA};
use common::*;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Broker 2 of the stack: `kafka-2` in its PID files, node id 2, listening on 127.0.0.1:9094.
const VICTIM: &str = "kafka-2";
const VICTIM_ID: i64 = 2;
const VICTIM_ADDR: &str = "127.0.0.1:9094";

/// One sample of the run's metadata watcher: `epoch_ms ok brokers leaders isrs`, lists
/// comma-separated, ISRs of the partitions separated by `/` (see the script's `watch`).
struct Sample {
    at_ms: i64,
    brokers: Vec<i64>,
    leaders: Vec<i64>,
    isrs: Vec<Vec<i64>>,
}

fn ids(s: &str) -> Vec<i64> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(|x| x.parse().unwrap())
        .collect()
}

fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[1] == "ok").then(|| Sample {
                at_ms: f[0].parse().unwrap(),
                brokers: ids(f[2]),
                leaders: ids(f[3]),
                isrs: f[4].split('/').map(ids).collect(),
            })
        })
        .collect()
}

/// Broker 2 back after its restart: in the cluster and in the ISR of a partition.
fn rejoined(s: &Sample) -> bool {
    s.brokers.contains(&VICTIM_ID) && s.isrs.iter().any(|isr| isr.contains(&VICTIM_ID))
}

/// Polls the watcher's samples in `meta` until one after `up_at` (epoch ms) shows broker 2
/// `rejoined`, for at most `within`; returns whether one did.
fn wait_rejoined(meta: &Path, up_at: i64, within: Duration) -> bool {
    let t = Instant::now();
    loop {
        let text = std::fs::read_to_string(meta).unwrap_or_default();
        // Whole lines only: the watcher may be writing the last one.
        let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        if samples(whole)
            .iter()
            .any(|s| s.at_ms > up_at && rejoined(s))
        {
            return true;
        }
        if t.elapsed() >= within {
            return false;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_broker_killed_and_restarted_mid_run_loses_no_acknowledged_record() {
    require_kafka();
    let topic = unique("lg-fault");
    let case = Case::new(
        r#"
local lg = require("loadgen")
local kafka = require("loadgen.kafka")
local brokers = lg.env("BROKERS")
local topic = lg.env("TOPIC")
local dir = lg.env("DIR")
local admin = kafka.admin{ brokers = brokers }
local p = kafka.producer{ brokers = brokers, acks = "all", idempotence = true, linger_ms = 2, timeout = "20s" }
local acked = nil
local stopped = false
-- watch samples until the test writes DIR/stop; then the rest of its iterations (more than fit in
-- max_duration) return at once and the scenario ends, the run's status untouched (lg.abort would
-- make it "aborted").
options = {
  scenarios = { produce = { executor = "constant-arrival-rate", rate = 300, duration = "45s",
                            pre_allocated_vus = 20, max_vus = 200 },
                watch = { executor = "per-vu-iterations", vus = 1, iterations = 4000,
                          max_duration = "5m", exec = "watch" } },
}
-- The run's view of the cluster, four times a second: "epoch_ms ok brokers leaders isr1/isr2/isr3"
-- (or "epoch_ms err message") appended to DIR/meta.
function watch()
  if stopped then return end
  local stop = io.open(dir .. "/stop")
  if stop then
    stop:close()
    stopped = true
    return
  end
  local d = admin:describe(topic)
  local line
  if d.err then
    line = lg.now() .. " err " .. tostring(d.error):gsub("%s", "_")
  else
    local leaders, isrs = {}, {}
    for i, p in ipairs(d.partitions) do
      leaders[i] = p.leader
      isrs[i] = table.concat(p.isr, ",")
    end
    line = lg.now() .. " ok " .. table.concat(d.brokers, ",") .. " " .. table.concat(leaders, ",")
      .. " " .. table.concat(isrs, "/")
  end
  local f = io.open(dir .. "/meta", "a")
  f:write(line, "\n")
  f:close()
  lg.sleep("250ms")
end
function setup()
  local r = admin:create_topic{ name = topic, partitions = 3, replication = 3,
                                config = { ["min.insync.replicas"] = "2" } }
  assert(r.ok, r.error)
end
function default()
  local key = lg.vu() .. "-" .. lg.iteration()
  local r = p:send{ topic = topic, key = key, value = "v-" .. key }
  if not r.err then
    acked = acked or io.open(dir .. "/acked-" .. lg.vu(), "a")
    acked:write(key, "\n")
    acked:flush()
  end
end
function teardown()
  local want, n = {}, 0
  local ls = io.popen("ls " .. dir)
  for f in ls:lines() do
    if f:match("^acked%-") then
      for k in io.lines(dir .. "/" .. f) do
        if not want[k] then want[k] = true; n = n + 1 end
      end
    end
  end
  ls:close()
  local c = kafka.consumer{ brokers = brokers, group = "verify-" .. topic, topics = { topic } }
  local seen, found, idle = {}, 0, 0
  while found < n and idle < 40 do
    local recs = c:poll("1s", 1000)
    if #recs == 0 then idle = idle + 1 end
    for _, r in ipairs(recs) do
      if want[r.key] and not seen[r.key] then seen[r.key] = true; found = found + 1 end
    end
  end
  c:close()
  print("acknowledged", n, "consumed back", found)
  lg.check(found, { ["every acknowledged record consumed"] = function(f) return n > 0 and f == n end })
end
"#,
    );
    let _restart = RestartOnDrop("kafka");
    let run = spawn_run(
        &case,
        &[
            format!("BROKERS={KAFKA}"),
            format!("TOPIC={topic}"),
            format!("DIR={}", case.dir.path().display()),
        ],
    );
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        TcpStream::connect(VICTIM_ADDR).is_ok(),
        "{VICTIM} is not listening on {VICTIM_ADDR} before the fault"
    );
    // Broker 2 is killed (SIGKILL: no controlled shutdown), and is checked gone: its process (by
    // the stack's PID file) and its listener. Then it is started again under the run.
    let killed_at = kill_stack_process(VICTIM, libc::SIGKILL, Duration::from_secs(60));
    assert!(
        TcpStream::connect(VICTIM_ADDR).is_err(),
        "{VICTIM}'s process is gone but {VICTIM_ADDR} still accepts connections"
    );
    std::thread::sleep(Duration::from_secs(3));
    let t = Instant::now();
    let up = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/stack"))
        .args(["up", "kafka"])
        .output()
        .unwrap();
    eprintln!("scripts/stack up kafka took {:?}", t.elapsed());
    assert!(up.status.success(), "scripts/stack up kafka: {up:?}");
    let up_at = loadgen::epoch_micros() / 1000;
    // The watcher goes on until it has shown broker 2 back (or for a minute), then the test stops it.
    let t = Instant::now();
    let meta_file = case.dir.path().join("meta");
    let back = wait_rejoined(&meta_file, up_at, Duration::from_secs(60));
    if back {
        eprintln!(
            "the run saw broker {VICTIM_ID} back in an ISR {:?} after the restart",
            t.elapsed()
        );
    } else {
        eprintln!(
            "the run did not see broker {VICTIM_ID} back in an ISR within {:?}",
            t.elapsed()
        );
    }
    std::fs::write(case.dir.path().join("stop"), "").unwrap();
    let (status, out) = finish(run);
    assert_eq!(status, Some(0), "{out}");
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["status"], "completed");
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{out}");
    let produced = &r["metrics"]["kafka.produce"];
    assert!(produced["count"].as_u64().unwrap() >= 2000, "{produced}");
    assert!(out.contains("acknowledged"), "{out}");
    // The run saw the fault: before the signal broker 2 was in the cluster and in every ISR; after
    // it, a sample where it is in no ISR and leads no partition.
    let meta = std::fs::read_to_string(&meta_file).unwrap();
    eprintln!("signal at {killed_at} ms; the run's metadata samples:\n{meta}");
    let seen = samples(&meta);
    let last_before = seen.iter().rfind(|s| s.at_ms < killed_at);
    assert!(
        last_before.is_some_and(|s| s.brokers.contains(&VICTIM_ID)
            && s.isrs.len() == 3
            && s.isrs.iter().all(|isr| isr.contains(&VICTIM_ID))),
        "just before the signal (at {killed_at} ms) the run should see broker {VICTIM_ID} in every ISR:\n{meta}"
    );
    let mut after = seen
        .iter()
        .filter(|s| s.at_ms > killed_at && s.at_ms < up_at);
    assert!(
        after.any(|s| s.isrs.len() == 3
            && s.isrs.iter().all(|isr| !isr.contains(&VICTIM_ID))
            && !s.leaders.contains(&VICTIM_ID)),
        "after the signal (at {killed_at} ms) the run never saw broker {VICTIM_ID} leave the ISRs:\n{meta}"
    );
    // Started again: the run sees it back in the cluster and catching up into an ISR.
    assert!(
        seen.iter().any(|s| s.at_ms > up_at && rejoined(s)),
        "after the restart (up at {up_at} ms) the run never saw broker {VICTIM_ID} back in an ISR:\n{meta}"
    );
}

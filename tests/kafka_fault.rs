//! Kafka under a fault: one of the three brokers of `scripts/stack` is stopped in the middle of a
//! run. The run goes on, errors (if any) are counted, and every record acknowledged to loadgen is
//! consumed back afterwards. The broker is started again at the end (`scripts/stack up kafka`).
//! In a file of its own so that no other Kafka test runs while a broker is down.

mod common;

use common::fault::{finish, kill_stack_process, spawn_run, RestartOnDrop};
use common::stack::{require_kafka, unique, KAFKA};
use common::*;
use std::time::Duration;

#[test]
fn a_broker_stops_mid_run_and_no_acknowledged_record_is_lost() {
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
options = {
  scenarios = { produce = { executor = "constant-arrival-rate", rate = 300, duration = "8s",
                            pre_allocated_vus = 20, max_vus = 200 } },
}
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
    let child = spawn_run(
        &case,
        &[
            format!("BROKERS={KAFKA}"),
            format!("TOPIC={topic}"),
            format!("DIR={}", case.dir.path().display()),
        ],
    );
    std::thread::sleep(Duration::from_secs(4));
    // Broker 2 shuts down (SIGTERM: a controlled shutdown), and is checked gone.
    kill_stack_process("kafka-2", libc::SIGTERM, Duration::from_secs(60));
    let (status, out) = finish(child);
    assert_eq!(status, Some(0), "{out}");
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["status"], "completed");
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{out}");
    let produced = &r["metrics"]["kafka.produce"];
    assert!(produced["count"].as_u64().unwrap() >= 2000, "{produced}");
    assert!(out.contains("acknowledged"), "{out}");
}

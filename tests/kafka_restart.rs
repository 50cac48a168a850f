//! The brokers restarted as a user would (`scripts/stack down kafka`, then `up kafka`): when `up`
//! returns, a new consumer group joins and reads at once (the stack's readiness check makes a group
//! read before it says "up"), and the binding times the join (`kafka.join`). In a file of its own so
//! that no other Kafka test runs while the brokers are down.

mod common;

use common::stack::{require_kafka, unique, KAFKA};
use common::*;
use std::process::Command;

fn stack(args: &[&str]) {
    let root = env!("CARGO_MANIFEST_DIR");
    let o = Command::new(format!("{root}/scripts/stack"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "scripts/stack {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn after_a_restart_a_new_group_reads_as_soon_as_the_stack_says_up() {
    require_kafka();
    stack(&["down", "kafka"]);
    // Down means down: nothing answers on the brokers' ports.
    for a in KAFKA.split(',') {
        assert!(
            std::net::TcpStream::connect(a).is_err(),
            "broker {a} still answers after 'stack down kafka'"
        );
    }
    stack(&["up", "kafka"]);
    let topic = unique("lg-restart");
    let case = Case::new(
        r#"
local lg = require("loadgen")
local kafka = require("loadgen.kafka")
local brokers = lg.env("BROKERS")
local topic = lg.env("TOPIC")
local admin = kafka.admin{ brokers = brokers }
options = { iterations = 1 }
function setup()
  local r = admin:create_topic{ name = topic, partitions = 3, replication = 3 }
  assert(r.ok, r.error)
  local p = kafka.producer{ brokers = brokers, acks = "all", linger_ms = 5 }
  -- In batches (each waits for its deliveries): one acknowledged send at a time took ~12 ms right
  -- after the restart, and 5,000 of them ran past setup's one-minute limit once.
  for b = 0, 9 do
    local recs = {}
    for i = 1, 500 do recs[i] = { topic = topic, key = tostring(b * 500 + i), value = "v" } end
    local r = p:send_batch(recs)
    assert(r.failed == 0, "batch " .. b .. ": " .. tostring(r.failed) .. " failed")
  end
end
function default()
  local c = kafka.consumer{ brokers = brokers, group = "g-" .. topic, topics = { topic }, join_timeout = "20s" }
  local n, t0 = 0, lg.now()
  while n < 5000 and lg.now() - t0 < 30000 do
    local r = c:poll("1s", 1000)
    if r.err then print("poll:", r.error) end
    n = n + #r
  end
  print("read", n, "in", lg.now() - t0, "ms")
  lg.check(n, { ["all 5000 read within 30 s of the restart"] = function(n) return n == 5000 end })
  c:close()
end
function teardown() admin:delete_topic(topic) end
"#,
    );
    let o = case.run(&[
        "-e",
        &format!("BROKERS={KAFKA}"),
        "-e",
        &format!("TOPIC={topic}"),
    ]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let r = case.result();
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{}", stdout(&o));
    assert_eq!(r["metrics"]["kafka.join"]["count"], 1);
    assert_eq!(
        r["metrics"]["kafka.consume"]["error_count"],
        0,
        "no poll waited past join_timeout: {}",
        stdout(&o)
    );
}

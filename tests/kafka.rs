//! `loadgen.kafka` against the real three-broker Kafka of `scripts/stack`.

mod common;

use common::stack::{require_kafka, unique, KAFKA};
use common::*;

#[test]
fn ten_thousand_keyed_records_round_trip_through_a_replicated_topic() {
    require_kafka();
    let topic = unique("lg-roundtrip");
    let case = Case::new(
        r#"
local lg = require("loadgen")
local kafka = require("loadgen.kafka")
local brokers = lg.env("BROKERS")
local topic = lg.env("TOPIC")
local admin = kafka.admin{ brokers = brokers }
local p = kafka.producer{ brokers = brokers, acks = "all", linger_ms = 5, idempotence = true }
options = {
  scenarios = { produce = { executor = "shared-iterations", vus = 8, iterations = 10000 } },
  thresholds = { ["kafka.produce"] = { "error_rate == 0", "count == 10000" }, checks = { "rate == 1" } },
}
function setup()
  local r = admin:create_topic{ name = topic, partitions = 3, replication = 3 }
  assert(r.ok, r.error)
  local d = admin:describe(topic)
  assert(#d.partitions == 3 and #d.partitions[1].replicas == 3, "3 partitions, RF 3")
end
function default()
  local key = lg.vu() .. "-" .. lg.iteration()
  local r = p:send{ topic = topic, key = key, value = "v-" .. key }
  if r.err then error(r.error) end
end
function teardown()
  local c = kafka.consumer{ brokers = brokers, group = "verify-" .. topic, topics = { topic }, from = "earliest" }
  local seen, n, bad, idle = {}, 0, 0, 0
  while n < 10000 and idle < 30 do
    local recs = c:poll("1s", 1000)
    if #recs == 0 then idle = idle + 1 end
    for _, r in ipairs(recs) do
      if not seen[r.key] then seen[r.key] = true; n = n + 1 end
      if r.value ~= "v-" .. r.key then bad = bad + 1 end
    end
  end
  c:close()
  lg.check(n, { ["all 10000 distinct keys consumed"] = function(n) return n == 10000 end })
  lg.check(bad, { ["every value matches its key"] = function(b) return b == 0 end })
  admin:delete_topic(topic)
end
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
    assert_valid(&r);
    let produce = &r["metrics"]["kafka.produce"];
    assert_eq!(produce["count"], 10000);
    assert_eq!(produce["units"]["records"], 10000);
    assert_eq!(r["metrics"]["kafka.consume"]["units"]["records"], 10000);
    assert_eq!(r["metrics"]["kafka.e2e"]["count"], 10000);
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0);
}

#[test]
fn unreachable_brokers_fail_fast_and_name_the_address() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let case = Case::new(&format!(
        r#"
local kafka = require("loadgen.kafka")
local p = kafka.producer{{ brokers = "127.0.0.1:{port}" }}
function default() p:send{{ topic = "t", value = "x" }} end
"#
    ));
    let started = std::time::Instant::now();
    let o = case.run(&[]);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("127.0.0.1:{port}")),
        "{}",
        stderr(&o)
    );
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["status"], "failed");
}

#[test]
fn without_the_healthcheck_unreachable_brokers_are_counted_connect_errors() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let case = Case::new(&format!(
        r#"
local kafka = require("loadgen.kafka")
local p = kafka.producer{{ brokers = "127.0.0.1:{port}", healthcheck = false, timeout = "2s" }}
options = {{ iterations = 2 }}
function default() p:send{{ topic = "t", value = "x" }} end
"#
    ));
    let started = std::time::Instant::now();
    let o = case.run(&[]);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = case.result();
    let errors = &r["metrics"]["kafka.produce"]["errors"];
    assert_eq!(r["metrics"]["kafka.produce"]["error_count"], 2, "{errors}");
    assert!(
        errors.get("connect").is_some() || errors.get("timeout").is_some(),
        "{errors}"
    );
}

/// Two consumers of one group on a one-partition topic: one gets the partition, the other gets
/// nothing, and says why: each of its empty polls carries how long it has been without partitions
/// and the reason; past `join_timeout` they are `timeout` errors and the run gets a warning. Both
/// joins are timed as `kafka.join`.
#[test]
fn a_consumer_without_partitions_says_why() {
    require_kafka();
    let topic = unique("lg-unassigned");
    let case = Case::new(
        r#"
local lg = require("loadgen")
local kafka = require("loadgen.kafka")
local brokers = lg.env("BROKERS")
local topic = lg.env("TOPIC")
local admin = kafka.admin{ brokers = brokers }
options = { iterations = 1 }
function setup()
  local r = admin:create_topic{ name = topic, partitions = 1, replication = 3 }
  assert(r.ok, r.error)
  local p = kafka.producer{ brokers = brokers, acks = "all" }
  assert(not p:send{ topic = topic, key = "k", value = "v" }.err)
end
function default()
  local group = "g-" .. topic
  local a = kafka.consumer{ brokers = brokers, group = group, topics = { topic }, join_timeout = "3s" }
  local b = kafka.consumer{ brokers = brokers, group = group, topics = { topic }, join_timeout = "3s" }
  local seen, why, late = 0, nil, nil
  local t0 = lg.now()
  -- Until one consumer read the record and the other's empty polls turned into errors (a consumer
  -- still joining also says so, "not in the group yet", and may pass join_timeout first).
  while lg.now() - t0 < 30000 and not (late and seen >= 1) do
    for _, c in ipairs({ a, b }) do
      local r = c:poll("500ms", 10)
      seen = seen + #r
      if r.reason and r.reason:find("without partitions", 1, true) then why = r.reason end
      if r.err == "timeout" and r.error:find("without partitions", 1, true) then late = r.error end
    end
  end
  print("seen", seen, "why", why, "late", late)
  lg.check(why, { ["an unassigned consumer says why"] = function(w)
    return w ~= nil and w:find("without partitions", 1, true) ~= nil end })
  lg.check(late, { ["past join_timeout an empty poll is a timeout error"] = function(l)
    return l ~= nil and l:find("no partitions assigned for", 1, true) ~= nil end })
  lg.check(seen, { ["the other consumer read the record"] = function(n) return n >= 1 end })
  a:close(); b:close()
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
    assert_valid(&r);
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{}", stdout(&o));
    assert_eq!(
        r["metrics"]["kafka.join"]["count"], 2,
        "both consumers joined"
    );
    assert!(
        r["metrics"]["kafka.consume"]["errors"]["timeout"].as_u64() >= Some(1),
        "{}",
        r["metrics"]["kafka.consume"]
    );
    let warnings = r["warnings"].to_string();
    assert!(
        warnings.contains("no partitions were assigned"),
        "{warnings}"
    );
}

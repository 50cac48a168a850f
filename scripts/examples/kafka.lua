-- Kafka: create a 3-partition, RF-3 topic, produce monitoring events at a fixed rate, consume them
-- back in a second scenario and measure the end-to-end time (kafka.e2e).
-- Needs: scripts/stack up kafka
local lg = require("loadgen")
local kafka = require("loadgen.kafka")
local gen = require("loadgen.gen")

local brokers = lg.env("BROKERS", "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096")
local topic = lg.env("TOPIC", "events")

-- One producer shared by every VU (the first producer of each VU's init is the same one).
local producer = kafka.producer{ brokers = brokers, acks = "all", compression = "lz4", linger_ms = 5 }
-- One consumer per consuming VU, all in one group: the partitions are spread over the VUs. Made at
-- the VU's first consume() rather than in init code: init code runs in every VU, and an arrival-rate
-- scenario that needs more VUs mid-run initialises them then, so a consumer there would make every
-- producing VU join the group (a rebalance each) and slow the VU start-up.
local consumer

-- A warm-up, then the measured load; the threshold looks at the measured scenario only. Brokers that
-- just started (JIT compilation, a topic just created) fall behind for their first minute under load on
-- this 2-core machine: right after a fresh stack start, produce p50 reached 8 s behind a 5 s warm-up,
-- and p99 was 351 ms behind a 25 s ramp, against 29 ms once warm. So the
-- warm-up sends at the measured rate for 40 s; at most 50 warm-up sends are in flight and late warm-up
-- iterations are dropped, so no backlog reaches the measured scenario. All VUs are made before the load
-- starts: a VU made mid-run runs this file's init code on the thread that schedules the iterations.
options = {
  scenarios = {
    warmup = { executor = "constant-arrival-rate", rate = 1000, duration = "40s",
               pre_allocated_vus = 50, max_vus = 50, drop_late = true, exec = "produce" },
    produce = { executor = "constant-arrival-rate", rate = 1000, duration = "20s", start_time = "40s",
                pre_allocated_vus = 100, max_vus = 100, exec = "produce" },
    consume = { executor = "constant-vus", vus = 3, duration = "65s", exec = "consume" },
  },
  thresholds = {
    -- Measured on this 2-core machine: p99 29 ms with warm brokers, 351 and 364 ms in two runs right
    -- after a fresh stack start (the bound leaves room for that; 200 ms failed there).
    ["kafka.produce{scenario:produce}"] = { "p(99) < 1s", "error_rate < 0.001" },
  },
}

function setup()
  local admin = kafka.admin{ brokers = brokers }
  local d = admin:describe(topic)
  if d.err or #d.partitions == 0 then
    local r = admin:create_topic{ name = topic, partitions = 3, replication = 3 }
    if r.err and r.err ~= "client" then error("create_topic: " .. r.error) end
  end
end

function produce()
  local r = producer:send{ topic = topic, key = gen.uuid(), value = gen.json_event() }
  if r.err then error(r.error) end
end

function consume()
  consumer = consumer or kafka.consumer{ brokers = brokers, group = "loadgen-example", topics = { topic } }
  consumer:poll("500ms", 500)
end

function teardown()
  producer:flush("10s")
end

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

-- A warm-up (brokers that just started answer slowly for a while), then the measured load; the
-- threshold looks at the measured scenario only. All VUs are made before the load starts: a VU made
-- mid-run runs this file's init code on the thread that schedules the iterations.
options = {
  scenarios = {
    warmup = { executor = "constant-arrival-rate", rate = 200, duration = "5s",
               pre_allocated_vus = 20, max_vus = 20, drop_late = true, exec = "produce" },
    produce = { executor = "constant-arrival-rate", rate = 1000, duration = "20s", start_time = "5s",
                pre_allocated_vus = 100, max_vus = 100, exec = "produce" },
    consume = { executor = "constant-vus", vus = 3, duration = "30s", exec = "consume" },
  },
  thresholds = {
    ["kafka.produce{scenario:produce}"] = { "p(99) < 200ms", "error_rate < 0.001" },
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

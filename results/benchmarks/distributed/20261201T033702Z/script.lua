-- A Kafka plan for scripts/bench/distributed.sh (SCRIPT=scripts/bench/distributed_kafka.lua
-- METRIC=kafka.produce): RATE records/s for DURATION to TOPIC (3 partitions, replication 3, made by
-- whichever instance's setup() comes first; the others find it), acks=all, each record a monitoring
-- event (gen.json_event) keyed by gen.uuid(): the instances together draw what one process would, with
-- no key twice. VUS VUs at most, split among the instances by --instance I/N.
local lg = require("loadgen")
local kafka = require("loadgen.kafka")
local gen = require("loadgen.gen")
local brokers = lg.env("BROKERS", "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096")
local topic = lg.env("TOPIC")
local vus = tonumber(lg.env("VUS", "32"))
local producer = kafka.producer{ brokers = brokers, acks = "all", linger_ms = 5, timeout = "10s" }

options = {
  scenarios = {
    produce = { executor = "constant-arrival-rate", rate = tonumber(lg.env("RATE", "2000")),
                duration = lg.env("DURATION", "20s"), pre_allocated_vus = vus, max_vus = vus },
  },
  thresholds = { ["kafka.produce"] = { "p(99) < 200ms", "error_rate < 0.01" } },
}

function setup()
  local admin = kafka.admin{ brokers = brokers }
  if admin:describe(topic).err then
    local r = admin:create_topic{ name = topic, partitions = 3, replication = 3 }
    -- another instance may have made it in the meantime
    assert(r.ok or not admin:describe(topic).err, r.error)
  end
end

function default()
  producer:send{ topic = topic, key = gen.uuid(), value = gen.json_event() }
end

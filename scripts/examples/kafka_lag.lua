-- Kafka consumer lag, the old platform's failure seen as it happens: records produced at RATE a second
-- into a 3-partition topic while one consumer, made slow on purpose (it reads at most READ records a
-- second, as a consuming service that cannot keep up), falls behind. The result has, per partition, the
-- lag in records and in seconds (kafka.consumer_lag, kafka.consumer_lag_s, once a second) and the
-- records read (kafka.partition_records), and the threshold says when the lag is too large.
-- Needs: scripts/stack up kafka.
--   loadgen run scripts/examples/kafka_lag.lua [-e RATE=2000] [-e READ=1000] [-e SECONDS=30]
local lg = require("loadgen")
local kafka = require("loadgen.kafka")

local brokers = lg.env("BROKERS", "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096")
local topic = lg.env("TOPIC", "lag-demo-" .. lg.env("RUN", "1"))
local rate = tonumber(lg.env("RATE", "2000"))
local read = tonumber(lg.env("READ", "1000"))
local seconds = tonumber(lg.env("SECONDS", "30"))
local producer = kafka.producer{ brokers = brokers, acks = "1", linger_ms = 5 }
local consumer

options = {
  scenarios = {
    produce = { executor = "constant-arrival-rate", rate = rate, duration = seconds .. "s",
                pre_allocated_vus = 20, max_vus = 50, exec = "produce" },
    consume = { executor = "constant-vus", vus = 1, duration = seconds .. "s", exec = "consume" },
  },
  -- Falling behind by more than 10 seconds' worth of production fails the run (exit 99).
  thresholds = { ["kafka.consumer_lag"] = { "value < " .. (10 * rate) } },
}

function setup()
  local admin = kafka.admin{ brokers = brokers }
  local r = admin:create_topic{ name = topic, partitions = 3, replication = 3 }
  assert(r.ok, r.error)
end

function produce()
  producer:send_async{ topic = topic, value = "event " .. lg.iteration() }
end

-- READ records a second: 100 a poll, then a pause for the rest of a tenth of a second.
function consume()
  consumer = consumer or kafka.consumer{ brokers = brokers, group = topic .. "-readers", topics = { topic } }
  local t0 = lg.now()
  consumer:poll("100ms", read // 10, { records = false })
  local left = 100 - (lg.now() - t0)
  if left > 0 then lg.sleep(left / 1000) end
end

function teardown()
  kafka.admin{ brokers = brokers }:delete_topic(topic)
end

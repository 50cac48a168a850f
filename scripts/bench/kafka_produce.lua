-- Kafka produce throughput, the same settings as the ProducerPerformance run beside it
-- (scripts/bench/kafka_produce.sh): RECORDS records of SIZE bytes, BATCH records in flight per VU.
local lg = require("loadgen")
local kafka = require("loadgen.kafka")

local records = tonumber(lg.env("RECORDS", "1000000"))
local batch = tonumber(lg.env("BATCH", "10000"))
local size = tonumber(lg.env("SIZE", "100"))
local topic = lg.env("TOPIC")
local p = kafka.producer{
  brokers = lg.env("BROKERS", "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"),
  acks = lg.env("ACKS", "1"), compression = lg.env("COMPRESSION", "none"),
  linger_ms = tonumber(lg.env("LINGER_MS", "5")), batch_size = tonumber(lg.env("BATCH_SIZE", "65536")),
}
-- The same payload for every record, as ProducerPerformance sends (random bytes, made once).
local gen = require("loadgen.gen")
local value = gen.string(size)
local list = {}
for i = 1, batch do list[i] = { topic = topic, value = value } end

options = {
  scenarios = { produce = { executor = "shared-iterations", vus = tonumber(lg.env("VUS", "2")),
                            iterations = records // batch, max_duration = "10m" } },
}

function default()
  local r = p:send_batch(list)
  if r.err then error(r.error) end
end

-- Kafka produce throughput, the loadgen side of scripts/bench/kafka_produce.sh, with the same work as
-- the ProducerPerformance run beside it: WARMUP unmeasured records, then RECORDS measured ones, of SIZE
-- bytes, to TOPIC, with the same acks, compression, linger, batch size and in-flight limit
-- (MAX_IN_FLIGHT: librdkafka's max.in.flight.requests.per.connection, Java's default 5), idempotence off
-- on both sides, and no `loadgen-sent-us` header (SENT_HEADER=false; ProducerPerformance sends none).
-- PAYLOAD=fixed: every record's value is VALUE (the bytes ProducerPerformance reads from its
-- --payload-file); PAYLOAD=random: a new random value of SIZE bytes per record (gen.string), as
-- ProducerPerformance's --record-size makes one per record.
-- The warm-up runs in setup() through the same shared producer; the VUs then send BATCH records at a
-- time each (`p:send_batch`, every record timed on its own). Prints "steady_start_us T" when the warm-up
-- is delivered and "batch_end_us T" after each measured batch: the measured phase runs from the first to
-- the last of those (ProducerPerformance's steady state runs from its first measured record to close()).
local lg = require("loadgen")
local kafka = require("loadgen.kafka")
local gen = require("loadgen.gen")

local records = tonumber(lg.env("RECORDS", "1000000"))
local warmup = tonumber(lg.env("WARMUP", "0"))
local batch = tonumber(lg.env("BATCH", "10000"))
local size = tonumber(lg.env("SIZE", "100"))
local topic = lg.env("TOPIC")
local random = lg.env("PAYLOAD", "fixed") == "random"
local value = lg.env("VALUE", "")
if not random and #value ~= size then
  error(string.format("VALUE has %d bytes, SIZE is %d", #value, size))
end
if records % batch ~= 0 or warmup % batch ~= 0 then
  error("RECORDS and WARMUP must be multiples of BATCH")
end
local p = kafka.producer{
  brokers = lg.env("BROKERS", "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"),
  acks = lg.env("ACKS", "1"), compression = lg.env("COMPRESSION", "none"),
  linger_ms = tonumber(lg.env("LINGER_MS", "5")), batch_size = tonumber(lg.env("BATCH_SIZE", "65536")),
  idempotence = false,
  sent_header = lg.env("SENT_HEADER", "false") == "true",
  config = { ["max.in.flight.requests.per.connection"] = lg.env("MAX_IN_FLIGHT", "5") },
}

local list = {}
for i = 1, batch do list[i] = { topic = topic, value = value } end
local function fill()
  if random then
    for i = 1, batch do list[i].value = gen.string(size) end
  end
end

options = {
  scenarios = { produce = { executor = "shared-iterations", vus = tonumber(lg.env("VUS", "2")),
                            iterations = records // batch, max_duration = "10m" } },
}

function setup()
  for _ = 1, warmup // batch do
    fill()
    local r = p:send_batch(list)
    if r.err then error("warm-up: " .. r.error) end
  end
  print(string.format("steady_start_us %d", lg.now_us()))
end

function default()
  fill()
  local r = p:send_batch(list)
  if r.err then error(r.error) end
  print(string.format("batch_end_us %d", lg.now_us()))
end

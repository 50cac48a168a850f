-- Kafka consume throughput beside Kafka's ConsumerPerformance (scripts/bench/kafka_consume.sh): one
-- consumer, in a group of its own, reads RECORDS records of TOPIC from the beginning, up to MAX a poll,
-- with the fetch settings the script passes to both tools (FETCH_* below). Prints the time from the
-- first poll to the last record ("consume_ms"), which the script turns into the load phase by taking
-- away the group join (kafka.join), as ConsumerPerformance reports its fetch time without its join.
local lg = require("loadgen")
local kafka = require("loadgen.kafka")

local records = tonumber(lg.env("RECORDS"))
local max = tonumber(lg.env("MAX", "500"))
-- MODE=count: polls return counts only ({ records = false }), the work ConsumerPerformance does (it
-- counts records and their bytes); MODE=records: every record comes to Lua as a table, and the script
-- reads each value's length.
local mode = lg.env("MODE", "count")
local c = kafka.consumer{
  brokers = lg.env("BROKERS", "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096"),
  group = lg.env("GROUP"), topics = { lg.env("TOPIC") }, from = "earliest",
  config = {
    ["fetch.min.bytes"] = lg.env("FETCH_MIN_BYTES"),
    ["fetch.max.bytes"] = lg.env("FETCH_MAX_BYTES"),
    ["max.partition.fetch.bytes"] = lg.env("MAX_PARTITION_FETCH_BYTES"),
    ["fetch.wait.max.ms"] = lg.env("FETCH_MAX_WAIT_MS"),
  },
}

options = {
  scenarios = { consume = { executor = "shared-iterations", vus = 1, iterations = 1, max_duration = "10m" } },
}

function default()
  local n, idle, bytes = 0, 0, 0
  local t0 = lg.now()
  while n < records and idle < 30 do
    local r
    if mode == "count" then
      r = c:poll("1s", max, { records = false })
      bytes = bytes + r.bytes
    else
      r = c:poll("1s", max)
      for _, rec in ipairs(r) do bytes = bytes + #rec.value end
    end
    if r.err then error(r.error) end
    if r.count == 0 then idle = idle + 1 end
    n = n + r.count
  end
  local ms = lg.now() - t0
  c:close()
  if n < records then error(string.format("read %d of %d records", n, records)) end
  print(string.format("consume_ms %.3f records %d bytes %d", ms, n, bytes))
end

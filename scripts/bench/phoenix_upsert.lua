-- Phoenix UPSERT throughput, the loadgen side of scripts/bench/phoenix_upsert.sh: one VU, one Query
-- Server connection (PHOENIX url, SERIALIZATION json or protobuf), a prepared UPSERT, ROWS rows in
-- batches of BATCH (`execute_batch`), a commit after each batch (autocommit off), as the thick JDBC
-- client beside it (scripts/bench/java/PhoenixBench.java) does. The rows are the same: row(i) for i = 0 .. ROWS-1.
local lg = require("loadgen")
local phoenix = require("loadgen.phoenix")

local tbl = lg.env("TABLE")
local total = tonumber(lg.env("ROWS", "200000"))
local batch = tonumber(lg.env("BATCH", "1000"))
local ser = lg.env("SERIALIZATION", "protobuf")
local c = phoenix.connect{ url = lg.env("PHOENIX", ser == "json" and "http://127.0.0.1:8766" or "http://127.0.0.1:8765"),
                           serialization = ser, timeout = "120s", autocommit = false }
local upsert = c:prepare("UPSERT INTO " .. tbl ..
  " (ID, TS, HOST, SERVICE, LEVEL, STATUS, LATENCY_MS, BYTES, MESSAGE) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
local levels = { [0] = "DEBUG", "INFO", "WARN", "ERROR" }

options = {
  scenarios = { upsert = { executor = "per-vu-iterations", vus = 1, iterations = (total + batch - 1) // batch,
                           max_duration = "30m" } },
}

local function row(i)
  local status = 200 + (i % 5) * 100
  local host = "host-" .. (i % 50)
  return { i, 1700000000000 + i, host, "svc-" .. (i % 20), levels[i % 4], status, (i * 7 % 1000) / 10,
           i * 37 % 100000, "request " .. i .. " served by " .. host .. " with status " .. status }
end

function default()
  local first = (lg.iteration() - 1) * batch
  local rows = {}
  for i = first, math.min(total, first + batch) - 1 do rows[#rows + 1] = row(i) end
  local r = upsert:execute_batch(rows, { name = "upsert" })
  if r.err then error(r.error) end
  local k = c:commit()
  if k.err then error(k.error) end
end

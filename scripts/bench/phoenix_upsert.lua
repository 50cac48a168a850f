-- Phoenix UPSERT throughput, the loadgen side of scripts/bench/phoenix_upsert.sh: one VU, one Query
-- Server connection (PHOENIX url, SERIALIZATION json or protobuf), a prepared UPSERT, ROWS rows in
-- batches of BATCH (`execute_batch`), a commit after each batch (autocommit off), as the thick JDBC
-- client beside it (scripts/bench/java/PhoenixBench.java) does. The rows are the same: row(i) for i = 0 .. ROWS-1.
-- WARMUP rows more (ids ROWS .. ROWS+WARMUP-1) go first, the same way through the same connection and
-- statement, unmeasured (tagged name = "warmup"), as the thick client warms its JVM before timing.
-- Prints "steady_start_us T" after the warm-up and "end_us T" after the last batch's commit.
local lg = require("loadgen")
local phoenix = require("loadgen.phoenix")

local tbl = lg.env("TABLE")
local total = tonumber(lg.env("ROWS", "200000"))
local batch = tonumber(lg.env("BATCH", "1000"))
local warmup = tonumber(lg.env("WARMUP", "0"))
local warm_batches = (warmup + batch - 1) // batch
local measured_batches = (total + batch - 1) // batch
local ser = lg.env("SERIALIZATION", "protobuf")
local c = phoenix.connect{ url = lg.env("PHOENIX", ser == "json" and "http://127.0.0.1:8766" or "http://127.0.0.1:8765"),
                           serialization = ser, timeout = "120s", autocommit = false }
local upsert = c:prepare("UPSERT INTO " .. tbl ..
  " (ID, TS, HOST, SERVICE, LEVEL, STATUS, LATENCY_MS, BYTES, MESSAGE) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
-- each measured batch's execute_batch + commit, as the thick client times its batches
local batch_ms = lg.trend("upsert_batch_ms")
local levels = { [0] = "DEBUG", "INFO", "WARN", "ERROR" }

options = {
  scenarios = { upsert = { executor = "per-vu-iterations", vus = 1, iterations = warm_batches + measured_batches,
                           max_duration = "30m" } },
}

local function row(i)
  local status = 200 + (i % 5) * 100
  local host = "host-" .. (i % 50)
  return { i, 1700000000000 + i, host, "svc-" .. (i % 20), levels[i % 4], status, (i * 7 % 1000) / 10,
           i * 37 % 100000, "request " .. i .. " served by " .. host .. " with status " .. status }
end

function default()
  local n = lg.iteration() -- 1-based: the warm-up batches first
  local first, last, name
  if n <= warm_batches then
    first = total + (n - 1) * batch
    last, name = math.min(total + warmup, first + batch) - 1, "warmup"
  else
    first = (n - warm_batches - 1) * batch
    last, name = math.min(total, first + batch) - 1, "upsert"
  end
  if n == warm_batches + 1 then print(string.format("steady_start_us %d", lg.now_us())) end
  local rows = {}
  for i = first, last do rows[#rows + 1] = row(i) end
  local t0 = lg.now_us()
  local r = upsert:execute_batch(rows, { name = name })
  if r.err then error(r.error) end
  local k = c:commit()
  if k.err then error(k.error) end
  if name == "upsert" then batch_ms:add((lg.now_us() - t0) / 1000) end
  if n == warm_batches + measured_batches then print(string.format("end_us %d", lg.now_us())) end
end

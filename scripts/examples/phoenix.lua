-- HBase/Phoenix through the Phoenix Query Server: UPSERT monitoring events in batches, and query them
-- (point lookups by key, short range scans) while loading continues.
-- Needs: scripts/stack up phoenix. The stack's Query Server answers protobuf (the released Query
-- Server's default, and this binding's) on 127.0.0.1:8765, as the released server, and JSON on
-- 127.0.0.1:8766.
--   loadgen run scripts/examples/phoenix.lua                       (protobuf)
--   loadgen run scripts/examples/phoenix.lua -e SERIALIZATION=json
local lg = require("loadgen")
local phoenix = require("loadgen.phoenix")
local gen = require("loadgen.gen")

local tbl = lg.env("TABLE", "LOADGEN_EVENTS")
local preload = 10000
-- One connection per VU (init code runs in every VU); rate_limit is in rows per second, shared by all.
local serialization = lg.env("SERIALIZATION", "protobuf")
local c = phoenix.connect{
  url = lg.env("PHOENIX", serialization == "json" and "http://127.0.0.1:8766" or "http://127.0.0.1:8765"),
  serialization = serialization,
  timeout = "30s",
  rate_limit = 20000,
}
-- Prepared on the server at first use, then reused by this VU's connection.
local upsert = c:prepare("UPSERT INTO " .. tbl ..
  " (ID, TS, HOST, SERVICE, LEVEL, STATUS, LATENCY_MS, BYTES, MESSAGE) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
local by_id = c:prepare("SELECT * FROM " .. tbl .. " WHERE ID = ?")
local range = c:prepare("SELECT ID, SERVICE, LATENCY_MS FROM " .. tbl .. " WHERE ID >= ? AND ID < ?")
local keys = gen.zipfian(preload)

options = {
  scenarios = {
    load  = { executor = "constant-vus", vus = 2, duration = "20s", exec = "load" },
    query = { executor = "constant-arrival-rate", rate = 30, duration = "15s", start_time = "5s",
              pre_allocated_vus = 5, max_vus = 20, exec = "query" },
  },
  thresholds = {
    ["phoenix.execute"] = { "error_rate == 0" },
    ["phoenix.query{name:by_id}"] = { "p(95) < 500ms" },
  },
}

local function rows(first, n)
  local out = {}
  for i = 1, n do
    local e = gen.event()
    out[i] = { first + i - 1, e.ts, e.host, e.service, e.level, e.status, e.latency_ms, e.bytes, e.message }
  end
  return out
end

function setup()
  c:execute("DROP TABLE IF EXISTS " .. tbl)
  local r = c:execute("CREATE TABLE " .. tbl .. " (ID BIGINT NOT NULL PRIMARY KEY, TS TIMESTAMP, HOST VARCHAR," ..
    " SERVICE VARCHAR, LEVEL VARCHAR, STATUS INTEGER, LATENCY_MS DOUBLE, BYTES BIGINT, MESSAGE VARCHAR)")
  if r.err then error(r.error) end
  for first = 0, preload - 1, 500 do
    local b = upsert:execute_batch(rows(first, 500))
    if b.err then error(b.error) end
  end
end

-- Each load VU writes its own key range above the preloaded rows.
local next_id = preload + lg.vu() * 1000000000
function load()
  upsert:execute_batch(rows(next_id, 200), { name = "upsert" })
  next_id = next_id + 200
end

function query()
  local r = by_id:query({ keys:next() }, { name = "by_id" })
  lg.check(r, { ["found"] = function(r) return r.err == nil and r.count == 1 end })
  local from = gen.int(0, preload - 50)
  range:query({ from, from + 50 }, { name = "range50" })
end

function teardown()
  local r = c:query("SELECT COUNT(*) FROM " .. tbl)
  print(string.format("%s: %s rows", tbl, r.err and r.error or tostring(r.rows[1][1])))
end

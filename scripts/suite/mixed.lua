-- The store evaluation's mixed load, the platform's real-time case: queries at a fixed arrival rate on
-- a loaded store, first alone, then while new events are ingested at a fixed rate through the store's
-- real-time path (s.append: bulk + refresh, UPSERT + commit, or file + INSERT INTO), each batch
-- queryable when its call returns. The same rates for every store (the same workload).
--   loadgen run scripts/suite/mixed.lua -e STORE=... -e DATA=events.tsv -e NAME=table \
--     [-e QRATE=1] [-e IRATE=2000] [-e BATCH=2000] [-e SECONDS=30] [-e QUERIES="count_by_status ..."]
-- Scenarios: alone (queries only), then queries + ingest side by side, 2 s apart.
-- Metrics: mixed_latency_ms / mixed_service_ms (every query; per scenario; latency from the scheduled
-- time), mixed_query_latency_ms (the same per query class: tag query), ingest_latency_ms /
-- ingest_service_ms (per batch), rows_ingested (counter).
-- New events are the data's rows a day later (ts + 24 h) with the trace id suffixed, so they add rows
-- rather than overwrite them.
local lg = require("loadgen")
local gen = require("loadgen.gen")
local events = require("events")
local stores = require("stores")
local ps = require("procstat")

local store = lg.env("STORE", "elasticsearch")
local data = gen.csv(lg.env("DATA", "/tmp/loadgen-events.tsv"), { header = false, separator = "\t" })
local name = lg.env("NAME", "lg_events")
local qrate = tonumber(lg.env("QRATE", "1"))
local irate = tonumber(lg.env("IRATE", "2000"))
local batch = tonumber(lg.env("BATCH", "2000"))
local seconds = tonumber(lg.env("SECONDS", "30"))
local list = lg.env("QUERIES", "count_by_status top_slowest trace_lookup range_scan histogram")
local qs = {}
for w in list:gmatch("%S+") do
  local found
  for _, x in ipairs(events.queries) do if x.name == w then found = x end end
  if not found then error("QUERIES: '" .. w .. "' is not a query of events.lua") end
  qs[#qs + 1] = found
end
local s = stores.open(store, name)
local n = #data

local m = {
  latency = lg.trend("mixed_latency_ms"), service = lg.trend("mixed_service_ms"),
  by_query = lg.trend("mixed_query_latency_ms"),
  ilatency = lg.trend("ingest_latency_ms"), iservice = lg.trend("ingest_service_ms"),
  rows = lg.counter("rows_ingested"),
}

local d = seconds .. "s"
local second = (seconds + 2) .. "s"
local tags = { store = store }
options = {
  scenarios = {
    alone = { executor = "constant-arrival-rate", rate = qrate, duration = d, pre_allocated_vus = 8,
              max_vus = 8, graceful_stop = "60s", exec = "query", tags = tags },
    with_ingest = { executor = "constant-arrival-rate", rate = qrate, duration = d, start_time = second,
                    pre_allocated_vus = 8, max_vus = 8, graceful_stop = "60s", exec = "query", tags = tags },
    ingest = { executor = "constant-arrival-rate", rate = irate / batch, duration = d, start_time = second,
               pre_allocated_vus = 2, max_vus = 2, graceful_stop = "120s", exec = "ingest", tags = tags },
  },
}

function setup() return ps.start() end

local k = 0
function query()
  k = k + 1
  local q = qs[(lg.vu() + k) % #qs + 1]
  local p = q.draw(n, data)
  local t0 = lg.now_us()
  local r = s.run(q.name, p)
  local ms = (lg.now_us() - t0) / 1000
  m.service:add(ms)
  m.latency:add(ms + lg.lateness_ms())
  m.by_query:add(ms + lg.lateness_ms(), { query = q.name })
  lg.check(r, { ["query answered"] = function(r) return r.err == nil end }, { query = q.name })
  if r.err then print(string.format("%s %s: %s", store, q.name, r.error)) end
  ps.sample()
end

-- Batch b (from 0, over both ingest VUs) holds the data's rows b*batch+1 .. moved a day later.
local nb = 0
function ingest()
  local b = nb * 2 + (lg.vu() % 2)
  nb = nb + 1
  local first = (b * batch) % n + 1
  local rows = {}
  for i = 0, batch - 1 do
    local src = data[(first - 1 + i) % n + 1]
    local row = { tostring(tonumber(src[1]) + events.SPAN), src[2], src[3], src[4], src[5], src[6], src[7],
                  src[8] .. "-n" .. b, src[9] }
    rows[#rows + 1] = row
  end
  local t0 = lg.now_us()
  local r = s.append(rows, n + b * batch + 1)
  local ms = (lg.now_us() - t0) / 1000
  m.iservice:add(ms)
  m.ilatency:add(ms + lg.lateness_ms())
  local ok = lg.check(r, { ["batch queryable"] = function(r) return r.err == nil and not r.errors end })
  if ok then m.rows:add(#rows) else print(string.format("%s ingest: %s", store, tostring(r.error))) end
  ps.sample()
end

function teardown(t) ps.finish(t) end

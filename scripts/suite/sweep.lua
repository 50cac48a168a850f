-- One step of the store evaluation's open-model sweep: one query class at a fixed arrival rate against a
-- loaded store, so its latency counts from each query's scheduled time (a store that falls behind shows
-- as queueing, not as fewer samples). scripts/suite/evaluate.sh runs the steps, doubling the rate until
-- the store saturates, and scripts/suite/summarize.sh draws the curves.
--   loadgen run scripts/suite/sweep.lua -e STORE=... -e DATA=events.tsv -e NAME=table -e QUERY=trace_lookup \
--     -e RATE=20 [-e SECONDS=10] [-e VUS=8]
-- Metrics: sweep_latency_ms (from the scheduled time: service time + lateness), sweep_service_ms (from
-- the moment the query left), query_rows (counter), answered checks; server_cpu_s and server_rss_mib.
-- Parameters are drawn as in the hot phase (another hour, trace id, service or word pair each time).
local lg = require("loadgen")
local gen = require("loadgen.gen")
local events = require("events")
local stores = require("stores")
local ps = require("procstat")

local store = lg.env("STORE", "elasticsearch")
local data = gen.csv(lg.env("DATA", "/tmp/loadgen-events.tsv"), { header = false, separator = "\t" })
local name = lg.env("NAME", "lg_events")
local qname = lg.env("QUERY", "trace_lookup")
local rate = tonumber(lg.env("RATE", "1"))
local seconds = tonumber(lg.env("SECONDS", "10"))
local vus = tonumber(lg.env("VUS", "8"))
local q
for _, x in ipairs(events.queries) do if x.name == qname then q = x end end
if not q then error("QUERY must name a query of events.lua, not '" .. qname .. "'") end
if not rate or rate <= 0 then error("RATE must be a positive number of queries a second") end
local s = stores.open(store, name)
local n = #data

local latency = lg.trend("sweep_latency_ms")
local service = lg.trend("sweep_service_ms")
local rows = lg.counter("query_rows")

options = {
  scenarios = {
    step = { executor = "constant-arrival-rate", rate = rate, duration = seconds .. "s",
             pre_allocated_vus = vus, max_vus = vus, graceful_stop = "300s",
             tags = { store = store, query = qname, rate = tostring(rate) } },
  },
}

function setup() return ps.start() end

function default()
  local p = q.draw(n, data)
  local t0 = lg.now_us()
  local r = s.run(qname, p)
  local ms = (lg.now_us() - t0) / 1000
  service:add(ms)
  latency:add(ms + lg.lateness_ms())
  lg.check(r, { ["query answered"] = function(r) return r.err == nil end })
  if r.err then print(string.format("%s %s: %s", store, qname, r.error)) end
  if r.rows then rows:add(#r.rows) elseif r.hits then rows:add(#r.hits) end
  ps.sample()
end

function teardown(t) ps.finish(t) end

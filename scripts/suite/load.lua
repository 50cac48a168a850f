-- The store evaluation's load phase: the data file into one store by LOADERS concurrent loaders, each
-- taking every LOADERS-th batch, timed from the first batch until every row is queryable (refresh,
-- commit or INSERT included), then checked with a count.
--   loadgen run scripts/suite/load.lua -e STORE=elasticsearch|hive|phoenix -e DATA=events.tsv \
--     -e LOADERS=1 [-e BATCH=N] [-e NAME=table]
-- Metrics: load_batch (ms per batch), load_finish_ms (making the rows queryable), rows_loaded, and the
-- gauges load_s, load_rows_per_s, load_mb_per_s (the TSV's bytes), disk_bytes, disk_bytes_per_row,
-- server_cpu_s, others_cpu_s; server_rss_mib (trend: its max is the peak seen).
local lg = require("loadgen")
local gen = require("loadgen.gen")
local stores = require("stores")
local ps = require("procstat")

local store = lg.env("STORE", "elasticsearch")
local path = lg.env("DATA", "/tmp/loadgen-events.tsv")
local data = gen.csv(path, { header = false, separator = "\t" })
local name = lg.env("NAME", "lg_events")
local loaders = tonumber(lg.env("LOADERS", "1"))
local s = stores.open(store, name)
local batch = tonumber(lg.env("BATCH", tostring(s.batch)))
local n = #data
local batches = math.ceil(n / batch)
local file_bytes = (function() local f = assert(io.open(path, "rb")); local b = f:seek("end"); f:close(); return b end)()

local m = {
  batch = lg.trend("load_batch"), finish = lg.trend("load_finish_ms"), rows = lg.counter("rows_loaded"),
  seconds = lg.gauge("load_s"), rate = lg.gauge("load_rows_per_s"), mb = lg.gauge("load_mb_per_s"),
  disk = lg.gauge("disk_bytes"), per_row = lg.gauge("disk_bytes_per_row"),
}

options = {
  scenarios = {
    load = { executor = "per-vu-iterations", vus = loaders, iterations = math.ceil(batches / loaders),
             max_duration = "120m", tags = { store = store, loaders = tostring(loaders) } },
  },
  thresholds = { checks = { "rate == 1" } },
  -- Making 10M rows queryable (Hive's INSERT into ORC with statistics) takes minutes.
  setup_timeout = "10m", teardown_timeout = "60m",
}

function setup()
  s.create()
  local t = ps.start()
  t.t0 = lg.now_us()
  return t
end

function default()
  local b = (lg.iteration() - 1) * loaders + lg.vu()         -- this VU's next batch (1-based)
  if b > batches then return end
  local first = (b - 1) * batch + 1
  local rows = {}
  for i = first, math.min(b * batch, n) do rows[#rows + 1] = data[i] end
  local t0 = lg.now_us()
  local r = s.load(rows, first)
  m.batch:add((lg.now_us() - t0) / 1000)
  if r.err then error("batch " .. b .. ": " .. r.error) end
  m.rows:add(#rows)
  ps.sample()
end

function teardown(t)
  local t0 = lg.now_us()
  local r = s.finish()
  m.finish:add((lg.now_us() - t0) / 1000)
  if r and r.err then error("making the rows queryable: " .. r.error) end
  local secs = (lg.now_us() - t.t0) / 1e6
  ps.finish(t)
  m.seconds:set(secs)
  m.rate:set(n / secs)
  m.mb:set(file_bytes / 1e6 / secs)
  local count = s.count()
  lg.check(count, { ["every row queryable after the load"] = function(c) return tonumber(c) == n end })
  local disk = s.disk_bytes()
  if disk then m.disk:set(disk); m.per_row:set(disk / n) end
  for _, d in ipairs(s.design) do print("design: " .. d) end
  print(string.format("%s: %d rows by %d loader(s) in %.2f s (%.0f rows/s), %s rows queryable, %s bytes on disk",
    store, n, loaders, secs, n / secs, tostring(count), tostring(disk)))
end

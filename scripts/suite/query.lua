-- The store evaluation's query phase, on a store loaded by load.lua, one query at a time (closed loop,
-- so the latencies are service times):
--   PHASE=cold: each query of events.lua once, with its fixed parameters, each right after the OS page
--     cache was dropped (root only; the rate page_cache_dropped says whether it was) and the
--     store's own caches were cleared where it has an API (Elasticsearch's index caches, HBase's block
--     cache; the rate store_cache_cleared says whether they were); the answers go to ANSWERS
--     (JSON) for the cross-store validation.
--   PHASE=hot: SAMPLES rounds of every query with drawn parameters (another hour, trace id, service or
--     word pair each time), each round in another order (rotated by ROTATE).
--   loadgen run scripts/suite/query.lua -e STORE=... -e DATA=events.tsv -e PHASE=cold|hot [-e SAMPLES=30]
-- Metrics: query_<name> (trend, ms; tags phase and query), query_rows (counter), answered checks.
local lg = require("loadgen")
local gen = require("loadgen.gen")
local events = require("events")
local stores = require("stores")
local ps = require("procstat")

local store = lg.env("STORE", "elasticsearch")
local data = gen.csv(lg.env("DATA", "/tmp/loadgen-events.tsv"), { header = false, separator = "\t" })
local name = lg.env("NAME", "lg_events")
local phase = lg.env("PHASE", "hot")
local samples = tonumber(lg.env("SAMPLES", "30"))
local rotate = tonumber(lg.env("ROTATE", "0"))
local answers_path = lg.env("ANSWERS", "")
local s = stores.open(store, name)
local n = #data
local nq = #events.queries
if phase ~= "cold" and phase ~= "hot" then error("PHASE must be cold or hot, not '" .. phase .. "'") end

local trends = {}
for _, q in ipairs(events.queries) do trends[q.name] = lg.trend("query_" .. q.name) end
local rows = lg.counter("query_rows")
local cache_dropped = lg.rate("page_cache_dropped")
local store_cleared = lg.rate("store_cache_cleared")   -- Elasticsearch's and HBase's own caches (Hive has none to clear)

options = {
  scenarios = {
    queries = { executor = "per-vu-iterations", vus = 1, iterations = phase == "cold" and nq or samples * nq,
                max_duration = "120m", tags = { store = store, phase = phase } },
  },
  thresholds = { checks = { "rate == 1" } },
}

function setup() return ps.start() end

-- Before each cold query: dirty pages written back, then the page cache dropped, then the store's caches.
local function drop_caches()
  os.execute("sync")
  local f = io.open("/proc/sys/vm/drop_caches", "w")
  local dropped = f ~= nil and f:write("3") ~= nil
  if f then f:close() end
  cache_dropped:add(dropped)
  if not dropped then print("page cache NOT dropped (needs root): this cold query may read cached pages") end
  local r = s.clear_caches()
  if r then
    store_cleared:add(r.err == nil)
    if r.err then print("store caches NOT cleared: " .. tostring(r.error)) end
  end
end

local answers = { store = store, rows = n, queries = {} }

function default()
  local it = lg.iteration() - 1
  local round, k = it // nq, it % nq
  local q = events.queries[(k + round + rotate) % nq + 1]
  local p = phase == "cold" and q.fixed(n, data) or q.draw(n, data)
  if phase == "cold" then drop_caches() end
  local t0 = lg.now_us()
  local r, a = s.run(q.name, p)
  trends[q.name]:add((lg.now_us() - t0) / 1000, { query = q.name })
  lg.check(r, { ["query answered"] = function(r) return r.err == nil end }, { query = q.name })
  if r.err then print(string.format("%s %s: %s", store, q.name, r.error)) end
  if r.rows then rows:add(#r.rows) elseif r.hits then rows:add(#r.hits) end
  ps.sample()
  if phase == "cold" and answers_path ~= "" then
    answers.queries[q.name] = { params = p, answer = a or lg.json_decode("{}"), error = r.error }
    local f = assert(io.open(answers_path, "w"))
    f:write(lg.json_encode(answers))
    f:close()
  end
end

function teardown(t) ps.finish(t) end

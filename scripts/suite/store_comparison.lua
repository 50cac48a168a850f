-- The standard store comparison: the same events loaded into, then queried from, one store per run.
--   loadgen run scripts/suite/store_comparison.lua -e STORE=elasticsearch|hive|phoenix -e DATA=events.tsv
-- scripts/suite/compare_stores.sh makes the data, runs the three stores one after the other and puts the
-- results side by side with `loadgen compare`.
--
-- One VU runs everything in order, so the stores never compete with each other or with themselves:
-- iterations 1..B load batch 1..B, then QUERIES iterations run the three queries in turn.
-- Store-neutral metrics make the runs comparable:
--   load_batch (trend, ms per batch of BATCH rows), rows_loaded (counter),
--   query_errors_by_service, query_latency_by_service, query_lookup (trends, ms per query),
--   load_rows_per_s (gauge, rows / time spent loading).
-- Each store's own operation metrics (es.bulk, hive.query, phoenix.execute, ...) are recorded too.
local lg = require("loadgen")
local gen = require("loadgen.gen")

local store = lg.env("STORE", "elasticsearch")
local data = gen.csv(lg.env("DATA", "/tmp/loadgen-events.tsv"), { header = false, separator = "\t" })
local batch = tonumber(lg.env("BATCH", "5000"))
local queries = tonumber(lg.env("QUERIES", "30"))
local name = lg.env("NAME", "lg_events")
local n = #data
local batches = math.ceil(n / batch)

local load_batch = lg.trend("load_batch")
local query_ms = {
  errors_by_service = lg.trend("query_errors_by_service"),
  latency_by_service = lg.trend("query_latency_by_service"),
  lookup = lg.trend("query_lookup"),
}
local rows_loaded = lg.counter("rows_loaded")
local load_rate = lg.gauge("load_rows_per_s")

options = {
  scenarios = {
    run = { executor = "per-vu-iterations", vus = 1, iterations = batches + queries, max_duration = "30m",
            tags = { store = store } },
  },
  thresholds = { checks = { "rate == 1" } },
}

local function num(v) return tonumber(v) end

-- The three stores behind one small interface: create, load(first, last), the three queries, count.
local impl = {}

if store == "elasticsearch" then
  local es = require("loadgen.elasticsearch")
  local c = es.client{ url = lg.env("ES", "http://127.0.0.1:9200"), timeout = "120s" }
  impl.create = function()
    c:delete_index(name)
    local r = c:create_index(name, {
      settings = { number_of_shards = 1, number_of_replicas = 0 },
      mappings = { properties = {
        ts = { type = "long" }, host = { type = "keyword" }, service = { type = "keyword" },
        level = { type = "keyword" }, status = { type = "integer" }, latency_ms = { type = "double" },
        bytes = { type = "long" }, trace_id = { type = "keyword" }, message = { type = "text" } } },
    })
    assert(not r.err, r.error)
  end
  impl.load = function(first, last)
    local docs = {}
    for i = first, last do
      local r = data[i]
      docs[#docs + 1] = { ts = num(r[1]), host = r[2], service = r[3], level = r[4], status = num(r[5]),
                          latency_ms = num(r[6]), bytes = num(r[7]), trace_id = r[8], message = r[9] }
    end
    return c:bulk(name, docs)
  end
  impl.finish_load = function() c:refresh(name) end
  impl.errors_by_service = function()
    return c:search(name, { size = 0, query = { term = { level = "ERROR" } },
                            aggs = { s = { terms = { field = "service", size = 20 } } } })
  end
  impl.latency_by_service = function()
    return c:search(name, { size = 0, aggs = { s = { terms = { field = "service", size = 20 },
      aggs = { avg = { avg = { field = "latency_ms" } }, max = { max = { field = "latency_ms" } } } } } })
  end
  impl.lookup = function(id) return c:search(name, { query = { term = { trace_id = id } } }) end
  impl.count = function() local r = c:count(name); return r.count end
elseif store == "hive" then
  local hive = require("loadgen.hive")
  local hdfs = require("loadgen.hdfs")
  local fs = hdfs.client{ url = lg.env("HDFS", "hdfs://127.0.0.1:8020"), timeout = "120s" }
  local h = hive.connect{ host = "127.0.0.1", port = tonumber(lg.env("HIVE_PORT", "10000")), timeout = "300s",
                          session_conf = { ["hive.fetch.task.conversion"] = "more" } }
  local dir = "/loadgen/" .. name
  impl.create = function()
    h:execute("DROP TABLE IF EXISTS " .. name)
    local r = h:execute("CREATE TABLE " .. name .. " (ts BIGINT, host STRING, service STRING, level STRING, " ..
      "status INT, latency_ms DOUBLE, bytes BIGINT, trace_id STRING, message STRING) " ..
      "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t'")
    assert(not r.err, r.error)
    fs:mkdirs(dir)
  end
  -- Hive loads files: the batch goes to HDFS as TSV, then LOAD DATA moves it into the table.
  impl.load = function(first, last)
    local lines = {}
    for i = first, last do lines[#lines + 1] = table.concat(data[i], "\t") end
    local path = string.format("%s/part-%06d.tsv", dir, first)
    local w = fs:write(path, table.concat(lines, "\n") .. "\n")
    if w.err then return w end
    return h:execute("LOAD DATA INPATH '" .. path .. "' INTO TABLE " .. name, { name = "load" })
  end
  impl.finish_load = function() end
  impl.errors_by_service = function()
    return h:query("SELECT service, count(*) FROM " .. name .. " WHERE level = 'ERROR' GROUP BY service")
  end
  impl.latency_by_service = function()
    return h:query("SELECT service, avg(latency_ms), max(latency_ms) FROM " .. name .. " GROUP BY service")
  end
  impl.lookup = function(id) return h:query("SELECT * FROM " .. name .. " WHERE trace_id = '" .. id .. "'") end
  impl.count = function() local r = h:query("SELECT count(*) FROM " .. name); return r.rows and r.rows[1][1] end
elseif store == "phoenix" then
  local phoenix = require("loadgen.phoenix")
  local c = phoenix.connect{ url = lg.env("PHOENIX", "http://127.0.0.1:8765"),
                             serialization = lg.env("SERIALIZATION", "json"), timeout = "120s" }
  local tbl = string.upper(name)
  local upsert = c:prepare("UPSERT INTO " .. tbl .. " (TRACE_ID, TS, HOST, SERVICE, LEVEL, STATUS, LATENCY_MS, " ..
    "BYTES, MESSAGE) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
  impl.create = function()
    c:execute("DROP TABLE IF EXISTS " .. tbl)
    local r = c:execute("CREATE TABLE " .. tbl .. " (TRACE_ID VARCHAR NOT NULL PRIMARY KEY, TS BIGINT, " ..
      "HOST VARCHAR, SERVICE VARCHAR, LEVEL VARCHAR, STATUS INTEGER, LATENCY_MS DOUBLE, BYTES BIGINT, MESSAGE VARCHAR)")
    assert(not r.err, r.error)
  end
  impl.load = function(first, last)
    local rows = {}
    for i = first, last do
      local r = data[i]
      rows[#rows + 1] = { r[8], num(r[1]), r[2], r[3], r[4], num(r[5]), num(r[6]), num(r[7]), r[9] }
    end
    local b = upsert:execute_batch(rows)
    if b.err then return b end
    return c:commit()
  end
  impl.finish_load = function() end
  impl.errors_by_service = function()
    return c:query("SELECT SERVICE, COUNT(*) FROM " .. tbl .. " WHERE LEVEL = 'ERROR' GROUP BY SERVICE")
  end
  impl.latency_by_service = function()
    return c:query("SELECT SERVICE, AVG(LATENCY_MS), MAX(LATENCY_MS) FROM " .. tbl .. " GROUP BY SERVICE")
  end
  impl.lookup = function(id) return c:query("SELECT * FROM " .. tbl .. " WHERE TRACE_ID = ?", { id }) end
  impl.count = function() local r = c:query("SELECT COUNT(*) FROM " .. tbl); return r.rows and r.rows[1][1] end
else
  error("STORE must be elasticsearch, hive or phoenix, not '" .. store .. "'")
end

local loading_ms = 0

function setup()
  impl.create()
end

local order = { "errors_by_service", "latency_by_service", "lookup" }

function default()
  local it = lg.iteration()
  if it <= batches then
    local first = (it - 1) * batch + 1
    local last = math.min(it * batch, n)
    local t0 = lg.now_us()
    local r = impl.load(first, last)
    local ms = (lg.now_us() - t0) / 1000
    if r.err then error("load batch " .. it .. ": " .. r.error) end
    load_batch:add(ms)
    rows_loaded:add(last - first + 1)
    loading_ms = loading_ms + ms
    if it == batches then
      impl.finish_load()
      load_rate:set(n / (loading_ms / 1000))
    end
    return
  end
  local q = order[(it - batches - 1) % #order + 1]
  local t0 = lg.now_us()
  local r = impl[q](data:random()[8])
  query_ms[q]:add((lg.now_us() - t0) / 1000)
  lg.check(r, { [q .. " answered"] = function(r) return r.err == nil end })
end

function teardown()
  local count = impl.count()
  lg.check(count, { ["every row loaded"] = function(c) return tonumber(c) == n end })
  print(string.format("%s: %s rows in %s", store, tostring(count), name))
end

-- The stores behind the ingest pipeline, as a freshness probe sees them (scripts/ingest/pipeline.lua, and
-- tests/flink.rs's probe of a record written straight to a store):
--   local fr = require("freshness")
--   local st = fr.store(STORE, NAME)   -- elasticsearch | phoenix | hive
--   st.create(span_s)  st.count()  st.markers(since_ms) -> { { trace_id, ts }, ... } or nil (the query failed)
--   local probe = fr.prober(st)        -- probe(since_ms, age): one look; returns the markers seen for the
--                                      -- first time, { { id, ms } }, their freshness recorded
-- Markers are event rows whose ts is their scheduled produce time (epoch ms) and whose trace_id starts
-- with "mk-"; the pipeline's other events have ts in January 2026, so ts >= the run's start finds the
-- markers only. Metrics: pipeline_freshness_ms (trend: the end of the probe that first saw a marker - its
-- ts), pipeline_markers_seen (counter), pipeline_markers_visible and pipeline_newest_visible_age_ms
-- (gauges: how many markers a query sees, and now - the newest one's ts).
local lg = require("loadgen")
-- The store evaluation's event definitions (scripts/suite/events.lua), beside this folder.
local here = (package.searchpath("freshness", package.path) or ""):match("^(.*[/\\])") or "./"
package.path = here .. "../suite/?.lua;" .. package.path
local events = require("events")

local M = {}

function M.store(store, name)
  local hdfs_url = lg.env("HDFS", "hdfs://127.0.0.1:8020")
  local dir = "/loadgen/pipeline/" .. name
  local st = { name = name }
  if store == "elasticsearch" then
    local es = require("loadgen.elasticsearch")
    local c = es.client{ url = lg.env("ES", "http://127.0.0.1:9200") }
    st.target = lg.env("ES", "http://127.0.0.1:9200")
    function st.create()
      c:delete_index(name)
      local r = c:create_index(name, {
        settings = { number_of_shards = 1, number_of_replicas = 0, refresh_interval = lg.env("REFRESH", "1s") },
        mappings = { properties = events.ES_PROPERTIES },
      })
      assert(not r.err, r.error)
    end
    function st.count() local r = c:count(name); return r.count end
    -- The search path (what a dashboard's query sees after a refresh), never a real-time GET.
    function st.markers(since)
      local r = c:search(name, { size = 10000, _source = { "trace_id", "ts" }, query = { range = { ts = { gte = since } } } })
      if r.err then return nil end
      local out = {}
      for _, h in ipairs(r.hits) do out[#out + 1] = { h.trace_id, h.ts } end
      return out
    end
  elseif store == "phoenix" then
    local phoenix = require("loadgen.phoenix")
    st.target = lg.env("PHOENIX", "http://127.0.0.1:8765")
    local c = phoenix.connect{ url = st.target, serialization = "protobuf" }
    name = string.upper(name)
    st.name = name
    function st.create()
      c:execute("DROP TABLE IF EXISTS " .. name)
      local r = c:execute("CREATE TABLE " .. name .. " (TS BIGINT NOT NULL, TRACE_ID VARCHAR NOT NULL, HOST VARCHAR, " ..
        "SERVICE VARCHAR, LEVEL VARCHAR, STATUS INTEGER, LATENCY_MS DOUBLE, BYTES BIGINT, MESSAGE VARCHAR " ..
        "CONSTRAINT PK PRIMARY KEY (TS, TRACE_ID)) SALT_BUCKETS = 4")
      assert(not r.err, r.error)
    end
    function st.count() local r = c:query("SELECT COUNT(*) FROM " .. name); return r.rows and r.rows[1][1] end
    function st.markers(since)
      local r = c:query("SELECT TRACE_ID, TS FROM " .. name .. " WHERE TS >= ?", { since })
      return r.rows
    end
  elseif store == "hive" then
    local hive = require("loadgen.hive")
    local hdfs = require("loadgen.hdfs")
    local fs = hdfs.client{ url = hdfs_url }
    -- Counts from the files themselves, never from the metastore's statistics.
    local h = hive.connect{ host = "127.0.0.1", port = tonumber(lg.env("HIVE_PORT", "10000")),
      session_conf = { ["hive.compute.query.using.stats"] = "false", ["hive.query.results.cache.enabled"] = "false" } }
    st.target = hdfs_url .. dir
    -- Hourly partitions by the time a row was written (UTC): the pipeline job's file sink writes
    -- <dir>/dt=yyyy-MM-dd/hr=HH (docker/flink/Pipeline.java).
    local function hour(ms) return os.date("!%Y-%m-%d", ms // 1000), os.date("!%H", ms // 1000) end
    function st.partition_dir(ms)
      local dt, hr = hour(ms)
      return dir .. "/dt=" .. dt .. "/hr=" .. hr
    end
    -- span_s: how long the run writes. The metastore learns of a partition only when told, so the run's
    -- hours (from the one before now to the one after the span) are added beforehand, as a production
    -- pipeline's partition commit or a scheduler would; a row in a later hour is not queryable.
    function st.create(span_s)
      h:execute("DROP TABLE IF EXISTS " .. name)
      fs:delete(dir, { recursive = true })
      assert(not fs:mkdirs(dir).err)
      local r = h:execute("CREATE EXTERNAL TABLE " .. name .. " (ts BIGINT, host STRING, service STRING, " ..
        "level STRING, status INT, latency_ms DOUBLE, bytes BIGINT, trace_id STRING, message STRING) " ..
        "PARTITIONED BY (dt STRING, hr STRING) " ..
        "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' STORED AS TEXTFILE LOCATION '" .. hdfs_url .. dir .. "'")
      assert(not r.err, r.error)
      local now, specs = lg.now(), {}
      for k = -1, math.ceil((span_s or 3600) / 3600) + 1 do
        local dt, hr = hour(now + k * 3600000)
        specs[#specs + 1] = string.format("PARTITION (dt='%s', hr='%s')", dt, hr)
      end
      r = h:execute("ALTER TABLE " .. name .. " ADD IF NOT EXISTS " .. table.concat(specs, " "))
      assert(not r.err, r.error)
    end
    function st.count() local r = h:query("SELECT count(*) FROM " .. name); return r.rows and tonumber(r.rows[1][1]) end
    -- The newest partition: this hour's, and the one before while a row written before the hour turned
    -- may still be on its way (two minutes); Hive prunes the scan to them.
    function st.markers(since)
      local now = lg.now()
      local dt, hr = hour(now)
      local where = string.format("(dt = '%s' AND hr = '%s')", dt, hr)
      local pdt, phr = hour(now - 120000)
      if pdt ~= dt or phr ~= hr then where = where .. string.format(" OR (dt = '%s' AND hr = '%s')", pdt, phr) end
      local r = h:query("SELECT trace_id, ts FROM " .. name .. " WHERE (" .. where .. ") AND ts >= " ..
        string.format("%d", since))
      return r.rows
    end
  else
    error("STORE must be elasticsearch, phoenix or hive, not '" .. store .. "'")
  end
  return st
end

function M.prober(st)
  local freshness = lg.trend("pipeline_freshness_ms")
  local markers_seen = lg.counter("pipeline_markers_seen")
  local markers_visible = lg.gauge("pipeline_markers_visible")
  local newest_age = lg.gauge("pipeline_newest_visible_age_ms")
  -- The markers this prober has seen (one VU runs every probe of a run).
  local seen = {}
  -- age: whether to record the newest marker's age (only while markers are still being produced; after
  -- the last one it only grows).
  return function(since, age)
    local rows = st.markers(since)
    if not rows then return nil end
    local t = lg.now_us() / 1000
    local n, newest, new = 0, nil, {}
    for _, row in ipairs(rows) do
      local id, ts = row[1], tonumber(row[2])
      if tostring(id):sub(1, 3) == "mk-" then
        n = n + 1
        if not newest or ts > newest then newest = ts end
        if not seen[id] then
          seen[id] = true
          markers_seen:add(1)
          freshness:add(t - ts)
          new[#new + 1] = { id = id, ms = t - ts }
        end
      end
    end
    markers_visible:add(n)
    if newest and age ~= false then newest_age:add(t - newest) end
    return new
  end
end

return M

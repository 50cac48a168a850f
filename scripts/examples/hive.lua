-- Hive: load monitoring events through HDFS (LOAD DATA), then query them while loading continues.
-- Needs: scripts/stack up hdfs hive. Hive runs each query in local mode: expect seconds per query.
local lg = require("loadgen")
local gen = require("loadgen.gen")
local hdfs = require("loadgen.hdfs")
local hive = require("loadgen.hive")

local t = lg.env("TABLE", "events")
local dir = "/loadgen/" .. t
local fs = hdfs.client{ url = lg.env("HDFS", "hdfs://127.0.0.1:8020") }
-- One session per VU (init code runs in every VU); opened on the first statement.
local h = hive.connect{ host = "127.0.0.1", port = tonumber(lg.env("HIVE_PORT", "10000")),
                        database = "default", timeout = "120s", fetch_size = 10000,
                        session_conf = { ["hive.fetch.task.conversion"] = "more" } }

options = {
  scenarios = {
    load  = { executor = "per-vu-iterations", vus = 2, iterations = 5, exec = "load" },
    query = { executor = "constant-vus", vus = 2, duration = "30s", start_time = "5s", exec = "query" },
  },
  thresholds = {
    ["hive.query{name:load}"] = { "error_rate == 0" },
    ["hive.query{name:by_level}"] = { "p(95) < 30s" },
  },
}

function setup()
  h:execute("DROP TABLE IF EXISTS " .. t, { name = "ddl" })
  local r = h:execute("CREATE TABLE " .. t .. " (ts BIGINT, host STRING, service STRING, level STRING, " ..
    "status INT, latency_ms DOUBLE, bytes BIGINT, trace_id STRING, message STRING) " ..
    "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t'", { name = "ddl" })
  if r.err then error(r.error) end
end

-- 2,000 events per file, written to HDFS and moved into the table.
function load()
  local lines = {}
  for i = 1, 2000 do
    local e = gen.event()
    lines[i] = table.concat({ e.ts, e.host, e.service, e.level, e.status, e.latency_ms, e.bytes,
                              e.trace_id, e.message }, "\t")
  end
  local path = string.format("%s/part-%d-%d.tsv", dir, lg.vu(), lg.iteration())
  fs:write(path, table.concat(lines, "\n") .. "\n")
  local r = h:execute("LOAD DATA INPATH '" .. path .. "' INTO TABLE " .. t, { name = "load" })
  lg.check(r, { ["loaded"] = function(r) return r.ok end })
end

function query()
  local r = h:query("SELECT level, count(*), avg(latency_ms) FROM " .. t .. " GROUP BY level", { name = "by_level" })
  lg.check(r, { ["levels"] = function(r) return r.err == nil and r.row_count > 0 end })
  local top = h:query("SELECT host, bytes FROM " .. t .. " ORDER BY bytes DESC LIMIT 10", { name = "top" })
  lg.check(top, { ["top 10"] = function(r) return r.err == nil and r.row_count <= 10 end })
end

function teardown()
  local c = h:query("SELECT count(*) FROM " .. t, { name = "count" })
  if c.rows then print("rows in " .. t .. ": " .. c.rows[1][1]) end
  h:close()
end

-- The three stores of the evaluation behind one interface, each with the physical design its own
-- experts would choose for this workload (docs/evaluation.md has them side by side):
--   s.create()              drop and create the table / index (and the staging area)
--   s.load(rows, first)     one batch of rows (lists of the TSV's text fields) -> the operation's reply
--   s.finish()              make every loaded row queryable (refresh / nothing / INSERT into ORC)
--   s.append(rows, first)   one batch of new rows made queryable at once (the real-time path of the
--                           mixed load: bulk + refresh / UPSERT + commit / file + INSERT INTO)
--   s.count()               rows queryable now
--   s.disk_bytes()          bytes the store keeps on disk for the table
--   s.run(name, params)     one query of events.lua -> reply, answer (key -> values) or nil on error
--   s.drop()                remove the table
-- Session settings that would hide work are off: Elasticsearch's shard request cache (index setting),
-- Hive's query results cache (session). Phoenix/HBase has no result cache; its block cache stays on.
local lg = require("loadgen")
local events = require("events")

local M = {}

local function num(v) return tonumber(v) end
local function q(s) return "'" .. s:gsub("'", "''") .. "'" end

-- Shell out for what no binding does (du of a local folder); the command's first number.
local function shell_number(cmd)
  local p = io.popen(cmd)
  if not p then return nil end
  local out = p:read("*a") or ""
  p:close()
  return tonumber(out:match("%d+"))
end

-- A SQL reply's answer: f(answer, row) for every row (or the failed reply alone).
local function rows_to(r, f)
  if r.err then return r end
  local a = {}
  for _, row in ipairs(r.rows) do f(a, row) end
  return r, a
end

-- range_scan's answer from the fetched rows (or hits): their count, the sum of their bytes and a
-- checksum of their trace ids.
local function scan_answer(r, list, id, bytes)
  if r.err then return r end
  local ids, sum = {}, 0
  for i, row in ipairs(list) do ids[i] = row[id]; sum = sum + row[bytes] end
  return r, { all = { #ids, sum, events.id_checksum(ids) } }
end

-- A count's answer: the first column of the first row.
local function count_answer(r)
  if r.err then return r end
  return r, { all = { r.rows[1][1] } }
end

function M.open(store, name)
  if store == "elasticsearch" then return M.elasticsearch(name) end
  if store == "hive" then return M.hive(name) end
  if store == "phoenix" then return M.phoenix(name) end
  error("STORE must be elasticsearch, hive or phoenix, not '" .. tostring(store) .. "'")
end

-- Elasticsearch ----------------------------------------------------------------------------------
function M.elasticsearch(name)
  local es = require("loadgen.elasticsearch")
  local http = require("loadgen.http")
  local url = lg.env("ES", "http://127.0.0.1:9200")
  local c = es.client{ url = url, timeout = "300s" }
  local s = { batch = 5000, design = {
    "index with 1 shard, 0 replicas (one node)",
    "ts as date (epoch_millis); host, service, level, trace_id as keyword; status integer; latency_ms double; bytes long; message text (standard analyzer)",
    "refresh_interval -1 while loading, one refresh at the end (inside the load clock)",
    "translog durability async, fsync every 5 s (HBase's WAL and HDFS do not fsync either)",
    "shard request cache off (index.requests.cache.enable = false)",
  } }
  function s.create()
    c:delete_index(name)
    local r = c:create_index(name, {
      settings = { number_of_shards = 1, number_of_replicas = 0, refresh_interval = "-1",
                   ["index.requests.cache.enable"] = false,
                   ["index.translog.durability"] = "async", ["index.translog.sync_interval"] = "5s" },
      mappings = { properties = events.ES_PROPERTIES },
    })
    assert(not r.err, r.error)
  end
  function s.load(rows)
    local docs = {}
    for i, r in ipairs(rows) do
      docs[i] = { ts = num(r[1]), host = r[2], service = r[3], level = r[4], status = num(r[5]),
                  latency_ms = num(r[6]), bytes = num(r[7]), trace_id = r[8], message = r[9] }
    end
    return c:bulk(name, docs)
  end
  function s.finish() return c:refresh(name) end
  function s.append(rows)
    local r = s.load(rows)
    if r.err or r.errors then return r end
    return c:refresh(name)
  end
  function s.count() return c:count(name).count end
  function s.disk_bytes()
    c:refresh(name)
    return c:stats(name).store_bytes
  end
  function s.drop() c:delete_index(name) end
  -- Drops what the node caches for the index (query, fielddata, request caches).
  function s.clear_caches() return http.post(url .. "/" .. name .. "/_cache/clear", "", { name = "cache_clear" }) end

  local function range(p) return { range = { ts = { gte = p.from, lt = p.to } } } end
  local function buckets(r, agg)
    return r.aggregations and r.aggregations[agg] and r.aggregations[agg].buckets or {}
  end
  local run = {}
  function run.count_by_status(p)
    local r = c:search(name, { size = 0, query = range(p), aggs = { s = { terms = { field = "status", size = 100 } } } })
    if r.err then return r end
    local a = {}
    for _, b in ipairs(buckets(r, "s")) do a[tostring(b.key)] = { b.doc_count } end
    return r, a
  end
  function run.errors_per_service()
    local r = c:search(name, { size = 0, query = { term = { level = "ERROR" } },
                               aggs = { s = { terms = { field = "service", size = 100 } } } })
    if r.err then return r end
    local a = {}
    for _, b in ipairs(buckets(r, "s")) do a[b.key] = { b.doc_count } end
    return r, a
  end
  function run.latency_by_service(p)
    local r = c:search(name, { size = 0, query = range(p), aggs = { s = { terms = { field = "service", size = 100 },
      aggs = { avg = { avg = { field = "latency_ms" } },
               pct = { percentiles = { field = "latency_ms", percents = { 50, 95, 99 } } } } } } })
    if r.err then return r end
    local a = {}
    for _, b in ipairs(buckets(r, "s")) do
      local v = b.pct.values
      a[b.key] = { b.doc_count, b.avg.value, v["50.0"], v["95.0"], v["99.0"] }
    end
    return r, a
  end
  function run.top_slowest(p)
    local r = c:search(name, { size = 10, query = range(p), sort = { { latency_ms = "desc" } },
                               _source = { "trace_id", "latency_ms" } })
    if r.err then return r end
    local a = {}
    for i, h in ipairs(r.hits) do a[string.format("%02d", i)] = { h.latency_ms } end
    return r, a
  end
  function run.trace_lookup(p)
    local r = c:search(name, { size = 100, query = { term = { trace_id = p.trace } } })
    if r.err then return r end
    local a = {}
    for _, h in ipairs(r.hits) do
      a[tostring(h.ts)] = { h.ts, h.host, h.service, h.level, h.status, h.latency_ms, h.bytes, h.message }
    end
    return r, a
  end
  function run.range_scan(p)
    local r = c:search(name, { size = 10000, _source = { "trace_id", "bytes" }, query = { bool = { filter = {
      range(p), { term = { service = p.service } }, { range = { status = { gte = 500 } } } } } } })
    return scan_answer(r, r.hits or {}, "trace_id", "bytes")
  end
  function run.fulltext(p)
    local r = c:search(name, { size = 0, track_total_hits = true,
                               query = { match = { message = { query = p.a .. " " .. p.b, operator = "and" } } } })
    if r.err then return r end
    return r, { all = { r.total } }
  end
  function run.histogram(p)
    local r = c:search(name, { size = 0, query = range(p),
      aggs = { h = { date_histogram = { field = "ts", fixed_interval = "5m", min_doc_count = 1 } } } })
    if r.err then return r end
    local a = {}
    for _, b in ipairs(buckets(r, "h")) do a[tostring(math.tointeger(b.key) or b.key)] = { b.doc_count } end
    return r, a
  end
  function s.run(qname, p) return run[qname](p) end
  return s
end

-- Hive ---------------------------------------------------------------------------------------------
-- Loading: every batch goes to HDFS as a TSV file under an external staging table's folder (visible
-- at once, no LOAD needed); finish() runs one INSERT OVERWRITE ... SELECT into the ORC table,
-- partitioned by hour (dynamic partitions), which also gathers table and column statistics
-- (hive.stats.autogather, hive.stats.column.autogather). The HDFS writes are timed on their own
-- (hdfs.write) because the HDFS client's close waits are not Hive's cost (docs/evaluation.md).
function M.hive(name)
  local hive = require("loadgen.hive")
  local hdfs = require("loadgen.hdfs")
  local fs = hdfs.client{ url = lg.env("HDFS", "hdfs://127.0.0.1:8020"), timeout = "300s" }
  local h = hive.connect{ host = "127.0.0.1", port = tonumber(lg.env("HIVE_PORT", "10000")), timeout = "1800s",
    session_conf = {
      ["hive.query.results.cache.enabled"] = "false",
      ["hive.fetch.task.conversion"] = "more",
      ["hive.exec.dynamic.partition.mode"] = "nonstrict",
      ["hive.stats.autogather"] = "true",
      ["hive.stats.column.autogather"] = "true",
    } }
  local dir = "/loadgen/" .. name
  local staging = name .. "_staging"
  local s = { batch = 50000, design = {
    "ORC (ZLIB), partitioned by hour (epoch hours, 24 partitions), a bloom filter on trace_id",
    "loaded as TSV files into an external staging table on HDFS, then one INSERT OVERWRITE ... SELECT (dynamic partitions, rows sorted by ts within each) into the ORC table",
    "table and column statistics gathered by that INSERT (hive.stats.autogather, hive.stats.column.autogather)",
    "queries carry the partition predicate next to the ts range (partition pruning)",
    "query results cache off (hive.query.results.cache.enabled = false); Tez in local mode inside HiveServer2",
    "durability: HDFS, replication 1, no fsync on close (dfs.datanode.synconclose = false)",
  } }
  local function ok(r) assert(not r.err, r.error); return r end
  function s.create()
    h:execute("DROP TABLE IF EXISTS " .. name)
    h:execute("DROP TABLE IF EXISTS " .. staging)
    fs:delete(dir, { recursive = true })
    fs:mkdirs(dir .. "/staging")
    ok(h:execute("CREATE EXTERNAL TABLE " .. staging .. " (ts BIGINT, host STRING, service STRING, level STRING, " ..
      "status INT, latency_ms DOUBLE, bytes BIGINT, trace_id STRING, message STRING) " ..
      "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' STORED AS TEXTFILE LOCATION '" .. dir .. "/staging'"))
    ok(h:execute("CREATE EXTERNAL TABLE " .. name .. " (ts BIGINT, host STRING, service STRING, level STRING, " ..
      "status INT, latency_ms DOUBLE, bytes BIGINT, trace_id STRING, message STRING) PARTITIONED BY (hr BIGINT) " ..
      "STORED AS ORC LOCATION '" .. dir .. "/events' TBLPROPERTIES ('orc.compress' = 'ZLIB', " ..
      "'orc.bloom.filter.columns' = 'trace_id', 'external.table.purge' = 'true')"))
  end
  function s.load(rows, first)
    local lines = {}
    for i, r in ipairs(rows) do lines[i] = table.concat(r, "\t") end
    return fs:write(string.format("%s/staging/part-%09d.tsv", dir, first), table.concat(lines, "\n") .. "\n")
  end
  function s.finish()
    local r = h:execute("INSERT OVERWRITE TABLE " .. name .. " PARTITION (hr) SELECT ts, host, service, level, " ..
      "status, latency_ms, bytes, trace_id, message, ts DIV 3600000 AS hr FROM " .. staging ..
      " DISTRIBUTE BY hr SORT BY ts", { name = "insert_orc" })
    if r.err then return r end
    h:execute("DROP TABLE IF EXISTS " .. staging)
    fs:delete(dir .. "/staging", { recursive = true })
    return r
  end
  -- The real-time path: the batch as one file under a staging table of its own, one INSERT INTO
  -- (new ORC files in the batch's partitions), then the file removed.
  local appending
  function s.append(rows, first)
    local live = name .. "_append" .. lg.vu()
    if not appending then
      fs:mkdirs(dir .. "/append")
      local r = h:execute("CREATE EXTERNAL TABLE IF NOT EXISTS " .. live .. " (ts BIGINT, host STRING, " ..
        "service STRING, level STRING, status INT, latency_ms DOUBLE, bytes BIGINT, trace_id STRING, " ..
        "message STRING) ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' STORED AS TEXTFILE LOCATION '" ..
        dir .. "/append/" .. lg.vu() .. "'")
      if r.err then return r end
      appending = live
    end
    local lines = {}
    for i, r in ipairs(rows) do lines[i] = table.concat(r, "\t") end
    local file = string.format("%s/append/%d/part-%09d.tsv", dir, lg.vu(), first)
    local w = fs:write(file, table.concat(lines, "\n") .. "\n")
    if w.err then return w end
    local r = h:execute("INSERT INTO TABLE " .. name .. " PARTITION (hr) SELECT ts, host, service, level, " ..
      "status, latency_ms, bytes, trace_id, message, ts DIV 3600000 AS hr FROM " .. live, { name = "insert_append" })
    fs:delete(file)
    return r
  end
  function s.count() local r = h:query("SELECT count(*) FROM " .. name); return r.rows and r.rows[1][1] end
  function s.disk_bytes() return fs:du(dir .. "/events").bytes end
  function s.drop()
    h:execute("DROP TABLE IF EXISTS " .. name)
    for vu = 1, 16 do h:execute("DROP TABLE IF EXISTS " .. name .. "_append" .. vu) end
    fs:delete(dir, { recursive = true })
  end
  function s.clear_caches() return nil end

  local function window(p)
    return string.format("hr >= %d AND hr <= %d AND ts >= %d AND ts < %d",
      events.hour_of(p.from), events.hour_of(p.to - 1), p.from, p.to)
  end
  local run = {}
  function run.count_by_status(p)
    return rows_to(h:query("SELECT status, count(*) FROM " .. name .. " WHERE " .. window(p) .. " GROUP BY status",
      { name = "count_by_status" }), function(a, row) a[tostring(row[1])] = { row[2] } end)
  end
  function run.errors_per_service()
    return rows_to(h:query("SELECT service, count(*) FROM " .. name .. " WHERE level = 'ERROR' GROUP BY service",
      { name = "errors_per_service" }), function(a, row) a[row[1]] = { row[2] } end)
  end
  function run.latency_by_service(p)
    return rows_to(h:query("SELECT service, count(*), avg(latency_ms), percentile_approx(latency_ms, " ..
      "array(0.5, 0.95, 0.99), 100000) FROM " .. name .. " WHERE " .. window(p) .. " GROUP BY service",
      { name = "latency_by_service" }), function(a, row)
        local pct = lg.json_decode(row[4])
        a[row[1]] = { row[2], row[3], pct[1], pct[2], pct[3] }
      end)
  end
  function run.top_slowest(p)
    local r = h:query("SELECT trace_id, latency_ms FROM " .. name .. " WHERE " .. window(p) ..
      " ORDER BY latency_ms DESC LIMIT 10", { name = "top_slowest" })
    if r.err then return r end
    local a = {}
    for i, row in ipairs(r.rows) do a[string.format("%02d", i)] = { row[2] } end
    return r, a
  end
  function run.trace_lookup(p)
    return rows_to(h:query("SELECT ts, host, service, level, status, latency_ms, bytes, message FROM " .. name ..
      " WHERE trace_id = " .. q(p.trace), { name = "trace_lookup" }),
      function(a, row) a[tostring(row[1])] = { table.unpack(row, 1, 8) } end)
  end
  function run.range_scan(p)
    local r = h:query("SELECT trace_id, bytes FROM " .. name .. " WHERE " .. window(p) .. " AND service = " ..
      q(p.service) .. " AND status >= 500", { name = "range_scan" })
    return scan_answer(r, r.rows or {}, 1, 2)
  end
  function run.fulltext(p)
    local r = h:query("SELECT count(*) FROM " .. name .. " WHERE concat(' ', message, ' ') LIKE " ..
      q("% " .. p.a .. " %") .. " AND concat(' ', message, ' ') LIKE " .. q("% " .. p.b .. " %"), { name = "fulltext" })
    return count_answer(r)
  end
  function run.histogram(p)
    return rows_to(h:query("SELECT ts DIV " .. events.BUCKET .. " * " .. events.BUCKET .. ", count(*) FROM " .. name ..
      " WHERE " .. window(p) .. " GROUP BY ts DIV " .. events.BUCKET, { name = "histogram" }),
      function(a, row) a[tostring(row[1])] = { row[2] } end)
  end
  function s.run(qname, p) return run[qname](p) end
  return s
end

-- HBase through Phoenix ---------------------------------------------------------------------------------
-- Row key (TS, TRACE_ID), salted into 4 buckets so that time-ordered writes spread over regions, and a
-- global secondary index on TRACE_ID for the lookup. Every batch is committed (visible) before the next.
function M.phoenix(name)
  local phoenix = require("loadgen.phoenix")
  -- Protobuf, the released Query Server's serialization, on its port (SERIALIZATION=json: the stack's
  -- JSON listener on 8766).
  local ser = lg.env("SERIALIZATION", "protobuf")
  local c = phoenix.connect{ url = lg.env("PHOENIX", ser == "json" and "http://127.0.0.1:8766" or "http://127.0.0.1:8765"),
                             serialization = ser, timeout = "600s" }
  -- Phoenix 5.2.1's uncovered-index scanner shares a thread pool between the region scanners of one query
  -- and shuts it down when the last one lets go; a scanner that takes it at that moment fails with
  -- "rejected from ...ShutdownOnUnusedThreadPoolExecutor[Terminated...]" (fixed upstream by PHOENIX-7670,
  -- a pool per region, in no release the registry serves). Seen once in CI (trace_lookup, 1 of 24 hot
  -- queries). Such a query is sent again, once; the time recorded includes both attempts, and every retry
  -- is counted in store_retries{store=phoenix,reason=...} and printed, so the race stays visible.
  local retries = lg.counter("store_retries")
  local raw = c
  c = setmetatable({}, { __index = function(_, k)
    local f = raw[k]
    if type(f) ~= "function" then return f end
    if k ~= "query" then return function(_, ...) return f(raw, ...) end end
    return function(_, ...)
      local r = f(raw, ...)
      if r.err and tostring(r.error):find("ShutdownOnUnusedThreadPoolExecutor", 1, true) then
        retries:add(1, { store = "phoenix", reason = "PHOENIX-7670 pool race" })
        print("phoenix: query sent again after Phoenix's uncovered-index pool race (PHOENIX-7670)")
        r = f(raw, ...)
      end
      return r
    end
  end })
  local tbl = string.upper(name)
  local idx = tbl .. "_TRACE"
  local s = { batch = 5000, design = {
    "row key (TS, TRACE_ID), SALT_BUCKETS = 4 (time-ordered writes spread over 4 regions; time ranges are skip scans)",
    "a global index on TRACE_ID (uncovered; the lookup names it in a hint)",
    "each batch of 5,000 UPSERTs committed before the next (visible at commit)",
    "HBase on the local file system: the WAL is written (hflush) but not fsynced",
    "no result cache exists; HBase's block cache stays on for hot queries and is emptied of the table's and index's blocks before each cold one (Admin.clearBlockCache)",
  } }
  local upsert
  local function ok(r) assert(not r.err, r.error); return r end
  function s.create()
    c:execute("DROP TABLE IF EXISTS " .. tbl)
    ok(c:execute("CREATE TABLE " .. tbl .. " (TS BIGINT NOT NULL, TRACE_ID VARCHAR NOT NULL, HOST VARCHAR, " ..
      "SERVICE VARCHAR, LEVEL VARCHAR, STATUS INTEGER, LATENCY_MS DOUBLE, BYTES BIGINT, MESSAGE VARCHAR " ..
      "CONSTRAINT PK PRIMARY KEY (TS, TRACE_ID)) SALT_BUCKETS = 4"))
    ok(c:execute("CREATE INDEX " .. idx .. " ON " .. tbl .. " (TRACE_ID)"))
  end
  function s.load(rows)
    upsert = upsert or c:prepare("UPSERT INTO " .. tbl .. " (TS, TRACE_ID, HOST, SERVICE, LEVEL, STATUS, " ..
      "LATENCY_MS, BYTES, MESSAGE) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
    local batch = {}
    for i, r in ipairs(rows) do
      batch[i] = { num(r[1]), r[8], r[2], r[3], r[4], num(r[5]), num(r[6]), num(r[7]), r[9] }
    end
    local b = upsert:execute_batch(batch)
    if b.err then return b end
    return c:commit()
  end
  function s.finish() return {} end
  function s.append(rows) return s.load(rows) end
  function s.count() local r = c:query("SELECT COUNT(*) FROM " .. tbl); return r.rows and r.rows[1][1] end
  -- HBase keeps the table under its root dir on the local file system. The memstores are flushed first
  -- (HBase's own client, through scripts/stack hbase-flush), so the HFiles of the table and of its
  -- index hold every row; the WAL is not counted.
  function s.disk_bytes()
    local root = lg.env("HBASE_DATA", os.getenv("HOME") .. "/.local/state/loadgen/stack/data/hbase") .. "/hbase"
    local repo = lg.env("REPO", ".")
    local flushed = shell_number(repo .. "/scripts/stack hbase-flush " .. tbl .. " " .. idx .. " 2>&1 | grep -c '^OK flushed'")
    if flushed ~= 2 then return nil end
    -- awk prints a sum over 2^31 as 2.58262e+09 with `print`; printf "%.0f" keeps every digit.
    return shell_number(string.format("du -sb %s/data/default/%s %s/data/default/%s 2>/dev/null | " ..
      "awk '{s += $1} END {printf \"%%.0f\\n\", s}'", root, tbl, root, idx))
  end
  function s.drop() c:execute("DROP TABLE IF EXISTS " .. tbl) end
  -- HBase's block cache, through HBase's own client (scripts/stack hbase-clear-cache): the blocks of the
  -- table and of its index leave the RegionServer's cache. A reply like the others: err when it failed.
  function s.clear_caches()
    local repo = lg.env("REPO", ".")
    local p = io.popen(repo .. "/scripts/stack hbase-clear-cache " .. tbl .. " " .. idx .. " 2>&1")
    local out = p and p:read("*a") or ""
    if p then p:close() end
    local n = select(2, out:gsub("OK cleared", ""))
    if n ~= 2 then return { err = "client", error = "hbase-clear-cache: " .. out:sub(1, 300) } end
    return { evicted = out:match("OK cleared %S+ (%d+)") }
  end

  local run = {}
  local W = " WHERE TS >= ? AND TS < ?"
  function run.count_by_status(p)
    return rows_to(c:query("SELECT STATUS, COUNT(*) FROM " .. tbl .. W .. " GROUP BY STATUS", { p.from, p.to }),
      function(a, row) a[tostring(row[1])] = { row[2] } end)
  end
  function run.errors_per_service()
    return rows_to(c:query("SELECT SERVICE, COUNT(*) FROM " .. tbl .. " WHERE LEVEL = 'ERROR' GROUP BY SERVICE"),
      function(a, row) a[row[1]] = { row[2] } end)
  end
  function run.latency_by_service(p)
    return rows_to(c:query("SELECT SERVICE, COUNT(*), AVG(LATENCY_MS), " ..
      "PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY LATENCY_MS ASC), " ..
      "PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY LATENCY_MS ASC), " ..
      "PERCENTILE_CONT(0.99) WITHIN GROUP (ORDER BY LATENCY_MS ASC) FROM " .. tbl .. W .. " GROUP BY SERVICE",
      { p.from, p.to }), function(a, row) a[row[1]] = { row[2], num(row[3]), num(row[4]), num(row[5]), num(row[6]) } end)
  end
  function run.top_slowest(p)
    local r = c:query("SELECT TRACE_ID, LATENCY_MS FROM " .. tbl .. W .. " ORDER BY LATENCY_MS DESC LIMIT 10",
      { p.from, p.to })
    if r.err then return r end
    local a = {}
    for i, row in ipairs(r.rows) do a[string.format("%02d", i)] = { row[2] } end
    return r, a
  end
  function run.trace_lookup(p)
    return rows_to(c:query("SELECT /*+ INDEX(" .. tbl .. " " .. idx .. ") */ TS, HOST, SERVICE, LEVEL, STATUS, " ..
      "LATENCY_MS, BYTES, MESSAGE FROM " .. tbl .. " WHERE TRACE_ID = ?", { p.trace }),
      function(a, row) a[tostring(row[1])] = { table.unpack(row, 1, 8) } end)
  end
  function run.range_scan(p)
    local r = c:query("SELECT TRACE_ID, BYTES FROM " .. tbl .. W .. " AND SERVICE = ? AND STATUS >= 500",
      { p.from, p.to, p.service })
    return scan_answer(r, r.rows or {}, 1, 2)
  end
  function run.fulltext(p)
    local r = c:query("SELECT COUNT(*) FROM " .. tbl .. " WHERE ' ' || MESSAGE || ' ' LIKE ? AND " ..
      "' ' || MESSAGE || ' ' LIKE ?", { "% " .. p.a .. " %", "% " .. p.b .. " %" })
    return count_answer(r)
  end
  function run.histogram(p)
    return rows_to(c:query("SELECT TS / " .. events.BUCKET .. " * " .. events.BUCKET .. " AS B, COUNT(*) FROM " ..
      tbl .. W .. " GROUP BY B", { p.from, p.to }),
      function(a, row) a[tostring(row[1])] = { row[2] } end)
  end
  function s.run(qname, p) return run[qname](p) end
  return s
end

return M

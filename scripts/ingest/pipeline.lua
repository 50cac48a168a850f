-- Kafka -> Flink -> one store, deployed and measured from a script:
--   setup()    creates the topic and the store's table (Elasticsearch index, Phoenix table, or a Hive
--              external table over the HDFS folder the job writes), builds nothing, and submits the
--              pipeline job (docker/flink/Pipeline.java; `scripts/stack flink-jar Pipeline` prints its jar)
--              to the stack's Flink over REST; a failed submission stops the run with exit 4.
--   produce    event lines (the store evaluation's TSV) at RATE/s for DURATION.
--   watch      once a second: the job's metrics (flink.* gauges: records in/out and per second per
--              operator, back-pressure, checkpoints) and the rows a query sees (pipeline_rows_visible).
--   teardown() waits until every produced row is visible (or DRAIN_S passed), checks it, cancels the job
--              and checks that nothing of it is left running.
--   loadgen run scripts/ingest/pipeline.lua -e STORE=elasticsearch|phoenix|hive -e JAR=<jar> [-e RATE=500]
--     [-e DURATION=20s] [-e NAME=lg_pipe] [-e CHECKPOINT_MS=1000] [-e BATCH=1000] [-e FLUSH_MS=200]
local lg = require("loadgen")
local kafka = require("loadgen.kafka")
local flink = require("loadgen.flink")

local store = lg.env("STORE", "elasticsearch")
local name = lg.env("NAME", "lg_pipe_" .. store)
local topic = lg.env("TOPIC", name)
local rate = tonumber(lg.env("RATE", "500"))
local duration = lg.env("DURATION", "20s")
local drain_s = tonumber(lg.env("DRAIN_S", "60"))
local brokers = lg.env("BROKERS", "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096")
local hdfs_url = lg.env("HDFS", "hdfs://127.0.0.1:8020")
local dir = "/loadgen/pipeline/" .. name
local base = 1767225600000

local cluster = flink.cluster{ url = lg.env("FLINK", "http://127.0.0.1:8081") }
local producer = kafka.producer{ brokers = brokers, acks = "all", linger_ms = 5 }
local admin = kafka.admin{ brokers = brokers }
local produced = lg.counter("pipeline_rows_produced")
local visible = lg.gauge("pipeline_rows_visible")
local all_visible = lg.rate("pipeline_all_rows_visible")

-- The store: create its table, count what a query sees.
local st = {}
if store == "elasticsearch" then
  local es = require("loadgen.elasticsearch")
  local c = es.client{ url = lg.env("ES", "http://127.0.0.1:9200") }
  st.target = lg.env("ES", "http://127.0.0.1:9200")
  function st.create()
    c:delete_index(name)
    local r = c:create_index(name, {
      settings = { number_of_shards = 1, number_of_replicas = 0, refresh_interval = lg.env("REFRESH", "1s") },
      mappings = { properties = {
        ts = { type = "date", format = "epoch_millis" }, host = { type = "keyword" },
        service = { type = "keyword" }, level = { type = "keyword" }, status = { type = "integer" },
        latency_ms = { type = "double" }, bytes = { type = "long" }, trace_id = { type = "keyword" },
        message = { type = "text" } } },
    })
    assert(not r.err, r.error)
  end
  function st.count() local r = c:count(name); return r.count end
elseif store == "phoenix" then
  local phoenix = require("loadgen.phoenix")
  st.target = lg.env("PHOENIX", "http://127.0.0.1:8765")
  local c = phoenix.connect{ url = st.target, serialization = "protobuf" }
  name = string.upper(name)
  function st.create()
    c:execute("DROP TABLE IF EXISTS " .. name)
    local r = c:execute("CREATE TABLE " .. name .. " (TS BIGINT NOT NULL, TRACE_ID VARCHAR NOT NULL, HOST VARCHAR, " ..
      "SERVICE VARCHAR, LEVEL VARCHAR, STATUS INTEGER, LATENCY_MS DOUBLE, BYTES BIGINT, MESSAGE VARCHAR " ..
      "CONSTRAINT PK PRIMARY KEY (TS, TRACE_ID)) SALT_BUCKETS = 4")
    assert(not r.err, r.error)
  end
  function st.count() local r = c:query("SELECT COUNT(*) FROM " .. name); return r.rows and r.rows[1][1] end
elseif store == "hive" then
  local hive = require("loadgen.hive")
  local hdfs = require("loadgen.hdfs")
  local fs = hdfs.client{ url = hdfs_url }
  -- Counts from the files themselves, never from the metastore's statistics.
  local h = hive.connect{ host = "127.0.0.1", port = tonumber(lg.env("HIVE_PORT", "10000")),
    session_conf = { ["hive.compute.query.using.stats"] = "false", ["hive.query.results.cache.enabled"] = "false" } }
  st.target = hdfs_url .. dir
  function st.create()
    h:execute("DROP TABLE IF EXISTS " .. name)
    fs:delete(dir, { recursive = true })
    assert(not fs:mkdirs(dir).err)
    local r = h:execute("CREATE EXTERNAL TABLE " .. name .. " (ts BIGINT, host STRING, service STRING, " ..
      "level STRING, status INT, latency_ms DOUBLE, bytes BIGINT, trace_id STRING, message STRING) " ..
      "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' STORED AS TEXTFILE LOCATION '" .. hdfs_url .. dir .. "'")
    assert(not r.err, r.error)
  end
  function st.count() local r = h:query("SELECT count(*) FROM " .. name); return r.rows and tonumber(r.rows[1][1]) end
else
  error("STORE must be elasticsearch, phoenix or hive, not '" .. store .. "'")
end

options = {
  scenarios = {
    produce = { executor = "constant-arrival-rate", rate = rate, duration = duration, pre_allocated_vus = 8,
                max_vus = 64, exec = "produce" },
    watch = { executor = "constant-arrival-rate", rate = 1, duration = duration, pre_allocated_vus = 1,
              max_vus = 1, exec = "watch" },
  },
  setup_timeout = "180s",
  teardown_timeout = tostring(drain_s + 120) .. "s",
  thresholds = { pipeline_all_rows_visible = { "rate == 1" } },
}

function setup()
  admin:delete_topic(topic)
  local r = admin:create_topic{ name = topic, partitions = 3, replication = 3 }
  assert(not r.err, r.error)
  st.create()
  local jar = lg.env("JAR", "")
  if jar == "" then error("JAR is required: -e JAR=$(scripts/stack flink-jar Pipeline)") end
  local sub = cluster:submit{ jar = jar, args = {
    "sink=" .. (store == "hive" and "hdfs" or store), "topic=" .. topic, "bootstrap=" .. brokers,
    "target=" .. st.target, "name=" .. name, "start=earliest", "group=lg-pipeline-" .. name,
    "checkpoint-ms=" .. lg.env("CHECKPOINT_MS", "1000"), "batch=" .. lg.env("BATCH", "1000"),
    "flush-ms=" .. lg.env("FLUSH_MS", "200") } }
  print(string.format("pipeline: job %s deployed (%s -> %s %s)", sub.job, topic, store, name))
  return { job = sub.job }
end

function produce()
  local i = lg.iteration()
  local line = table.concat({ tostring(base + i), "host-" .. (i % 50), "svc-" .. (i % 12), "INFO", "200",
    "12.5", "512", string.format("tr-%d-%d", lg.vu(), i), "pipeline event " .. i }, "\t")
  local r = producer:send{ topic = topic, value = line }
  if not r.err then produced:add(1) end
end

function watch(data)
  cluster:sample(data.job)
  local n = st.count()
  if n then visible:add(n) end
end

function teardown(data)
  if not data or not data.job then return end
  -- What was produced, by the brokers' count: the sum of the topic's high watermarks.
  local d = admin:describe(topic)
  assert(not d.err, d.error)
  local want = 0
  for _, p in ipairs(d.partitions) do want = want + p.high - p.low end
  local deadline = lg.now_us() + drain_s * 1e6
  local n
  repeat
    n = st.count() or 0
    if n >= want then break end
    lg.sleep(1)
  until lg.now_us() > deadline
  -- The job's own count of what it read, once its metrics have caught up (Flink's REST API refreshes them
  -- every second in the stack, metrics.fetcher.update-interval).
  local read = 0
  for _ = 1, 15 do
    local j = cluster:sample(data.job)
    read = 0
    for _, v in ipairs(j.vertices or {}) do read = math.max(read, v.records_in, v.records_out) end
    if read >= want then break end
    lg.sleep(1)
  end
  print(string.format("pipeline: %s rows visible in %s, %d read by the job, %d in the topic", tostring(n), store,
    read, want))
  all_visible:add(n == want)
  local c = cluster:cancel(data.job)
  assert(not c.err, c.error)
  print("pipeline: job " .. data.job .. " " .. c.state)
end

-- Kafka -> Flink -> one store, deployed and measured from a script:
--   setup()    creates the topic and the store's table (Elasticsearch index, Phoenix table, or a Hive
--              external table partitioned by hour over the HDFS folder the job writes, with the run's
--              hours added to the metastore), builds nothing, and submits the
--              pipeline job (docker/flink/Pipeline.java; `scripts/stack flink-jar Pipeline` prints its jar)
--              to the stack's Flink over REST; a failed submission stops the run with exit 4.
--   produce    event lines (the store evaluation's TSV) at RATE/s for SECONDS.
--   markers    MARKER_RATE/s marker records for SECONDS, each carrying its own scheduled produce time
--              (epoch ms, in ts) and trace_id mk-<vu>-<iteration>; the events' ts are all in January 2026,
--              so "ts >= the run's start" finds exactly the markers.
--   probe      every PROBE_MS (one VU; a probe that takes longer delays the next), for SECONDS +
--              MARKER_TIMEOUT_S: the markers the store's query path sees (Elasticsearch _search on a ts
--              range, Phoenix a row-key range scan, Hive a query on the newest hourly partition). For each marker
--              seen for the first time: pipeline_freshness_ms = the end of that probe - its scheduled
--              time (resolution: the probe period plus one probe's duration). Each probe also records
--              pipeline_newest_visible_age_ms (now - the newest visible marker's time: how far behind
--              what a query sees is) and pipeline_markers_visible. Markers never seen are
--              pipeline_markers_produced - pipeline_markers_seen (summary.tsv of pipeline.sh).
--   watch      once a second for SECONDS: the job's metrics (flink.* gauges: records in/out and per second
--              per operator, back-pressure, checkpoints) and the rows a query sees (pipeline_rows_visible).
--   teardown() waits until every record of the topic is visible (or DRAIN_S passed), checks it, cancels
--              the job and checks that nothing of it is left running.
--   loadgen run scripts/ingest/pipeline.lua -e STORE=elasticsearch|phoenix|hive -e JAR=<jar> [-e RATE=500]
--     [-e SECONDS=20] [-e MARKER_RATE=2] [-e PROBE_MS=100] [-e MARKER_TIMEOUT_S=30] [-e NAME=lg_pipe]
--     [-e CHECKPOINT_MS=1000] [-e BATCH=1000] [-e FLUSH_MS=200] [-e REFRESH=1s]
local lg = require("loadgen")
local kafka = require("loadgen.kafka")
local flink = require("loadgen.flink")

local store = lg.env("STORE", "elasticsearch")
local name = lg.env("NAME", "lg_pipe_" .. store)
local topic = lg.env("TOPIC", name)
local rate = tonumber(lg.env("RATE", "500"))
local seconds = tonumber(lg.env("SECONDS", "20"))
local marker_rate = tonumber(lg.env("MARKER_RATE", "2"))
local probe_ms = tonumber(lg.env("PROBE_MS", store == "hive" and "500" or "100"))
local marker_timeout_s = tonumber(lg.env("MARKER_TIMEOUT_S", "30"))
local drain_s = tonumber(lg.env("DRAIN_S", "60"))
local brokers = lg.env("BROKERS", "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096")
local base = 1767225600000

local cluster = flink.cluster{ url = lg.env("FLINK", "http://127.0.0.1:8081") }
local producer = kafka.producer{ brokers = brokers, acks = "all", linger_ms = 5 }
local admin = kafka.admin{ brokers = brokers }
local produced = lg.counter("pipeline_rows_produced")
local visible = lg.gauge("pipeline_rows_visible")
local all_visible = lg.rate("pipeline_all_rows_visible")
local markers_produced = lg.counter("pipeline_markers_produced")

local fr = require("freshness")
local st = fr.store(store, name)
name = st.name
local probe_once = fr.prober(st)

options = {
  scenarios = {
    produce = { executor = "constant-arrival-rate", rate = rate, duration = seconds .. "s", pre_allocated_vus = 8,
                max_vus = 64, exec = "produce" },
    markers = { executor = "constant-arrival-rate", rate = marker_rate, duration = seconds .. "s",
                pre_allocated_vus = 2, max_vus = 8, exec = "marker" },
    probe = { executor = "constant-arrival-rate", rate = 1000 / probe_ms, duration = (seconds + marker_timeout_s) .. "s",
              pre_allocated_vus = 1, max_vus = 1, exec = "probe" },
    watch = { executor = "constant-arrival-rate", rate = 1, duration = seconds .. "s", pre_allocated_vus = 1,
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
  st.create(seconds + marker_timeout_s + drain_s)
  local jar = lg.env("JAR", "")
  if jar == "" then error("JAR is required: -e JAR=$(scripts/stack flink-jar Pipeline)") end
  local sub = cluster:submit{ jar = jar, args = {
    "sink=" .. (store == "hive" and "hdfs" or store), "topic=" .. topic, "bootstrap=" .. brokers,
    "target=" .. st.target, "name=" .. name, "start=earliest", "group=lg-pipeline-" .. name,
    "checkpoint-ms=" .. lg.env("CHECKPOINT_MS", "1000"), "batch=" .. lg.env("BATCH", "1000"),
    "flush-ms=" .. lg.env("FLUSH_MS", "200") } }
  print(string.format("pipeline: job %s deployed (%s -> %s %s)", sub.job, topic, store, name))
  -- Markers are the records with ts at or after this moment.
  return { job = sub.job, since = lg.now() }
end

function produce()
  local i = lg.iteration()
  local line = table.concat({ string.format("%d", base + i), "host-" .. (i % 50), "svc-" .. (i % 12), "INFO", "200",
    "12.5", "512", string.format("tr-%d-%d", lg.vu(), i), "pipeline event " .. i }, "\t")
  local r = producer:send{ topic = topic, value = line }
  if not r.err then produced:add(1) end
end

function marker()
  local sched_ms = (lg.now_us() - lg.lateness_ms() * 1000) // 1000
  local line = table.concat({ string.format("%d", sched_ms), "marker", "markers", "INFO", "200", "0", "0",
    string.format("mk-%d-%d", lg.vu(), lg.iteration()), "freshness marker" }, "\t")
  local r = producer:send{ topic = topic, value = line }
  if not r.err then markers_produced:add(1) end
end

function probe(data) probe_once(data.since, lg.now() < data.since + seconds * 1000) end

function watch(data)
  cluster:sample(data.job)
  local n = st.count()
  if n then visible:add(n) end
end

-- Waits until the store shows every record of the topic (the brokers' count: the sum of its partitions'
-- high watermarks minus their first offsets), then reads the job's own count of what it read once its
-- metrics have caught up (Flink's REST API refreshes them every second in the stack).
local function drain(data)
  local d = admin:describe(topic)
  assert(not d.err, d.error)
  local want = 0
  for _, p in ipairs(d.partitions) do
    assert(p.high and p.low, "partition " .. p.id .. " of " .. topic .. " has no leader to give its offsets")
    want = want + p.high - p.low
  end
  local deadline = lg.now_us() + drain_s * 1e6
  local n
  repeat
    n = st.count() or 0
    if n >= want then break end
    lg.sleep(1)
  until lg.now_us() > deadline
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
end

-- The job is cancelled whatever the drain did: the cluster keeps running what a script started.
function teardown(data)
  if not data or not data.job then return end
  local ok, err = pcall(drain, data)
  local c = cluster:cancel(data.job)
  assert(not c.err, c.error)
  print("pipeline: job " .. data.job .. " " .. c.state)
  if not ok then error(err, 0) end
end

-- The soak (scripts/bench/soak.sh, issue 16): every store at a fixed arrival rate at once, for DURATION.
--   http     GET the bench nginx's /1k                          HTTP_RATE a second
--   produce  one 200-byte record to TOPIC (acks=all)              KAFKA_RATE a second
--   consume  one VU polling TOPIC in GROUP, counting (no tables)  as fast as records come
--   bulk     ES_DOCS documents with ids to INDEX                  ES_RATE bulks a second
--   search   a match_all search of INDEX                          SEARCH_RATE a second
--   upsert   one row into TABLE through the Query Server          PHOENIX_RATE a second
-- What the servers acknowledged is counted (soak_*_acked counters, in the result); teardown asks each
-- server for its own count (Kafka high watermarks and the group's committed offsets, Elasticsearch
-- _count, Phoenix COUNT(*)) and writes them to DIR/server_counts.json for soak_check.py.
local lg = require("loadgen")
local http = require("loadgen.http")
local kafka = require("loadgen.kafka")
local es = require("loadgen.elasticsearch")
local phoenix = require("loadgen.phoenix")

local duration = lg.env("DURATION", "2m")
local brokers = lg.env("BROKERS", "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096")
local topic, group = lg.env("TOPIC"), lg.env("GROUP")
local index, tbl, dir = lg.env("INDEX"), lg.env("TABLE"), lg.env("DIR")
local url = lg.env("URL")
local es_docs = tonumber(lg.env("ES_DOCS", "100"))
local function rate(name, default) return tonumber(lg.env(name, default)) end

local web = http.client{ timeout = "10s" }
-- idempotence: librdkafka's own retries cannot add a record twice (the high watermark would pass the
-- acknowledged count for a reason that is not loss).
local producer = kafka.producer{ brokers = brokers, acks = "all", idempotence = true, linger_ms = 5,
                                 timeout = "10s" }
local store = es.client{ url = lg.env("ES", "http://127.0.0.1:9200"), timeout = "10s" }
local pqs = phoenix.connect{ url = lg.env("PHOENIX", "http://127.0.0.1:8765"), timeout = "10s" }

local kafka_acked, kafka_consumed = lg.counter("soak_kafka_acked"), lg.counter("soak_kafka_consumed")
local es_acked, phoenix_acked = lg.counter("soak_es_acked"), lg.counter("soak_phoenix_acked")

-- Every VU is made before the load (pre_allocated_vus = max_vus): the soak judges whether loadgen's
-- memory stays flat, and a VU made during the run is memory the run keeps to its end (about 150 KiB
-- each with this init, idle; more while its Lua heap holds garbage), so VUs made on demand after a
-- stall of the machine read as growth. (The hour soak of 2026-12-01 00:34 made 21 VUs during the
-- load: vus_max 14, 23 and 16 for 8, 16 and 8 made up front, while its RSS rose 89 -> 99 MiB.) A VU
-- made during the run is also initialised on the scheduling thread and delays every iteration due
-- meanwhile (docs/scripting.md). The pools are two to three times what that hour used: a longer
-- stall shows as lateness and a backlog, not as memory.
local function open(r, exec, vus)
  return { executor = "constant-arrival-rate", rate = r, duration = duration, exec = exec,
           pre_allocated_vus = vus, max_vus = vus }
end
options = {
  scenarios = {
    http = open(rate("HTTP_RATE", "200"), "get", 24),
    produce = open(rate("KAFKA_RATE", "200"), "produce", 48),
    consume = { executor = "constant-vus", vus = 1, duration = duration, exec = "consume" },
    bulk = open(rate("ES_RATE", "5"), "bulk", 8),
    search = open(rate("SEARCH_RATE", "2"), "search", 4),
    upsert = open(rate("PHOENIX_RATE", "50"), "upsert", 32),
  },
  setup_timeout = "120s", teardown_timeout = "300s",
}
-- ONLY=http,produce keeps those scenarios alone (to find which one a memory growth comes from).
if lg.env("ONLY", "") ~= "" then
  local keep = {}
  for name in lg.env("ONLY"):gmatch("[^,]+") do keep[name] = options.scenarios[name] end
  options.scenarios = keep
end

local value = string.rep("v", 200)

function setup()
  local admin = kafka.admin{ brokers = brokers }
  local r = admin:create_topic{ name = topic, partitions = 3, replication = 3 }
  assert(r.ok, r.error)
  r = store:create_index(index, { settings = { number_of_shards = 1, number_of_replicas = 0 } })
  assert(r.ok, r.error)
  r = pqs:execute("CREATE TABLE " .. tbl .. " (ID VARCHAR PRIMARY KEY, N BIGINT, V VARCHAR)")
  assert(not r.err, r.error)
end

function get()
  web:get(url)
end

function produce()
  local r = producer:send{ topic = topic, key = lg.vu() .. "-" .. lg.iteration(), value = value }
  if not r.err then kafka_acked:add(1) end
end

-- The consumer is made at first use, in the one VU that polls (one made in init code would be one
-- more librdkafka client in every VU).
local consumer
function consume()
  consumer = consumer or kafka.consumer{ brokers = brokers, group = group, topics = { topic }, from = "earliest" }
  local r = consumer:poll("200ms", 1000, { records = false })
  if r.count and r.count > 0 then kafka_consumed:add(r.count) end
end

function bulk()
  local docs, base = {}, lg.vu() .. "-" .. lg.iteration()
  for i = 1, es_docs do docs[i] = { _id = base .. "-" .. i, n = i, msg = "soak event " .. i } end
  local r = store:bulk(index, docs)
  if not r.err then es_acked:add(es_docs) end
end

function search()
  store:search(index, { query = { match_all = {} }, size = 10 })
end

local upsert_stmt
function upsert()
  upsert_stmt = upsert_stmt or pqs:prepare("UPSERT INTO " .. tbl .. " (ID, N, V) VALUES (?, ?, ?)")
  local r = upsert_stmt:execute({ lg.vu() .. "-" .. lg.iteration(), lg.iteration(), "soak" })
  if not r.err then phoenix_acked:add(1) end
end

function teardown()
  local counts = {}
  -- Kafka: the sum of the partitions' high watermarks, and what the soak's group committed (read
  -- through a consumer of that group, once the run's consumer has left it).
  local admin = kafka.admin{ brokers = brokers }
  local d = admin:describe(topic)
  assert(not d.err, d.error)
  local hw = 0
  for _, p in ipairs(d.partitions) do hw = hw + assert(p.high, "a partition without a leader") end
  -- It polls to get its partitions, so it must not commit what it reads before the count is taken.
  local c = kafka.consumer{ brokers = brokers, group = group, topics = { topic }, from = "earliest",
                            config = { ["enable.auto.commit"] = "false" } }
  local parts = {}
  for _ = 1, 120 do
    c:poll("500ms", 1, { records = false })
    parts = c:lag("10s")
    if #parts == 3 then break end
  end
  assert(#parts == 3, "teardown: no partitions assigned to the counting consumer")
  local committed = 0
  -- A partition the group never committed reports -1.
  for _, p in ipairs(parts) do committed = committed + math.max(p.committed or 0, 0) end
  counts.kafka_high_watermark, counts.kafka_committed = hw, committed
  c:close()
  assert(store:refresh(index).ok)
  counts.es_count = store:count(index).count
  local q = pqs:query("SELECT COUNT(*) FROM " .. tbl)
  assert(not q.err, q.error)
  counts.phoenix_count = q.rows[1][1]
  local f = assert(io.open(dir .. "/server_counts.json", "w"))
  f:write(string.format(
    '{"kafka_high_watermark": %d, "kafka_committed": %d, "es_count": %d, "phoenix_count": %d}\n',
    counts.kafka_high_watermark, counts.kafka_committed, counts.es_count, counts.phoenix_count))
  f:close()
  if lg.env("CLEANUP", "1") == "1" then
    store:delete_index(index)
    pqs:execute("DROP TABLE " .. tbl)
    admin:delete_topic(topic)
  end
end

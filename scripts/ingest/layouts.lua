-- The old ingest layout against the new one, with the same records and the same consumer work.
--
--   LAYOUT=old  one topic of one partition with one replica: all of it lives on one broker (the other
--               brokers of the stack carry none of its data), as the platform runs today.
--   LAYOUT=new  TOPICS topics (metrics and logs apart) of PARTITIONS partitions each, replication 3 over
--               the stack's three brokers, acks = all.
--
-- Both: RATE monitoring events a second (about 200 bytes of JSON each) for SECONDS, and one consumer
-- group of CONSUMERS VUs doing the same work per record: WORK_US microseconds of waiting, standing for
-- the consuming service's write into its store (the old service indexed each event into
-- Elasticsearch). One partition can be read by one consumer of a group only, so in the old layout one
-- VU does all the work and the others wait for partitions.
--
-- Every second the consumer VUs set `consumer_rss_mib`, this process's resident memory (producer and
-- consumers together). Needs: scripts/stack up kafka.
--   loadgen run scripts/ingest/layouts.lua -e LAYOUT=old|new [-e RATE=3000] [-e SECONDS=90]
local lg = require("loadgen")
local kafka = require("loadgen.kafka")

local brokers = lg.env("BROKERS", "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096")
local layout = lg.env("LAYOUT", "new")
assert(layout == "old" or layout == "new", "LAYOUT: old or new, not " .. layout)
local rate = tonumber(lg.env("RATE", "3000"))
local seconds = tonumber(lg.env("SECONDS", "90"))
local consumers = tonumber(lg.env("CONSUMERS", "8"))
local work_us = tonumber(lg.env("WORK_US", "500"))
local old = layout == "old"
local ntopics = old and 1 or tonumber(lg.env("TOPICS", "2"))
local partitions = old and 1 or tonumber(lg.env("PARTITIONS", "4"))
local replication = old and 1 or 3

local producer = kafka.producer{ brokers = brokers, acks = "all", linger_ms = tonumber(lg.env("LINGER_MS", "50")) }
local rss = lg.gauge("consumer_rss_mib")
local consumer

options = {
  scenarios = {
    produce = { executor = "constant-arrival-rate", rate = rate, duration = seconds .. "s",
                pre_allocated_vus = 20, max_vus = 100, exec = "produce" },
    consume = { executor = "constant-vus", vus = consumers, duration = seconds .. "s", exec = "consume" },
  },
  tags = { layout = layout },
}

-- The topics and the group are named once, here, and handed to every iteration.
function setup()
  local run = lg.env("RUN", tostring(lg.now()))
  local admin = kafka.admin{ brokers = brokers }
  local topics = {}
  for i = 1, ntopics do
    topics[i] = string.format("ingest-%s-%s-%d", layout, run, i)
    local r = admin:create_topic{ name = topics[i], partitions = partitions, replication = replication }
    assert(r.ok, r.error)
  end
  return { topics = topics, group = "ingest-" .. layout .. "-" .. run }
end

local hosts, services = 200, { "api", "web", "db", "cache", "queue" }

-- One monitoring event: metrics and logs alternate, and in the new layout each kind has its topic.
function produce(data)
  local topics = data.topics
  local i = lg.iteration()
  local vu = lg.vu()
  local kind = (i % 2 == 0) and "metric" or "log"
  local topic = topics[(i % ntopics) + 1]
  local value = string.format(
    '{"ts":%d,"vu":%d,"seq":%d,"kind":"%s","host":"host-%03d","service":"%s","name":"cpu.user","value":%d.%02d,"msg":"sample from the monitoring agent"}',
    lg.now(), vu, i, kind, (i * 7 + vu) % hosts, services[(i % #services) + 1], i % 100, i % 97)
  producer:send_async{ topic = topic, key = string.format("host-%03d", (i * 7 + vu) % hosts), value = value }
end

-- The consuming service: read up to 100 records, look at each, then do WORK_US of work per record.
local last_rss = 0
function consume(data)
  -- Round robin spreads the partitions of several topics over all the group's consumers (librdkafka's
  -- default, range, deals each topic out on its own: with 2 topics of 4 partitions, 4 of 8 consumers
  -- would get 2 partitions each and the other 4 none).
  consumer = consumer or kafka.consumer{ brokers = brokers, group = data.group, topics = data.topics,
    from = "earliest", config = { ["partition.assignment.strategy"] = "roundrobin" } }
  local recs = consumer:poll("100ms", 100)
  local n = 0
  for _, r in ipairs(recs) do
    if #r.value > 0 then n = n + 1 end
  end
  if n > 0 then lg.sleep(n * work_us / 1e6) end
  local now = lg.now()
  if now - last_rss >= 1000 then
    last_rss = now
    rss:set(lg.rss_bytes() / 1048576)
  end
end

function teardown(data)
  local admin = kafka.admin{ brokers = brokers }
  for _, t in ipairs(data.topics) do admin:delete_topic(t) end
end

-- Elasticsearch: bulk-load monitoring events, then query them while loading continues.
-- Needs: scripts/stack up elasticsearch
local lg = require("loadgen")
local es = require("loadgen.elasticsearch")
local gen = require("loadgen.gen")

local index = lg.env("INDEX", "events")
-- rate_limit is in documents per second, shared by every VU.
local c = es.client{ urls = { lg.env("ES", "http://127.0.0.1:9200") }, rate_limit = 20000 }

-- The queries warm up for 10 s before the measured 15 s, which alone carry the search threshold: on a
-- node that had just started, the example without a warm-up measured search p95 383 ms in the main job
-- (against 36 ms in its warm baseline), close to the 500 ms bound.
options = {
  scenarios = {
    load  = { executor = "constant-vus", vus = 4, duration = "30s", exec = "load" },
    warmup = { executor = "constant-arrival-rate", rate = 50, duration = "10s", start_time = "5s",
               pre_allocated_vus = 5, max_vus = 20, drop_late = true, exec = "query" },
    query = { executor = "constant-arrival-rate", rate = 50, duration = "15s", start_time = "15s",
              pre_allocated_vus = 5, max_vus = 20, exec = "query" },
  },
  thresholds = { ["es.bulk"] = { "error_rate == 0" }, ["es.search{scenario:query}"] = { "p(95) < 500ms" } },
}

function setup()
  c:delete_index(index)
  local r = c:create_index(index, {
    settings = { number_of_shards = 1, number_of_replicas = 0 },
    mappings = { properties = { ts = { type = "date", format = "epoch_millis" }, service = { type = "keyword" },
                                level = { type = "keyword" }, latency_ms = { type = "float" } } },
  })
  if r.err then error(r.error) end
end

function load()
  local docs = {}
  for i = 1, 500 do docs[i] = gen.event() end
  c:bulk(index, docs)
end

function query()
  c:search(index, {
    size = 0,
    query = { term = { level = "ERROR" } },
    aggs = { by_service = { terms = { field = "service" }, aggs = { p95 = { percentiles = { field = "latency_ms", percents = { 95 } } } } } },
  }, { tags = { name = "errors_by_service" } })
end

function teardown()
  c:refresh(index)
  local s = c:stats(index)
  print(string.format("%s: %d documents, %d bytes", index, s.docs or -1, s.store_bytes or -1))
end

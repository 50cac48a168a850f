-- Elasticsearch bulk indexing beside Rally (scripts/bench/es_bulk.sh). Two modes:
--   MODE=gen  DOCS=N BULK=B OUT=file : writes N events from gen.json_event(), one JSON document a line
--                                      (Rally's corpus format); not timed, run before the benchmark.
--   MODE=load DIR=d FILES=F VUS=V    : VU v posts the pre-built bulk bodies DIR/bulk-<k>.ndjson with
--                                      k = v, v + V, v + 2V, ... through c:bulk(INDEX, text), so the
--                                      bodies are the same bytes Rally sends and no per-document Lua
--                                      work is done. The index is created by the harness, not here.
local lg = require("loadgen")
local mode = lg.env("MODE", "load")

if mode == "gen" then
  local gen = require("loadgen.gen")
  local docs = tonumber(lg.env("DOCS", "1000000"))
  local bulk = tonumber(lg.env("BULK", "5000"))
  local out = lg.env("OUT")
  options = {
    scenarios = { gen = { executor = "per-vu-iterations", vus = 1, iterations = docs // bulk,
                          max_duration = "30m" } },
  }
  function setup()
    local f = assert(io.open(out, "w"))
    f:close()
  end
  function default()
    local lines = {}
    for i = 1, bulk do lines[i] = gen.json_event() end
    lines[bulk + 1] = ""
    local f = assert(io.open(out, "a"))
    f:write(table.concat(lines, "\n"))
    f:close()
  end
  return
end

local es = require("loadgen.elasticsearch")
local index = lg.env("INDEX", "loadgen-bench-es")
local dir = lg.env("DIR")
local files = tonumber(lg.env("FILES"))
local vus = tonumber(lg.env("VUS", "4"))
assert(files % vus == 0, "FILES must be a multiple of VUS")
local c = es.client{ urls = { lg.env("ES", "http://127.0.0.1:9200") }, timeout = "120s" }

options = {
  scenarios = { bulk = { executor = "per-vu-iterations", vus = vus, iterations = files // vus,
                         max_duration = "30m" } },
}

function default()
  local k = (lg.iteration() - 1) * vus + lg.vu()
  local f = assert(io.open(string.format("%s/bulk-%05d.ndjson", dir, k), "rb"))
  local body = f:read("a")
  f:close()
  local r = c:bulk(index, body)
  if r.err then error(r.error) end
end

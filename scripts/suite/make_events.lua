-- Writes ROWS monitoring events (default 200000) as tab-separated lines to OUT, byte for byte the same
-- every time for the same --seed: the shared data of the store evaluation (scripts/suite/evaluate.sh).
-- Columns: ts, host, service, level, status, latency_ms, bytes, trace_id, message.
-- The events are spread evenly over one day from 2026-01-01T00:00:00Z (events.lua names the windows
-- the queries use), whatever ROWS is, so every size has 24 hourly partitions.
local lg = require("loadgen")
local gen = require("loadgen.gen")
local events = require("events")

local rows = tonumber(lg.env("ROWS", "200000"))
local out = lg.env("OUT", "/tmp/loadgen-events.tsv")
local per = 10000

options = { iterations = math.ceil(rows / per), vus = 1 }

function setup()
  local f = assert(io.open(out, "w"))
  f:close()
end

function default()
  local f = assert(io.open(out, "a"))
  local first = (lg.iteration() - 1) * per
  local lines = {}
  for i = 1, math.min(per, rows - first) do
    local e = gen.event()
    lines[i] = table.concat({ events.ts_of(first + i, rows), e.host, e.service, e.level, e.status,
                              string.format("%.1f", e.latency_ms), e.bytes, e.trace_id, e.message }, "\t")
  end
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
end

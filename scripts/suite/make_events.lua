-- Writes ROWS monitoring events (default 100000) as tab-separated lines to OUT, the same every time for
-- the same --seed: the shared data of the store comparison (scripts/suite/compare_stores.sh).
-- Columns: ts, host, service, level, status, latency_ms, bytes, trace_id, message.
local lg = require("loadgen")
local gen = require("loadgen.gen")

local rows = tonumber(lg.env("ROWS", "100000"))
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
    -- A fixed timestamp base keeps the data identical from run to run.
    lines[i] = table.concat({ 1767225600000 + first + i, e.host, e.service, e.level, e.status, e.latency_ms,
                              e.bytes, e.trace_id, e.message }, "\t")
  end
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
end

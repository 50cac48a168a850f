-- The engine's own memory under an open model: RATE iterations a second for DURATION that do almost
-- nothing (format one string), while one VU sets `rss_mib`, this process's resident memory, every
-- second. A flat line is the expectation; growth with the iteration count is a leak in the engine.
-- TRENDS=N adds N trends recording values up to 40,000 (ms) each iteration, as a run whose
-- end-to-end times grow does: wide histograms in every second of the series. No server needed.
--   loadgen run scripts/bench/engine_memory.lua -e RATE=6000 -e DURATION=30s [-e TRENDS=5]
local lg = require("loadgen")
local rss = lg.gauge("rss_mib")
local duration = lg.env("DURATION", "30s")
options = { scenarios = {
  open = { executor = "constant-arrival-rate", rate = tonumber(lg.env("RATE", "6000")), duration = duration,
           pre_allocated_vus = 20, max_vus = 100, exec = "work" },
  memory = { executor = "constant-vus", vus = 1, duration = duration, exec = "memory" },
} }
local trends = {}
for i = 1, tonumber(lg.env("TRENDS", "0")) do trends[i] = lg.trend("wide_" .. i) end
function work()
  local s = string.format("event %d of VU %d", lg.iteration(), lg.vu())
  for i, t in ipairs(trends) do t:add((lg.iteration() * i) % 40000) end
  return #s
end
function memory() rss:set(lg.rss_bytes() / 1048576); lg.sleep("1s") end

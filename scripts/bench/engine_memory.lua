-- The engine's own memory under an open model: RATE iterations a second for DURATION that do almost
-- nothing (format one string), while one VU sets `rss_mib`, this process's resident memory, every
-- second. A flat line is the expectation; growth with the iteration count is a leak in the engine.
-- No server needed.
--   loadgen run scripts/bench/engine_memory.lua -e RATE=6000 -e DURATION=30s
local lg = require("loadgen")
local rss = lg.gauge("rss_mib")
local duration = lg.env("DURATION", "30s")
options = { scenarios = {
  open = { executor = "constant-arrival-rate", rate = tonumber(lg.env("RATE", "6000")), duration = duration,
           pre_allocated_vus = 20, max_vus = 100, exec = "work" },
  memory = { executor = "constant-vus", vus = 1, duration = duration, exec = "memory" },
} }
function work() local s = string.format("event %d of VU %d", lg.iteration(), lg.vu()); return #s end
function memory() rss:set(lg.rss_bytes() / 1048576); lg.sleep("1s") end

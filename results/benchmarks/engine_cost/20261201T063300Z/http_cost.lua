-- The tool's own cost (scripts/bench/http_cost.sh): one Lua iteration per request, GET TARGET.
-- RATE > 0: constant-arrival-rate at RATE iterations/s with VUS VUs pre-allocated (and no more), so
-- at most VUS requests are in flight, as with the peers' VUS connections. RATE = 0: constant-vus, VUS
-- VUs looping as fast as the target answers (closed loop).
local lg = require("loadgen")
local http = require("loadgen.http")
local target = lg.env("TARGET", "http://127.0.0.1:18080/1k")
local rate = tonumber(lg.env("RATE", "0"))
local vus = tonumber(lg.env("VUS", "64"))
local duration = lg.env("DURATION", "10s")
if rate > 0 then
  options = {
    scenarios = {
      open = { executor = "constant-arrival-rate", rate = rate, duration = duration,
               pre_allocated_vus = vus, max_vus = vus },
    },
  }
else
  options = { scenarios = { closed = { executor = "constant-vus", vus = vus, duration = duration } } }
end
function default() http.get(target) end

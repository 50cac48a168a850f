-- Arrival-rate accuracy: RATE iterations/s (default 20000) for DURATION (default 30s) against TARGET.
local lg = require("loadgen")
local http = require("loadgen.http")
local target = lg.env("TARGET", "http://127.0.0.1:18080/1k")
options = {
  scenarios = {
    open = { executor = "constant-arrival-rate", rate = tonumber(lg.env("RATE", "20000")),
             duration = lg.env("DURATION", "30s"), pre_allocated_vus = 200, max_vus = 2000 },
  },
}
function default() http.get(target) end

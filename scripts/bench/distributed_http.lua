-- scripts/bench/distributed.sh's default plan: GET TARGET at RATE iterations/s for DURATION, an open
-- model with VUS VUs at most (split among the instances by --instance I/N).
local lg = require("loadgen")
local http = require("loadgen.http")
local target = lg.env("TARGET", "http://127.0.0.1:18080/1k")
local vus = tonumber(lg.env("VUS", "64"))

options = {
  scenarios = {
    get = { executor = "constant-arrival-rate", rate = tonumber(lg.env("RATE", "2000")),
            duration = lg.env("DURATION", "20s"), pre_allocated_vus = vus, max_vus = vus },
  },
  thresholds = { ["http.request"] = { "p(99) < 50ms", "error_rate < 0.01" } },
}

function default() http.get(target) end

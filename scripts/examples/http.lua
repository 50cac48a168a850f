-- HTTP example: a closed-model warm-up, then an open-model load at a fixed rate.
-- Run: loadgen run scripts/examples/http.lua -e TARGET=http://127.0.0.1:18080/1k
local lg = require("loadgen")
local http = require("loadgen.http")

local target = lg.env("TARGET", "http://127.0.0.1:18080/1k")

options = {
  scenarios = {
    -- 4 VUs as fast as the target answers.
    warmup = { executor = "constant-vus", vus = 4, duration = "5s", exec = "get", tags = { phase = "warmup" } },
    -- 500 requests per second whatever the target does; latency counts from the scheduled time.
    steady = { executor = "constant-arrival-rate", rate = 500, time_unit = "1s", duration = "10s",
               pre_allocated_vus = 10, max_vus = 50, start_time = "5s", exec = "get",
               tags = { phase = "steady" } },
  },
  thresholds = {
    ["http.request{phase:steady}"] = { "p(99) < 50ms", "error_rate < 0.01" },
    checks = { "rate > 0.99" },
  },
}

function setup()
  local r = http.get(target)
  if r.status ~= 200 then
    error("target " .. target .. " answered " .. tostring(r.status) .. " " .. tostring(r.error))
  end
  return { size = #r.body }
end

function get(data)
  local r = http.get(target, { name = "file" })
  lg.check(r, {
    ["status is 200"] = function(r) return r.status == 200 end,
    ["full body"] = function(r) return #r.body == data.size end,
  })
end

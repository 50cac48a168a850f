-- The engine's cost per iteration for Lua-heavy scripts: ITERATIONS iterations on one VU, each
-- running some Lua (a loop building 20 strings into a table) and one call into Rust that builds Lua
-- tables (lg.json_decode of a small document). Compare builds, or `-e MEM=0` (lua_memory_mib = 0)
-- against the default, by the run's duration and CPU. No server needed.
--   loadgen run scripts/bench/lua_cost.lua -e ITERATIONS=300000 [-e MEM=0]
local lg = require("loadgen")
local doc = '{"host":"web-01","tags":["a","b","c"],"values":[1,2,3,4,5],"nested":{"x":1,"y":2}}'
local mem = lg.env("MEM", "")
options = { scenarios = { s = { executor = "per-vu-iterations", vus = 1,
  iterations = tonumber(lg.env("ITERATIONS", "300000")) } } }
if mem ~= "" then options.lua_memory_mib = tonumber(mem) end
function default()
  local t = {}
  for i = 1, 20 do t[i] = string.format("%d-%d", i, lg.iteration()) end
  local d = lg.json_decode(doc)
  return #t + #d.values
end

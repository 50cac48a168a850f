-- N requests (shared-iterations), 64 VUs, one http.get per iteration.
local lg = require("loadgen")
local http = require("loadgen.http")
local n = tonumber(lg.env("N", "200000"))
local vus = tonumber(lg.env("VUS", "64"))
local port = lg.env("PORT", "18080")
local url = "http://127.0.0.1:" .. port .. "/1k"
options = { scenarios = { s = { executor = "shared-iterations", vus = vus, iterations = n, max_duration = "10m" } } }
function default()
  http.get(url)
end

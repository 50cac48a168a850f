-- Memory per VU: VUS VUs (default 10000) each looping lg.sleep(1) for DURATION (default 10s).
local lg = require("loadgen")
options = { vus = tonumber(lg.env("VUS", "10000")), duration = lg.env("DURATION", "10s") }
function default() lg.sleep(1) end

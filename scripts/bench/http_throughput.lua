-- Closed-loop HTTP throughput against our own nginx (scripts/bench/http_throughput.sh).
-- The harness rewrites `duration` (and `vus`) from DURATION / CONNS when they differ from these.
local http = require("loadgen.http")

options = { vus = 64, duration = "30s" }

function default()
    http.get("http://127.0.0.1:18080/1k")
end

-- Coordinated-omission check against scripts/bench/stall_server.py (scripts/bench/saturation.sh).
-- 200 requests/s open-loop with at most 10 VUs; the server stalls 1 s every 5 s.
-- The harness rewrites `duration` from DURATION when it differs from 30s.
local http = require("loadgen.http")

options = {
    scenarios = {
        co = {
            executor = "constant-arrival-rate",
            rate = 200,
            time_unit = "1s",
            duration = "30s",
            pre_allocated_vus = 10,
            max_vus = 10,
        },
    },
}

function default()
    http.get("http://127.0.0.1:18081/")
end

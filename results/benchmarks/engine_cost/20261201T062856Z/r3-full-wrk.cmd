env PACE_MS=0 wrk -t2 -c64 -d10s --latency -s /work/main/scripts/bench/http_cost_wrk.lua http://127.0.0.1:18080/1k 

-- wrk side of scripts/bench/http_cost.sh: every request is built in Lua (wrk.format per request, not
-- wrk's pre-built one), so wrk runs a Lua call per request as loadgen does.
-- PACE_MS (from the environment; empty or 0 = full speed) paces each connection: wrk's delay() waits
-- that many milliseconds before a connection's next request. wrk's timer takes whole milliseconds, so a
-- fractional PACE_MS is met on average by choosing floor or ceil at random. wrk stays a closed loop
-- per connection: the rate it reaches is measured and reported, not assumed.
local pace = tonumber(os.getenv("PACE_MS") or "") or 0
local path = os.getenv("WRK_PATH") or "/1k"

request = function()
  return wrk.format("GET", path)
end

if pace > 0 then
  local lo = math.floor(pace)
  local frac = pace - lo
  delay = function()
    if math.random() < frac then
      return lo + 1
    end
    return lo
  end
end

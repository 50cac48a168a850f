-- Hive client overhead, the loadgen side of scripts/bench/hive_overhead.sh: one VU, one session, N
-- statements one after the other (no think time), each timed as `hive.query{name:NAME}`.
--   MODE=query: SQL (an aggregation over the table the shell script loaded), QUERIES statements
--   MODE=select1: `SELECT 1`, STATEMENTS statements
-- The same session settings as the JDBC client beside it (scripts/bench/java/HiveBench.java).
local lg = require("loadgen")
local hive = require("loadgen.hive")

local mode = lg.env("MODE", "select1")
local sql = mode == "query" and lg.env("SQL") or "SELECT 1"
local n = tonumber(lg.env(mode == "query" and "QUERIES" or "STATEMENTS", "100"))
local expect = lg.env("EXPECT_ROWS")
local h = hive.connect{ host = "127.0.0.1", port = tonumber(lg.env("HIVE_PORT", "10000")),
                        database = "default", timeout = "300s", fetch_size = 10000,
                        poll_interval = lg.env("POLL_INTERVAL", "50ms"),
                        session_conf = { ["hive.fetch.task.conversion"] = "more" } }

options = {
  scenarios = { [mode] = { executor = "per-vu-iterations", vus = 1, iterations = n, max_duration = "30m" } },
}

-- WARMUP warm-up statements (the same SQL) outside the statements measured, as many as the JDBC client
-- runs. setup runs in a Lua state of its own, so the VU opens its own session (timed as hive.connect).
function setup()
  for _ = 1, tonumber(lg.env("WARMUP", "1")) do
    local r = h:query(sql, { name = "warmup" })
    if r.err then error(r.error) end
  end
  h:close()
end

function default()
  local r = h:query(sql, { name = mode })
  if r.err then error(r.error) end
  if expect and r.row_count ~= tonumber(expect) then
    error(string.format("expected %s rows, got %d", expect, r.row_count))
  end
end

-- Queries through HiveServer2 service discovery at a fixed rate while an instance is killed
-- (scripts/ha/failover.sh with STORE=hive): setup() makes a table of 100 rows through one session; each
-- iteration reads ten of them on the VU's own session (opened through ZooKeeper, on whichever instance
-- comes next; a fetch task that reads the table's file on HDFS, no Tez job) and checks the answer. A session whose instance died fails its statement and the
-- next statement opens a session on a live instance.
--   loadgen run scripts/ha/hive_failover.lua [-e RATE=4] [-e SECONDS=90] [-e NAME=lg_ha] [-e ZK=127.0.0.1:2182]
local lg = require("loadgen")
local hive = require("loadgen.hive")

local zk = lg.env("ZK", "127.0.0.1:2182")
local name = lg.env("NAME", "lg_ha")
local h = hive.connect{ zookeeper = zk, timeout = "20s",
  session_conf = { ["hive.compute.query.using.stats"] = "false", ["hive.query.results.cache.enabled"] = "false" } }
local wrong = lg.counter("answers_wrong")

options = {
  scenarios = { query = { executor = "constant-arrival-rate", rate = tonumber(lg.env("RATE", "4")),
                          duration = lg.env("SECONDS", "90") .. "s", pre_allocated_vus = 8, max_vus = 40 } },
  setup_timeout = "180s",
}

function setup()
  local s = hive.connect{ zookeeper = zk }
  assert(not s:execute("DROP TABLE IF EXISTS " .. name).err)
  assert(not s:execute("CREATE TABLE " .. name .. " (id INT)").err)
  local v = {}
  for i = 1, 100 do v[#v + 1] = "(" .. i .. ")" end
  local r = s:execute("INSERT INTO " .. name .. " VALUES " .. table.concat(v, ","))
  assert(not r.err, r.error)
  s:close()
end

function default()
  local r = h:query("SELECT id FROM " .. name .. " WHERE id <= 10")
  if not r.err then
    local sum = 0
    for _, row in ipairs(r.rows) do sum = sum + row[1] end
    if #r.rows ~= 10 or sum ~= 55 then
      wrong:add(1)
      print(string.format("wrong answer: %d rows, sum %d", #r.rows, sum))
    end
  end
end

function teardown()
  local s = hive.connect{ zookeeper = zk }
  s:execute("DROP TABLE IF EXISTS " .. name)
end

-- Writes through the HA nameservice at a fixed rate while a daemon is killed (scripts/ha/hdfs_failover.sh):
-- each write is SIZE bytes, different for every path, and every acknowledged one is noted in ACKS (path,
-- epoch ms). teardown() reads each acknowledged file back and checks it byte for byte.
--   loadgen run scripts/ha/hdfs_failover.lua -e DIR=/loadgen-ha/x -e ACKS=/tmp/acks.tsv [-e RATE=10]
--     [-e SIZE=1048576] [-e SECONDS=90] [-e NAMENODES=127.0.0.1:8020,127.0.0.1:8021] [-e TIMEOUT=10s]
local lg = require("loadgen")
local hdfs = require("loadgen.hdfs")

local namenodes = {}
for a in lg.env("NAMENODES", "127.0.0.1:8020,127.0.0.1:8021"):gmatch("[^,]+") do namenodes[#namenodes + 1] = a end
local c = hdfs.client{ url = lg.env("URL", "hdfs://loadgen"), namenodes = namenodes, timeout = lg.env("TIMEOUT", "10s") }
local dir, acks = lg.env("DIR"), lg.env("ACKS")
local size = tonumber(lg.env("SIZE", "1048576"))

options = {
  scenarios = { write = { executor = "constant-arrival-rate", rate = tonumber(lg.env("RATE", "10")),
                          duration = lg.env("SECONDS", "90") .. "s", pre_allocated_vus = 8, max_vus = 100 } },
  teardown_timeout = "600s",
  thresholds = { checks = { "rate == 1" } },
}

local function content(path)
  local line = path .. "\n"
  local s = string.rep(line, size // #line + 1)
  return s:sub(1, size)
end

function setup() assert(c:mkdirs(dir).ok, "mkdirs " .. dir) end

function default()
  local path = string.format("%s/f-%d-%d", dir, lg.vu(), lg.iteration())
  local r = c:write(path, content(path))
  if r.ok then
    local f = assert(io.open(acks, "a"))
    f:write(string.format("%s\t%d\n", path, lg.now()))
    f:close()
  end
end

function teardown()
  local n, same = 0, 0
  for line in io.lines(acks) do
    local path = line:match("^(%S+)\t")
    n = n + 1
    local r = c:read(path)
    if r.data == content(path) then same = same + 1 else print("differs or unreadable: " .. path, r.error) end
  end
  print(string.format("acknowledged %d, read back identical %d", n, same))
  lg.check(same, { ["every acknowledged write reads back byte for byte"] = function(s) return n > 0 and s == n end })
  c:delete(dir, { recursive = true })
end

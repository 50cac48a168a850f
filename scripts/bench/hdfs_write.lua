-- HDFS write throughput beside Hadoop's FsShell -put (scripts/bench/hdfs_write.sh): FILES files, all with
-- the bytes of the local file SRC (read once per VU, in init), written as DIR/f001 ... by VUS VUs with
-- REPLICATION replicas through WRITER (loadgen: the binding's own write path; hdfs-native);
-- VU v writes files v, v + VUS, v + 2 VUS, ...
local lg = require("loadgen")
local hdfs = require("loadgen.hdfs")

local c = hdfs.client{ url = lg.env("HDFS", "hdfs://127.0.0.1:8020"), timeout = "300s",
                       writer = lg.env("WRITER", "loadgen") }
local replication = tonumber(lg.env("REPLICATION", "1"))
local dir = lg.env("DIR")
local files = tonumber(lg.env("FILES", "20"))
local vus = tonumber(lg.env("VUS", "1"))
assert(files % vus == 0, "FILES must be a multiple of VUS")
local f = assert(io.open(lg.env("SRC"), "rb"))
local data = f:read("a")
f:close()

options = {
  scenarios = { write = { executor = "per-vu-iterations", vus = vus, iterations = files // vus,
                          max_duration = "30m" } },
}

function default()
  local k = (lg.iteration() - 1) * vus + lg.vu()
  local r = c:write(string.format("%s/f%03d", dir, k), data, { replication = replication })
  if r.err then error(r.error) end
end

-- HDFS: write files of 1 MiB, read them back.
-- Needs: scripts/stack up hdfs
local lg = require("loadgen")
local gen = require("loadgen.gen")
local hdfs = require("loadgen.hdfs")

local c = hdfs.client{ url = lg.env("HDFS", "hdfs://127.0.0.1:8020") }
local dir = lg.env("DIR", "/loadgen-example")
local block = gen.string(1024 * 1024)

options = { scenarios = { rw = { executor = "per-vu-iterations", vus = 2, iterations = 20 } } }

function setup() c:mkdirs(dir) end

function default()
  local path = dir .. "/f-" .. lg.vu() .. "-" .. lg.iteration()
  local w = c:write(path, block)
  if w.err then error(w.error) end
  local r = c:read(path)
  lg.check(r, { ["same bytes"] = function(r) return r.data == block end })
end

function teardown()
  local d = c:du(dir)
  print(string.format("%s: %d files, %d bytes", dir, d.files or -1, d.bytes or -1))
  c:delete(dir, { recursive = true })
end

-- What the servers under test spend: CPU seconds and resident memory of the processes named in
-- SERVER_PIDS (comma-separated; scripts/suite/evaluate.sh passes the store's processes) and of
-- OTHER_PIDS (the stores not under test, to show they stayed idle). Read from /proc (Linux).
local lg = require("loadgen")

local M = {}
local tick = tonumber(lg.env("CLK_TCK", "100"))

local function pids(list)
  local out = {}
  for p in (list or ""):gmatch("%d+") do out[#out + 1] = p end
  return out
end
M.server = pids(lg.env("SERVER_PIDS", ""))
M.others = pids(lg.env("OTHER_PIDS", ""))

-- CPU seconds (user + system, the process and its reaped children) summed over the processes.
function M.cpu(list)
  local total = 0
  for _, p in ipairs(list) do
    local f = io.open("/proc/" .. p .. "/stat")
    if f then
      local line = f:read("*l") or ""
      f:close()
      -- Fields after the command name (which may hold spaces) start at the state, field 3.
      local rest = line:match("%) (.*)$") or ""
      local fields = {}
      for w in rest:gmatch("%S+") do fields[#fields + 1] = w end
      -- utime, stime, cutime, cstime are fields 14-17, so 12-15 counted from the state.
      for i = 12, 15 do total = total + (tonumber(fields[i]) or 0) end
    end
  end
  return total / tick
end

-- Resident set size in MiB summed over the processes.
function M.rss_mib(list)
  local kib = 0
  for _, p in ipairs(list) do
    local f = io.open("/proc/" .. p .. "/status")
    if f then
      local text = f:read("*a") or ""
      f:close()
      kib = kib + (tonumber(text:match("VmRSS:%s*(%d+)")) or 0)
    end
  end
  return kib / 1024
end

-- Gauges for one phase: call start() in setup, sample() now and then, finish() in teardown.
local g = {
  cpu = lg.gauge("server_cpu_s"), rss = lg.trend("server_rss_mib"), others = lg.gauge("others_cpu_s"),
}
function M.start() return { cpu = M.cpu(M.server), others = M.cpu(M.others) } end
function M.sample() if #M.server > 0 then g.rss:add(M.rss_mib(M.server)) end end
function M.finish(t0)
  M.sample()
  if #M.server > 0 then g.cpu:set(M.cpu(M.server) - t0.cpu) end
  if #M.others > 0 then g.others:set(M.cpu(M.others) - t0.others) end
end

return M

-- The store evaluation's data set and queries, store-neutral: the time base, the windows, the
-- parameters of each query (fixed ones for the validated first run, drawn ones for the hot runs), and
-- the rules for comparing answers. scripts/suite/stores.lua says each query in each store's language.
local gen = require("loadgen.gen")

local M = {}

M.BASE = 1767225600000        -- 2026-01-01T00:00:00Z in epoch ms; divisible by an hour
M.HOUR = 3600000
M.SPAN = 24 * M.HOUR          -- the data covers one day
M.BUCKET = 300000             -- the dashboard histogram's bucket: 5 minutes

-- An event's fields as Elasticsearch maps them (the evaluation's index and the ingest pipeline's).
M.ES_PROPERTIES = {
  ts = { type = "date", format = "epoch_millis" }, host = { type = "keyword" },
  service = { type = "keyword" }, level = { type = "keyword" }, status = { type = "integer" },
  latency_ms = { type = "double" }, bytes = { type = "long" }, trace_id = { type = "keyword" },
  message = { type = "text" },
}

-- Event i of n (1-based): spread evenly over the day, in order.
function M.ts_of(i, n) return M.BASE + (i - 1) * M.SPAN // n end
-- Hive's partition of a timestamp: epoch hours.
function M.hour_of(ts) return ts // M.HOUR end

-- The queries, in their canonical order. Each has:
--   fixed(n, data): the parameters of the validated run; draw(n, data): parameters for a hot run;
--   cols: the answer's value columns; tol: per column, { rel, abs } (nil: exact).
-- Every answer is a map key -> list of values (numbers or strings), one list per answer row.
local last = 23                                  -- "the last hour" is the day's final hour
local function hour_window(h) return { from = M.BASE + h * M.HOUR, to = M.BASE + (h + 1) * M.HOUR } end

M.queries = {
  { name = "count_by_status",
    doc = "events per HTTP status in a two-hour window",
    fixed = function() return { from = M.BASE + 6 * M.HOUR, to = M.BASE + 8 * M.HOUR } end,
    draw = function() local h = gen.int(0, 22); return { from = M.BASE + h * M.HOUR, to = M.BASE + (h + 2) * M.HOUR } end,
    cols = { "count" } },
  { name = "errors_per_service",
    doc = "ERROR events per service over the whole day",
    fixed = function() return {} end, draw = function() return {} end,
    cols = { "count" } },
  { name = "latency_by_service",
    doc = "count, mean and p50/p95/p99 latency per service in the last hour",
    fixed = function() return hour_window(last) end, draw = function() return hour_window(last) end,
    cols = { "count", "avg", "p50", "p95", "p99" },
    -- Phoenix's AVG is a DECIMAL rounded to 4 places. The percentiles are computed three ways (ES: a
    -- t-digest, Hive: percentile_approx, Phoenix: PERCENTILE_CONT, which interpolates), so they are not
    -- compared with each other but each checked by rank against the events themselves: a p-th
    -- percentile v passes when the share of the group's latencies below v is at most p + e and the
    -- share at or below v at least p - e, with e = 0.01 + 2/n for a group of n values (two ranks
    -- for interpolating between neighbours; rank_check).
    tol = { nil, { 1e-9, 1e-4 } }, rank = { [3] = 0.50, [4] = 0.95, [5] = 0.99 }, rank_eps = 0.01 },
  { name = "top_slowest",
    doc = "the 10 slowest requests of the last hour (latencies, slowest first)",
    fixed = function() return hour_window(last) end, draw = function() return hour_window(last) end,
    cols = { "latency_ms" } },
  { name = "trace_lookup",
    doc = "every event of one trace id",
    fixed = function(n, data) return { trace = data[n // 2 + 1][8] } end,
    draw = function(n, data) return { trace = data[gen.int(1, n)][8] } end,
    cols = { "ts", "host", "service", "level", "status", "latency_ms", "bytes", "message" } },
  { name = "range_scan",
    doc = "the checkout service's 5xx events in a 10-minute window (rows fetched)",
    fixed = function() local f = M.BASE + 12 * M.HOUR; return { from = f, to = f + 600000, service = "checkout" } end,
    draw = function()
      local f = M.BASE + gen.int(0, 143) * 600000
      return { from = f, to = f + 600000, service = gen.choice({ "checkout", "search", "auth", "payments", "catalog", "gateway" }) }
    end,
    cols = { "rows", "sum_bytes", "id_checksum" } },
  { name = "fulltext",
    doc = "events whose message has both words, over the whole day",
    fixed = function() return { a = "kernel", b = "ledger" } end,
    draw = function() return { a = gen.word(), b = gen.word() } end,
    cols = { "count" } },
  { name = "histogram",
    doc = "events per 5 minutes in the last hour (a dashboard panel)",
    fixed = function() return hour_window(last) end, draw = function() return hour_window(last) end,
    cols = { "count" } },
}
M.by_name = {}
for i, q in ipairs(M.queries) do q.index = i; M.by_name[q.name] = q end

-- A checksum of a set of trace ids that does not depend on their order: the sum of each id's first
-- 12 hex digits, modulo 2^40.
function M.id_checksum(ids)
  local s = 0
  for _, id in ipairs(ids) do s = (s + tonumber(id:gsub("-", ""):sub(1, 12), 16)) % (1 << 40) end
  return s
end

-- Compares answer b with the reference a under the query's tolerances (rank-checked columns are left
-- to rank_check); returns nil or a reason.
local function differs(q, k, c, x, y)
  if q.rank and q.rank[c] then return nil end
  local t = q.tol and q.tol[c]
  if type(x) == "number" and type(y) == "number" then
    local bound = t and math.max(t[1] * math.abs(x), t[2]) or 0
    if math.abs(x - y) > bound then
      return string.format("%s %s: %s vs %s (allowed %s)", k, q.cols[c], tostring(x), tostring(y), tostring(bound))
    end
  elseif tostring(x) ~= tostring(y) then
    return string.format("%s %s: %s vs %s", k, q.cols[c], tostring(x), tostring(y))
  end
  return nil
end

function M.compare(q, a, b)
  for k, va in pairs(a) do
    local vb = b[k]
    if vb == nil then return string.format("key %s missing", k) end
    for c = 1, #q.cols do
      local why = differs(q, k, c, va[c], vb[c])
      if why then return why end
    end
  end
  for k in pairs(b) do if a[k] == nil then return string.format("key %s not expected", k) end end
  return nil
end

-- Checks each rank-checked column of an answer against the events (data, n rows): the group's values
-- are the latencies of the rows of that key inside the query's window. Returns nil or a reason.
function M.rank_check(q, answer, p, data, n)
  if not q.rank then return nil end
  local groups = {}
  for i = 1, n do
    local r = data[i]
    local ts = tonumber(r[1])
    if ts >= p.from and ts < p.to then
      local g = groups[r[3]] or {}
      g[#g + 1] = tonumber(r[6])
      groups[r[3]] = g
    end
  end
  for key, vals in pairs(answer) do
    local g = groups[key]
    if not g then return "group " .. key .. " is not in the data" end
    for c, pct in pairs(q.rank) do
      local v = vals[c]
      local below, at = 0, 0
      for _, x in ipairs(g) do
        if x < v then below = below + 1 end
        if x <= v then at = at + 1 end
      end
      local e = q.rank_eps + 2 / #g
      if below / #g > pct + e or at / #g < pct - e then
        return string.format("%s %s = %s ranks %.4f-%.4f among %d values, not %.2f +/- %.4f",
          key, q.cols[c], tostring(v), below / #g, at / #g, #g, pct, e)
      end
    end
  end
  return nil
end

return M

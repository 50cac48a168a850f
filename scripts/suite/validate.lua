-- The store evaluation's answer check: the cold runs' answers of every store (ANSWERS = a folder with
-- answers-<store>.json) compared query by query with the first store's, under each query's tolerance
-- (events.lua), approximate percentiles by their rank among the events themselves (DATA). Each comparison is a check (tags query, store); a mismatch or a missing answer fails
-- the run (exit 99) and is printed.
--   loadgen run scripts/suite/validate.lua -e ANSWERS=dir -e DATA=events.tsv -e STORES="elasticsearch hive phoenix"
local lg = require("loadgen")
local gen = require("loadgen.gen")
local events = require("events")
local data = gen.csv(lg.env("DATA", "/tmp/loadgen-events.tsv"), { header = false, separator = "\t" })

local dir = lg.env("ANSWERS", ".")
local list = {}
for st in lg.env("STORES", "elasticsearch hive phoenix"):gmatch("%S+") do list[#list + 1] = st end

options = { iterations = 1, vus = 1, thresholds = { checks = { "rate == 1" } } }

local function load(st)
  local f = io.open(dir .. "/answers-" .. st .. ".json")
  if not f then return nil end
  local t = lg.json_decode(f:read("*a"))
  f:close()
  return t
end

function default()
  local ref_name = list[1]
  local ref = load(ref_name)
  local bad = 0
  for _, q in ipairs(events.queries) do
    local ra = ref and ref.queries[q.name]
    for i = 2, #list do
      local other = load(list[i])
      local oa = other and other.queries[q.name]
      local why
      if not ra or ra.error then why = ref_name .. " has no answer"
      elseif not oa or oa.error then why = list[i] .. " has no answer"
      elseif ref.rows ~= other.rows then why = string.format("row counts differ: %d vs %d", ref.rows, other.rows)
      elseif next(ra.answer) == nil then why = ref_name .. "'s answer is empty"
      else
        why = events.compare(q, ra.answer, oa.answer)
          or events.rank_check(q, oa.answer, oa.params, data, #data)
          or (i == 2 and events.rank_check(q, ra.answer, ra.params, data, #data) or nil)
      end
      lg.check(why, { ["same answer"] = function(w) return w == nil end }, { query = q.name, store = list[i] })
      if why then
        bad = bad + 1
        print(string.format("MISMATCH %-20s %s vs %s: %s", q.name, list[i], ref_name, why))
      else
        print(string.format("same     %-20s %s = %s", q.name, list[i], ref_name))
      end
    end
  end
  local total = #events.queries * (#list - 1)
  print(string.format("validation: %d passed, %d failed", total - bad, bad))
end

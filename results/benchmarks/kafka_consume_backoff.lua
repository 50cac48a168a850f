local lg = require("loadgen")
local kafka = require("loadgen.kafka")
local records = tonumber(lg.env("RECORDS"))
local extra = lg.json_decode(lg.env("EXTRA", "{}"))
local c = kafka.consumer{ brokers = "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096",
  group = lg.env("GROUP"), topics = { lg.env("TOPIC") }, from = "earliest", config = extra }
options = { scenarios = { consume = { executor = "shared-iterations", vus = 1, iterations = 1, max_duration = "10m" } } }
function default()
  local n, idle, polls = 0, 0, 0
  local t0 = lg.now()
  while n < records and idle < 30 do
    local r = c:poll("1s", 500)
    polls = polls + 1
    if #r == 0 then idle = idle + 1 end
    n = n + #r
  end
  print(string.format("consume_ms %.0f records %d polls %d", lg.now() - t0, n, polls))
end

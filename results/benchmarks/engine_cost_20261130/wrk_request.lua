-- wrk with a Lua request() per request (equivalent of loadgen's Lua iteration).
request = function()
  return wrk.format("GET", "/1k")
end

-- Drops the evaluation's table from one store: loadgen run scripts/suite/drop.lua -e STORE=... -e NAME=...
local lg = require("loadgen")
local stores = require("stores")
local s = stores.open(lg.env("STORE", "elasticsearch"), lg.env("NAME", "lg_events"))
options = { iterations = 1, vus = 1 }
function default() end
function teardown() s.drop() end

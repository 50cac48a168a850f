//! `loadgen.phoenix` against the real Phoenix Query Server of `scripts/stack`, and its wire encoding
//! against exchanges between Avatica's own Java client and that server (tests/fixtures/phoenix, no
//! server needed; tests/phoenix/fixtures.rs).
//!
//! Every server test runs twice, once per serialization: the stack's Query Server answers protobuf on
//! 127.0.0.1:8765 (as the released server) and JSON on 127.0.0.1:8766 (two listeners over the same
//! Phoenix), and one test
//! reads the same rows through both and compares them value by value.

mod common;

use common::stack::{require_phoenix, PHOENIX, PHOENIX_JSON};
use common::*;
use std::time::{Duration, Instant};

/// The stack's Query Server URL for a serialization ("json" or "protobuf"); fails naming the server
/// when it is not listening.
fn server(ser: &str) -> String {
    require_phoenix(ser);
    match ser {
        "json" => PHOENIX_JSON.to_string(),
        _ => PHOENIX.to_string(),
    }
}

/// Two tests, `json` and `protobuf`, in a module named after the test body `$body(ser)`.
macro_rules! both_serializations {
    ($name:ident, $body:ident) => {
        mod $name {
            #[test]
            fn json() {
                super::$body("json");
            }
            #[test]
            fn protobuf() {
                super::$body("protobuf");
            }
        }
    };
}

/// A table name no earlier run used (Phoenix identifiers: letters, digits, underscores).
fn table(prefix: &str) -> String {
    format!(
        "LG_{prefix}_{}_{}",
        std::process::id(),
        loadgen::epoch_micros()
    )
}

fn run_against(case: &Case, table: &str, ser: &str) -> std::process::Output {
    let url = server(ser);
    case.run(&[
        "-e",
        &format!("URL={url}"),
        "-e",
        &format!("SER={ser}"),
        "-e",
        &format!("TABLE={table}"),
    ])
}

both_serializations!(
    upsert_ten_thousand_rows_in_batches_then_count_lookups_and_scans,
    upsert_count_lookups_and_scans
);
fn upsert_count_lookups_and_scans(ser: &str) {
    let t = table("LOAD");
    let case = Case::new(
        r#"
local lg = require("loadgen")
local phoenix = require("loadgen.phoenix")
local c = phoenix.connect{ url = lg.env("URL"), serialization = lg.env("SER"), timeout = "60s" }
local tbl = lg.env("TABLE")
local BASE = 9007199254740993 -- 2^53 + 1: keys a double cannot hold
options = {
  scenarios = { load = { executor = "per-vu-iterations", vus = 4, iterations = 25 } },
  thresholds = { checks = { "rate == 1" } },
}
local up = c:prepare("UPSERT INTO " .. tbl .. " (K, N, W) VALUES (?, ?, ?)")
function setup()
  local r = c:execute("CREATE TABLE " .. tbl .. " (K BIGINT NOT NULL PRIMARY KEY, N INTEGER, W VARCHAR)")
  assert(r.err == nil, r.error)
end
function default()
  local first = ((lg.vu() - 1) * 25 + (lg.iteration() - 1)) * 100
  local rows = {}
  for i = 1, 100 do
    local n = first + i - 1
    rows[i] = { BASE + n, n, "w" .. n }
  end
  local r = up:execute_batch(rows)
  lg.check(r, { ["batch of 100"] = function(r) return r.err == nil and r.count == 100 and r.updated == 100 end })
  if r.err then print(r.error) end
end
function teardown()
  local n = c:query("SELECT COUNT(*) FROM " .. tbl)
  lg.check(n, { ["count is 10000"] = function(n) return n.err == nil and n.rows[1][1] == 10000 end })
  local get = c:prepare("SELECT K, N, W FROM " .. tbl .. " WHERE K = ?")
  for _, k in ipairs({ 0, 1, 4242, 9999 }) do
    local r = get:query({ BASE + k })
    lg.check(r, { ["lookup " .. k] = function(r)
      return r.count == 1 and r.rows[1][1] == BASE + k and math.type(r.rows[1][1]) == "integer"
        and r.rows[1][2] == k and r.rows[1][3] == "w" .. k
    end })
  end
  local miss = get:query({ BASE - 1 })
  lg.check(miss, { ["missing key: no rows, no error"] = function(r) return r.err == nil and r.count == 0 end })
  local scan = c:query("SELECT K, N FROM " .. tbl .. " WHERE K >= ? AND K < ? ORDER BY K", { BASE + 5000, BASE + 5250 })
  lg.check(scan, { ["range scan"] = function(r)
    if r.count ~= 250 then return false end
    for i, row in ipairs(r.rows) do
      if row[1] ~= BASE + 4999 + i or row[2] ~= 4999 + i then return false end
    end
    return true
  end })
  -- 10,000 rows come in frames of 1,000 (the default fetch_size).
  local all = c:query("SELECT K, N FROM " .. tbl)
  lg.check(all, { ["full scan"] = function(r)
    if r.count ~= 10000 then return false end
    local sum = 0
    for _, row in ipairs(r.rows) do sum = sum + row[2] end
    return sum == 9999 * 10000 // 2
  end })
  local lit = c:query("SELECT W FROM " .. tbl .. " WHERE K = " .. (BASE + 7))
  lg.check(lit, { ["literal lookup"] = function(r) return r.count == 1 and r.rows[1][1] == "w7" end })
  c:execute("DROP TABLE " .. tbl)
end
"#,
    );
    let started = Instant::now();
    let o = run_against(&case, &t, ser);
    let took = started.elapsed();
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let r = case.result();
    assert_valid(&r);
    let ex = &r["metrics"]["phoenix.execute"];
    // CREATE, 100 batches, DROP.
    assert_eq!(ex["count"], 102, "{}", stdout(&o));
    assert_eq!(ex["units"]["rows"], 10000);
    assert_eq!(ex["errors"].as_object().map_or(0, |e| e.len()), 0);
    let q = &r["metrics"]["phoenix.query"];
    // COUNT, 4 lookups, a missing key, scan, full scan, literal lookup: 1 + 4 + 0 + 250 + 10000 + 1 rows.
    assert_eq!(q["count"], 9);
    assert_eq!(q["units"]["rows"], 10256);
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{}", stdout(&o));
    eprintln!(
        "phoenix ({ser}): 10,000 rows upserted in 100 batches by 4 VUs and read back in {:.1}s; execute p50 {} ms",
        took.as_secs_f64(),
        ex["latency"]["p50"]
    );
}

both_serializations!(
    every_type_round_trips_with_and_without_parameters,
    every_type_round_trips
);
fn every_type_round_trips(ser: &str) {
    let t = table("TYPES");
    let case = Case::new(
        r#"
local lg = require("loadgen")
local phoenix = require("loadgen.phoenix")
local c = phoenix.connect{ url = lg.env("URL"), serialization = lg.env("SER"), fetch_size = 2 }
local tbl = lg.env("TABLE")
options = { thresholds = { checks = { "rate == 1" } } }

local cols = "K, I, S, T, D, F, DEC, V, C, B, DT, TM, TS, VB"
local rows = {
  { 9007199254740993, 2147483647, 32767, 127, 0.1, 1.5, "12345678901234.56789", "héllo ✓ 日本 😀", "abcde", true,
    19000, 45296789, 1700000000123, "\0\1\2\255" },
  { math.mininteger, -2147483648, -32768, -128, -1e300, -0.25, "-0.00001", "x", "a", false, -1, 0, -1000, "\255" },
  { math.maxinteger },
}
-- What each row reads back as (nil = NULL; DECIMAL as exact text; DATE days, TIME and TIMESTAMP ms).
local expect = {
  [9007199254740993] = rows[1],
  [math.mininteger] = rows[2],
  [math.maxinteger] = { math.maxinteger },
  [42] = { 42, 7, 8, 9, 2.5, 2.0, "7", "text", "y", false, 19000, 45296789, 1700000000123, "raw" },
}

local function same(a, b)
  if math.type(a) ~= math.type(b) or type(a) ~= type(b) then return false end
  return a == b
end

local function check_rows(label, r)
  local ok = r.err == nil and r.count == 4
  if not ok then print(label, r.err, r.error, r.count) end
  for _, row in ipairs(r.rows or {}) do
    local want = expect[row[1]]
    for j = 1, 14 do
      local got, w = row[j], want and want[j]
      if j == 7 and w ~= nil and got ~= nil then
        -- DECIMAL: exact text; the server may write it with its scale (7 -> 7.00000).
        if tonumber(got) ~= tonumber(w) or type(got) ~= "string" then ok = false end
        if w == "12345678901234.56789" and got ~= w then ok = false end
      elseif not same(got, w) then
        ok = false
        print(label, "row", row[1], "column", r.columns[j], "got", math.type(got) or type(got), got, "want", w)
      end
    end
  end
  return ok
end

function default()
  local r = c:execute("CREATE TABLE " .. tbl .. " (K BIGINT NOT NULL PRIMARY KEY, I INTEGER, S SMALLINT, T TINYINT, D DOUBLE, F FLOAT, DEC DECIMAL(20,5), V VARCHAR, C CHAR(5), B BOOLEAN, DT DATE, TM TIME, TS TIMESTAMP, VB VARBINARY)")
  assert(r.err == nil, r.error)
  local up = c:prepare("UPSERT INTO " .. tbl .. " (" .. cols .. ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
  for _, row in ipairs(rows) do
    local u = up:execute(row)
    lg.check(u, { ["upsert"] = function(u) return u.err == nil and u.update_count == 1 end })
    if u.err then print(u.error) end
  end
  -- Dates, times and timestamps as text, DECIMAL from an integer, numbers where integers go.
  local u = up:execute({ 42, 7, 8.0, 9, 2.5, 2, 7, "text", "y", false, "2022-01-08", "12:34:56.789",
                         "2023-11-14T22:13:20.123Z", "raw" })
  lg.check(u, { ["upsert from text"] = function(u) return u.err == nil end })
  if u.err then print(u.error) end

  local lit = c:query("SELECT " .. cols .. " FROM " .. tbl .. " ORDER BY K")
  lg.check(lit, { ["read back without parameters"] = function(r) return check_rows("literal", r) end })
  local prep = c:query("SELECT " .. cols .. " FROM " .. tbl .. " WHERE K <> ? ORDER BY K", { 0 })
  lg.check(prep, { ["read back with parameters"] = function(r) return check_rows("prepared", r) end })
  lg.check(lit, { ["column names and types"] = function(r)
    return r.columns[1] == "K" and r.columns[14] == "VB" and r.types[1] == "BIGINT" and r.types[7] == "DECIMAL"
      and r.types[13] == "TIMESTAMP"
  end })
  local one = c:query("SELECT V, VB FROM " .. tbl .. " WHERE K = ?", { 9007199254740993 })
  lg.check(one, { ["bytes and text exact"] = function(r)
    return r.rows[1][1] == "héllo ✓ 日本 😀" and #r.rows[1][2] == 4 and r.rows[1][2]:byte(4) == 255
  end })
  -- Parameters that do not fit are refused before anything is sent.
  local bad = up:execute({ 1, 1, 1, 300 })
  lg.check(bad, { ["out of range"] = function(b) return b.err == "client" and b.error:find("out of range", 1, true) ~= nil end })
  local many = c:query("SELECT K FROM " .. tbl .. " WHERE K = ?", { 1, 2 })
  lg.check(many, { ["too many parameters"] = function(b) return b.err == "client" end })
  c:execute("DROP TABLE " .. tbl)
end
"#,
    );
    let o = run_against(&case, &t, ser);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{}", stdout(&o));
    // fetch_size = 2: 4 rows in 2 frames; the first execute and query prepare once each.
    assert!(r["metrics"]["phoenix.prepare"]["count"].as_u64().unwrap() >= 2);
}

both_serializations!(
    sql_errors_carry_the_server_message_and_sql_state_and_never_raise,
    sql_errors
);
fn sql_errors(ser: &str) {
    let url = server(ser);
    let other = if ser == "json" { "protobuf" } else { "json" };
    let case = Case::new(&format!(
        r#"
local lg = require("loadgen")
local phoenix = require("loadgen.phoenix")
local c = phoenix.connect{{ url = "{url}", serialization = "{ser}" }}
local wrong = phoenix.connect{{ url = "{url}", serialization = "{other}", healthcheck = false }}
options = {{ thresholds = {{ checks = {{ "rate == 1" }} }} }}
function default()
  local r = c:query("SELECT * FROM LG_NO_SUCH_TABLE")
  lg.check(r, {{ ["unknown table"] = function(r)
    return r.err == "client" and r.error:find("42M03", 1, true) ~= nil and r.error:find("Table undefined", 1, true) ~= nil
  end }})
  local s = c:execute("SELEC 1")
  lg.check(s, {{ ["syntax error"] = function(r) return r.err == "client" and r.error:find("42P00", 1, true) ~= nil end }})
  local p = c:prepare("SELECT * FROM LG_NO_SUCH_TABLE WHERE K = ?"):query({{ 1 }})
  lg.check(p, {{ ["prepare fails as a result"] = function(r) return r.err == "client" and r.error:find("42M03", 1, true) ~= nil end }})
  local w = wrong:query("SELECT 1")
  lg.check(w, {{ ["other serialization"] = function(r)
    return r.err == "protocol" and r.error:find('set serialization = "{ser}"', 1, true) ~= nil
  end }})
  print(r.error)
  print(w.error)
end
"#
    ));
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let r = case.result();
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{}", stdout(&o));
    assert_eq!(r["metrics"]["phoenix.query"]["errors"]["client"], 1);
    // The wrong serialization fails when the connection opens.
    assert_eq!(r["metrics"]["phoenix.connect"]["errors"]["protocol"], 1);
    assert_eq!(r["metrics"]["phoenix.execute"]["errors"]["client"], 1);
    assert_eq!(r["metrics"]["phoenix.prepare"]["errors"]["client"], 1);
}

/// A connection the Query Server no longer knows (its cache drops connections idle for 10 minutes;
/// here it is closed behind the binding's back) is opened again on the next call, which succeeds:
/// both when the next call uses a statement of the closed connection (Phoenix: SQLSTATE XCL11) and
/// when it needs a new one (Avatica: `NoSuchConnectionException`, named only in the exception's
/// trace). Before the fix the binding got an empty `server` error on every later call (seen at 10M
/// events, after a 27-minute load, as the load's failed row count). With autocommit off, a lost
/// connection that held uncommitted rows is not silently replaced: the next commit fails and says
/// so (the Query Server still accepts an UPSERT through a prepared statement of the closed
/// connection, so the statement itself cannot tell), and nothing half-done is committed.
#[test]
fn a_connection_the_server_dropped_is_opened_again() {
    let url = server("json");
    let case = Case::new(
        r#"
local lg = require("loadgen")
local http = require("loadgen.http")
local phoenix = require("loadgen.phoenix")
local url = lg.env("URL")
local tbl = lg.env("TABLE")
local c = phoenix.connect{ url = url, serialization = "json" }
local d = phoenix.connect{ url = url, serialization = "json", autocommit = false }
options = { iterations = 1, thresholds = { checks = { "rate == 1" } } }
local function drop(conn)
  local r = http.post(url, { request = "closeConnection", connectionId = conn:id() })
  return r.status == 200 and r.body:find("closeConnection", 1, true) ~= nil
end
local function say(r) if r.err then print(r.err, r.error) end return r end
function default()
  local sql = "SELECT COUNT(*) FROM SYSTEM.CATALOG"
  local before = say(c:query(sql))
  local dropped1 = drop(c)
  local same_statement = say(c:query(sql))
  local dropped2 = drop(c)
  local new_statement = say(c:query(sql .. " WHERE 1 = ?", { 1 }))
  assert(c:execute("CREATE TABLE " .. tbl .. " (K BIGINT NOT NULL PRIMARY KEY)").err == nil)
  local up = "UPSERT INTO " .. tbl .. " (K) VALUES (?)"
  local first = say(d:execute(up, { 1 }))
  local dropped3 = drop(d)
  say(d:execute(up, { 2 }))
  local commit = say(d:commit())
  local third = say(d:execute(up, { 3 }))
  local commit2 = say(d:commit())
  local keys = say(c:query("SELECT K FROM " .. tbl .. " ORDER BY K"))
  c:execute("DROP TABLE " .. tbl)
  lg.check(before, {
    ["first query ok"] = function() return before.err == nil end,
    ["closed behind its back"] = function() return dropped1 and dropped2 and dropped3 end,
    ["same statement after the close ok"] = function()
      return same_statement.err == nil and same_statement.rows[1][1] == before.rows[1][1]
    end,
    ["new statement after the close ok"] = function()
      return new_statement.err == nil and new_statement.rows[1][1] == before.rows[1][1]
    end,
    ["rows before the loss were accepted"] = function() return first.err == nil end,
    ["uncommitted rows: the commit fails and says why"] = function()
      return commit.err == "server" and commit.error:find("uncommitted", 1, true) ~= nil
    end,
    ["then a new transaction commits"] = function() return third.err == nil and commit2.err == nil end,
    ["only the new transaction's row is there"] = function()
      return keys.err == nil and #keys.rows == 1 and keys.rows[1][1] == 3
    end,
  })
end
"#,
    );
    let o = case.run(&[
        "-e",
        &format!("URL={url}"),
        "-e",
        &format!("TABLE={}", table("LOST")),
    ]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let r = case.result();
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{}", stdout(&o));
}

/// The connection docs/scripting.md documents, with every default (protobuf on port 8765, as the
/// released Query Server serves it), works against the stack. (Issue 12, bug 6: the stack served JSON on
/// 8765, so this connection failed every call with a `protocol` error.)
#[test]
fn the_documented_default_connection_works() {
    require_phoenix("protobuf");
    let case = Case::new(
        "local lg = require('loadgen')\nlocal phoenix = require('loadgen.phoenix')\nlocal c = phoenix.connect{}\noptions = { iterations = 2, thresholds = { checks = { 'rate == 1' } } }\nfunction default()\n  local r = c:query('SELECT COUNT(*) FROM SYSTEM.CATALOG')\n  lg.check(r, { ['rows counted'] = function(r) return r.err == nil and r.rows[1][1] > 0 end })\nend\n",
    );
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let r = case.result();
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{}", stdout(&o));
}

/// The other serialization than the listener's is named at the health check, before any load (exit 4),
/// in both directions.
#[test]
fn a_serialization_mismatch_is_named_at_the_health_check() {
    for (ser, other) in [("json", "protobuf"), ("protobuf", "json")] {
        let url = server(ser);
        let case = Case::new(&format!(
            "local phoenix = require('loadgen.phoenix')\nlocal c = phoenix.connect{{ url = '{url}', serialization = '{other}' }}\nfunction default() c:query('SELECT 1') end\n"
        ));
        let o = case.run(&[]);
        assert_eq!(code(&o), 4, "{}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("answered in {ser}, not {other}"))
                && stderr(&o).contains(&format!("set serialization = \"{ser}\"")),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn json_and_protobuf_give_the_same_answers() {
    let (json, protobuf) = (server("json"), server("protobuf"));
    let t = table("BOTH");
    let case = Case::new(
        r#"
local lg = require("loadgen")
local phoenix = require("loadgen.phoenix")
local j = phoenix.connect{ url = lg.env("JSON"), serialization = "json", fetch_size = 2 }
local p = phoenix.connect{ url = lg.env("PROTOBUF"), serialization = "protobuf", fetch_size = 2 }
local tbl = lg.env("TABLE")
options = { thresholds = { checks = { "rate == 1" } } }
local cols = "K, I, S, T, D, F, DEC, V, C, B, DT, TM, TS, VB"

local function differences(a, b)
  local out = {}
  if a.err or b.err then return { "errors: " .. tostring(a.error) .. " / " .. tostring(b.error) } end
  if a.count ~= b.count then out[#out + 1] = "count " .. a.count .. " vs " .. b.count end
  for c = 1, #a.columns do
    if a.columns[c] ~= b.columns[c] or a.types[c] ~= b.types[c] then
      out[#out + 1] = "column " .. c .. ": " .. a.columns[c] .. " " .. a.types[c] .. " vs " .. tostring(b.columns[c]) .. " " .. tostring(b.types[c])
    end
  end
  for i, row in ipairs(a.rows) do
    for c = 1, #a.columns do
      local x, y = row[c], b.rows[i] and b.rows[i][c]
      if type(x) ~= type(y) or math.type(x) ~= math.type(y) or x ~= y then
        out[#out + 1] = string.format("row %d %s: %s %s vs %s %s", i, a.columns[c],
          math.type(x) or type(x), tostring(x), math.type(y) or type(y), tostring(y))
      end
    end
  end
  return out
end

local function agree(label, a, b)
  local d = differences(a, b)
  for _, line in ipairs(d) do print(label, line) end
  lg.check(d, { [label .. ": same answers"] = function(d) return #d == 0 and a.count == 4 end })
end

function default()
  assert(j:execute("CREATE TABLE " .. tbl .. " (K BIGINT NOT NULL PRIMARY KEY, I INTEGER, S SMALLINT, T TINYINT, D DOUBLE, F FLOAT, DEC DECIMAL(20,5), V VARCHAR, C CHAR(5), B BOOLEAN, DT DATE, TM TIME, TS TIMESTAMP, VB VARBINARY)").err == nil)
  local sql = "UPSERT INTO " .. tbl .. " (" .. cols .. ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
  -- Written half through each listener.
  local r = p:prepare(sql):execute_batch({
    { 9007199254740993, 2147483647, 32767, 127, 0.1, 1.5, "12345678901234.56789", "héllo ✓ 日本 😀", "abcde", true,
      19000, 45296789, 1700000000123, "\0\1\2\255" },
    { math.mininteger, -2147483648, -32768, -128, -1e300, -0.25, "-0.00001", "x", "a", false, -1, 0, -1000, "\255" },
  })
  lg.check(r, { ["batch through protobuf"] = function(r) return r.err == nil and r.updated == 2 end })
  local w = j:prepare(sql)
  lg.check(w:execute({ math.maxinteger }), { ["nulls through json"] = function(r) return r.err == nil end })
  lg.check(w:execute({ 42, 7, 8, 9, 2.5, 2, 7, "text", "y", false, "2022-01-08", "12:34:56.789", "2023-11-14T22:13:20.123Z", "raw" }),
    { ["text values through json"] = function(r) return r.err == nil end })

  local q = "SELECT " .. cols .. " FROM " .. tbl .. " ORDER BY K"
  agree("literal", j:query(q), p:query(q))
  local pq = "SELECT " .. cols .. " FROM " .. tbl .. " WHERE K <> ? ORDER BY K"
  agree("parameters", j:query(pq, { 0 }), p:query(pq, { 0 }))
  agree("prepared", j:prepare(pq):query({ 0 }), p:prepare(pq):query({ 0 }))
  j:execute("DROP TABLE " .. tbl)
end
"#,
    );
    let o = case.run(&[
        "-e",
        &format!("JSON={json}"),
        "-e",
        &format!("PROTOBUF={protobuf}"),
        "-e",
        &format!("TABLE={t}"),
    ]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{}", stdout(&o));
    // 3 writes + 3 comparisons, each a check that has to pass.
    assert_eq!(r["metrics"]["checks"]["count"], 6, "{}", stdout(&o));
}

/// A TCP server on 127.0.0.1 that accepts and then either never answers or answers with bytes that
/// are not HTTP.
fn raw_server(answer: Option<&'static [u8]>) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            if let Some(a) = answer {
                use std::io::Write;
                let _ = s.write_all(a);
            } else {
                held.push(s);
            }
        }
    });
    port
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Runs one query against `url`, first with the health check (must stop the run with exit 4 naming
/// the address), then without it (the query must fail with `kind`). Both within a few seconds.
fn fails_fast(url: &str, kind: &str, message: &str) {
    let started = Instant::now();
    let case = Case::new(&format!(
        "local phoenix = require('loadgen.phoenix')\nlocal c = phoenix.connect{{ url = '{url}', serialization = 'json', timeout = '2s' }}\nfunction default() c:query('SELECT 1') end\n"
    ));
    let o = case.run(&[]);
    assert_eq!(code(&o), 4, "{url}: {}", stderr(&o));
    assert!(stderr(&o).contains(url), "{}", stderr(&o));
    assert!(stderr(&o).contains(message), "{url}: {}", stderr(&o));
    assert_eq!(case.result()["status"], "failed");

    let case = Case::new(&format!(
        r#"
local lg = require("loadgen")
local phoenix = require("loadgen.phoenix")
local c = phoenix.connect{{ url = '{url}', serialization = 'protobuf', timeout = '2s', healthcheck = false }}
options = {{ iterations = 2, thresholds = {{ checks = {{ "rate == 1" }} }} }}
function default()
  local r = c:query('SELECT 1')
  lg.check(r, {{ ["fails as {kind}"] = function(r) return r.err == "{kind}" and r.error:find("{url}", 1, true) ~= nil end }})
  print(r.err, r.error)
end
"#
    ));
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{url}: {}\n{}", stdout(&o), stderr(&o));
    let r = case.result();
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{}", stdout(&o));
    assert_eq!(r["metrics"]["phoenix.connect"]["errors"][kind], 2);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(15), "{url}: took {took:?}");
    eprintln!("{url}: {kind} in {took:?} (two runs)");
}

#[test]
fn unreachable_wrong_port_and_wrong_protocol_fail_fast_with_a_clear_kind() {
    // Nothing listens.
    fails_fast(
        &format!("http://127.0.0.1:{}", free_port()),
        "connect",
        "Connection refused",
    );
    // An HTTP server that is not Avatica.
    let http = common::server();
    fails_fast(
        &format!("http://{}", http.addr),
        "protocol",
        "not an Avatica json response",
    );
    // Not HTTP at all.
    fails_fast(
        &format!(
            "http://127.0.0.1:{}",
            raw_server(Some(b"SSH-2.0-OpenSSH_9.6\r\n"))
        ),
        "protocol",
        "phoenix openConnection",
    );
    // Accepts, never answers: the timeout ends it.
    fails_fast(
        &format!("http://127.0.0.1:{}", raw_server(None)),
        "timeout",
        "timeout 2s",
    );
}

#[test]
fn unknown_options_are_errors_that_list_the_valid_keys() {
    let case = Case::new(
        "local phoenix = require('loadgen.phoenix')\nlocal c = phoenix.connect{ url = 'http://127.0.0.1:1', serilization = 'json' }\nfunction default() end\n",
    );
    let o = case.run(&[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("unknown option 'serilization'"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("valid: autocommit, burst, fetch_size, healthcheck, info, max_rows, name, rate_limit, serialization, timeout, url"),
        "{}",
        stderr(&o)
    );
    let case = Case::new(
        "local phoenix = require('loadgen.phoenix')\nlocal c = phoenix.connect{ serialization = 'xml' }\nfunction default() end\n",
    );
    let o = case.run(&[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("expected \"protobuf\" or \"json\""),
        "{}",
        stderr(&o)
    );
}

// ------------------------------------------------------------------ fixtures: captured exchanges

/// Requests and answers of Avatica's own Java client, captured from the stack's server.
#[path = "phoenix/fixtures.rs"]
mod fixtures;

//! `loadgen.hive`: the wire encoding against bytes captured from the real HiveServer2
//! (tests/fixtures/hive, no server needed), then the binding against the HiveServer2 and HDFS of
//! `scripts/stack`.
#![cfg(feature = "hive")]

mod common;

use common::stack::{require_hive, require_hive_http, unique, HDFS, HIVE, HIVE_HTTP};
use common::*;
use loadgen::wire::hive::rowset::{self, Cell};
use loadgen::wire::hive::tcli::{self, Status};
use loadgen::wire::hive::thrift::{self, Value};
use loadgen::wire::hive::transport::{encode_call, reply, sasl_plain_hello};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/hive/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Splits a stream after its SASL prefix into frames (each keeps its 4-byte length).
fn frames(stream: &[u8], sasl_prefix: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut p = sasl_prefix;
    while p < stream.len() {
        let n = i32::from_be_bytes(stream[p..p + 4].try_into().unwrap()) as usize;
        out.push(stream[p..p + 4 + n].to_vec());
        p += 4 + n;
    }
    out
}

/// A captured conversation: the client's frames, and the server's replies decoded.
struct Conversation {
    calls: Vec<Vec<u8>>,
    replies: Vec<thrift::Message>,
}

fn conversation(name: &str) -> Conversation {
    let client = fixture(&format!("{name}.client.bin"));
    let server = fixture(&format!("{name}.server.bin"));
    // Hive's JDBC driver logs in as the OS user with its default password.
    let hello = sasl_plain_hello("root", "anonymous");
    assert_eq!(&client[..hello.len()], &hello[..], "SASL PLAIN negotiation");
    assert_eq!(&server[..5], &[5, 0, 0, 0, 0], "SASL COMPLETE");
    let calls = frames(&client, hello.len());
    let replies = frames(&server, 5)
        .iter()
        .map(|f| {
            let (m, used) = thrift::decode_message(&f[4..]).unwrap();
            assert_eq!(used, f.len() - 4, "one message per frame");
            m
        })
        .collect::<Vec<_>>();
    assert_eq!(calls.len(), replies.len());
    Conversation { calls, replies }
}

impl Conversation {
    /// The success struct of reply `i` (0-based), checked against its call's name and number.
    fn result(&self, i: usize, method: &str) -> Value {
        let m = &self.replies[i];
        let msg = thrift::Message {
            kind: m.kind,
            name: m.name.clone(),
            seq: m.seq,
            body: m.body.clone(),
        };
        reply(method, i as i32 + 1, msg).unwrap()
    }
    /// The request struct of call `i`, decoded.
    fn request(&self, i: usize) -> Value {
        let (m, _) = thrift::decode_message(&self.calls[i][4..]).unwrap();
        m.body.field(1).unwrap().clone()
    }
}

#[test]
fn requests_encode_byte_for_byte_as_hive_jdbc_sends_them() {
    let c = conversation("session");
    let none = BTreeMap::new();
    let open = encode_call("OpenSession", 1, true, |w| {
        let config = BTreeMap::from([("use:database".to_string(), "default".to_string())]);
        tcli::open_session(w, None, &config)
    });
    assert_eq!(open, c.calls[0], "OpenSession");
    let session = c.result(0, "OpenSession").field(3).unwrap().clone();
    let mut op = None;
    for (i, call) in c.calls.iter().enumerate().skip(1) {
        let seq = i as i32 + 1;
        let name = thrift::decode_message(&call[4..]).unwrap().0.name;
        let ours = match name.as_str() {
            "ExecuteStatement" => {
                let sql = c.request(i).field(2).unwrap().text().unwrap();
                op = c.result(i, &name).field(2).cloned();
                encode_call(&name, seq, true, |w| {
                    tcli::execute_statement(w, &session, &sql, &none, 0)
                })
            }
            "GetOperationStatus" => encode_call(&name, seq, true, |w| {
                tcli::get_operation_status(w, op.as_ref().unwrap())
            }),
            "FetchResults" => encode_call(&name, seq, true, |w| {
                tcli::fetch_results(w, op.as_ref().unwrap(), 1000)
            }),
            "GetResultSetMetadata" | "CloseOperation" => encode_call(&name, seq, true, |w| {
                tcli::only_handle(w, op.as_ref().unwrap())
            }),
            "CloseSession" => encode_call(&name, seq, true, |w| tcli::only_handle(w, &session)),
            other => panic!("unexpected call {other}"),
        };
        assert_eq!(ours, *call, "call #{seq} {name}");
    }
}

#[test]
fn replies_decode_into_every_primitive_type_and_nulls() {
    let c = conversation("session");
    let open = c.result(0, "OpenSession");
    assert!(Status::of(&open).ok());
    // The server answers with the protocol it speaks: V10 or later (column-based rows).
    let version = open.field(2).unwrap().i32().unwrap();
    assert!(version >= tcli::PROTOCOL_V10, "{version}");
    let names: Vec<String> = c.replies.iter().map(|m| m.name.clone()).collect();
    let meta = names
        .iter()
        .position(|n| n == "GetResultSetMetadata")
        .unwrap();
    let schema = tcli::schema(&c.result(meta, "GetResultSetMetadata"));
    let types: Vec<&str> = schema.iter().map(|c| c.type_name()).collect();
    assert_eq!(
        types,
        [
            "TINYINT",
            "SMALLINT",
            "INT",
            "BIGINT",
            "FLOAT",
            "DOUBLE",
            "DECIMAL",
            "STRING",
            "VARCHAR",
            "CHAR",
            "BOOLEAN",
            "DATE",
            "TIMESTAMP",
            "BINARY"
        ]
    );
    assert_eq!(schema[0].name, "fx_types.t");
    let fetch = names.iter().position(|n| n == "FetchResults").unwrap();
    let mut first = c.result(fetch, "FetchResults");
    assert!(Status::of(&first).ok());
    let rows = rowset::rows(first.take(3).unwrap(), &schema).unwrap();
    let s = |v: &str| Cell::Str(v.as_bytes().to_vec());
    assert_eq!(
        rows[0],
        [
            Cell::Int(-128),
            Cell::Int(-32768),
            Cell::Int(-2147483648),
            Cell::Int(9007199254740993),
            Cell::Float(1.5),
            Cell::Float(2.25),
            s("12345678.9012"),
            s("grüße ✓"),
            s("vc"),
            s("ch   "),
            Cell::Bool(true),
            s("2024-02-29"),
            s("2024-02-29 12:34:56.789"),
            s("bin"),
        ]
    );
    assert_eq!(rows[1], vec![Cell::Null; 14]);
    assert_eq!(rows.len(), 2);
    // The second fetch is empty: the end of the result set.
    let mut second = c.result(fetch + 1, "FetchResults");
    assert!(rowset::rows(second.take(3).unwrap(), &schema)
        .unwrap()
        .is_empty());
}

#[test]
fn a_compile_error_carries_hive_message_sql_state_and_code() {
    let c = conversation("error");
    let st = Status::of(&c.result(1, "ExecuteStatement"));
    assert!(!st.ok());
    assert_eq!(st.sql_state.as_deref(), Some("42S02"));
    assert_eq!(st.error_code, Some(10001));
    assert!(
        st.message
            .as_deref()
            .unwrap()
            .contains("Table not found 'no_such_table_fx'"),
        "{st:?}"
    );
}

#[test]
fn a_reply_out_of_step_is_a_protocol_error() {
    let c = conversation("error");
    let m = &c.replies[1];
    let msg = thrift::Message {
        kind: m.kind,
        name: m.name.clone(),
        seq: 7,
        body: m.body.clone(),
    };
    let e = reply("ExecuteStatement", 2, msg).unwrap_err();
    assert_eq!(e.kind.as_str(), "protocol");
}

// ---- against the real HiveServer2 ----

fn hive_env(case: &Case, extra: &[(&str, String)]) -> std::process::Output {
    hive_env_over(case, "binary", extra)
}

/// Runs the case against the stack's HiveServer2 over `transport` ("binary" or "http"): the script
/// reads TRANSPORT and HIVE_PORT.
fn hive_env_over(case: &Case, transport: &str, extra: &[(&str, String)]) -> std::process::Output {
    let addr = if transport == "http" { HIVE_HTTP } else { HIVE };
    let mut args = vec![
        "-e".to_string(),
        format!("HIVE_PORT={}", addr.rsplit(':').next().unwrap()),
        "-e".to_string(),
        format!("TRANSPORT={transport}"),
        "-e".to_string(),
        format!("HDFS={HDFS}"),
    ];
    for (k, v) in extra {
        args.push("-e".into());
        args.push(format!("{k}={v}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    case.run(&args)
}

#[test]
fn load_ten_thousand_lines_from_hdfs_and_count_them() {
    require_hive();
    let table = unique("lg_load").replace('-', "_");
    let dir = format!("/loadgen-test/{table}");
    let case = Case::new(
        r#"
local lg = require("loadgen")
local hdfs = require("loadgen.hdfs")
local hive = require("loadgen.hive")
local fs = hdfs.client{ url = lg.env("HDFS") }
local h = hive.connect{ port = tonumber(lg.env("HIVE_PORT")), timeout = "60s", fetch_size = 5000 }
local t, dir = lg.env("TABLE"), lg.env("DIR")
options = { iterations = 1, thresholds = { checks = { "rate == 1" } } }
function setup()
  local lines = {}
  for i = 1, 10000 do lines[i] = (9007199254740000 + i) .. ",name-" .. i end
  assert(fs:write(dir .. "/data.csv", table.concat(lines, "\n") .. "\n").ok)
  local r = h:execute("CREATE TABLE " .. t .. " (id BIGINT, name STRING) ROW FORMAT DELIMITED FIELDS TERMINATED BY ','", { name = "ddl" })
  assert(r.ok, r.error)
  r = h:execute("LOAD DATA INPATH '" .. dir .. "/data.csv' INTO TABLE " .. t, { name = "load" })
  assert(r.ok, r.error)
end
function default()
  local c = h:query("SELECT count(*), max(id), min(name) FROM " .. t, { name = "count" })
  lg.check(c, {
    ["count is 10000"] = function(c) return c.err == nil and c.rows[1][1] == 10000 end,
    ["max id exact above 2^53"] = function(c) return c.rows[1][2] == 9007199254750000 end,
    ["types"] = function(c) return c.types[1] == "BIGINT" and c.types[3] == "STRING" end,
  })
  local all = h:query("SELECT id, name FROM " .. t, { name = "scan", named = true })
  lg.check(all, {
    ["10000 rows in 2 fetches"] = function(a) return a.row_count == 10000 and #a.rows == 10000 end,
    ["named rows"] = function(a) return math.type(a.rows[1].id) == "integer" and a.rows[1].name:sub(1, 5) == "name-" end,
  })
end
function teardown()
  assert(h:execute("DROP TABLE " .. t, { name = "ddl" }).ok)
  fs:delete(dir, { recursive = true })
  assert(h:close().ok)
end
"#,
    );
    let o = hive_env(&case, &[("TABLE", table), ("DIR", dir)]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{}", stdout(&o));
    let q = &r["metrics"]["hive.query"];
    assert_eq!(q["count"], 5, "{q}");
    assert_eq!(q["error_count"], 0, "{q}");
    assert_eq!(q["units"]["rows"], 10001, "{q}");
}

/// Every primitive type and NULLs, written with INSERT ... VALUES and read back.
#[test]
fn insert_values_and_select_round_trip_every_primitive_type() {
    require_hive();
    round_trip("insert", "binary");
}

#[test]
fn insert_values_and_select_round_trip_every_primitive_type_over_http() {
    require_hive_http();
    round_trip("insert", "http");
}

/// The same values loaded from a text file on HDFS (no INSERT on the server's side).
#[test]
fn loaded_values_read_back_with_every_primitive_type() {
    require_hive();
    round_trip("load", "binary");
}

fn round_trip(how: &str, transport: &str) {
    let table = unique(&format!("lg_types_{how}")).replace('-', "_");
    let case = Case::new(
        r#"
local lg = require("loadgen")
local hdfs = require("loadgen.hdfs")
local hive = require("loadgen.hive")
local h = hive.connect{ port = tonumber(lg.env("HIVE_PORT")), transport = lg.env("TRANSPORT"),
                        database = "default", session_conf = { ["hive.fetch.task.conversion"] = "more" } }
local t, how = lg.env("TABLE"), lg.env("HOW")
options = { iterations = 1, thresholds = { checks = { "rate == 1" } } }
local cols = "t TINYINT, s SMALLINT, i INT, b BIGINT, f FLOAT, d DOUBLE, dc DECIMAL(20,4), st STRING, " ..
             "vc VARCHAR(10), ch CHAR(5), bo BOOLEAN, dt DATE, ts TIMESTAMP, bi BINARY"
function setup()
  assert(h:execute("CREATE TABLE " .. t .. " (k INT, " .. cols .. ")").ok)
  local r
  if how == "insert" then
    r = h:execute("INSERT INTO " .. t .. " VALUES " ..
      "(1, -128, -32768, -2147483648, 9007199254740993, 1.1, 2.25, 12345678.9012, 'grüße ✓ 日本', " ..
      "'varchar', 'ch', true, '2024-02-29', '2024-02-29 12:34:56.789', cast('bin' as binary)), " ..
      "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)", { name = "insert" })
  else
    local fs = hdfs.client{ url = lg.env("HDFS") }
    local path = "/loadgen-test/" .. t .. ".txt"
    local sep = "\1"
    local one = table.concat({ "1", "-128", "-32768", "-2147483648", "9007199254740993", "1.1", "2.25",
      "12345678.9012", "grüße ✓ 日本", "varchar", "ch", "true", "2024-02-29", "2024-02-29 12:34:56.789", "Ymlu" }, sep)
    local two = "2" .. string.rep(sep .. "\\N", 14)
    assert(fs:write(path, one .. "\n" .. two .. "\n").ok)
    r = h:execute("LOAD DATA INPATH '" .. path .. "' INTO TABLE " .. t, { name = "load" })
  end
  -- teardown does not run after a failed setup
  if not r.ok then h:execute("DROP TABLE IF EXISTS " .. t) end
  assert(r.ok, r.error)
end
function default()
  local r = h:query("SELECT * FROM " .. t .. " ORDER BY k", { name = "select" })
  assert(r.err == nil, r.error)
  local v, n = r.rows[1], r.rows[2]
  lg.check(r, {
    ["two rows"] = function(r) return r.row_count == 2 end,
    ["tinyint"] = function() return v[2] == -128 and math.type(v[2]) == "integer" end,
    ["smallint"] = function() return v[3] == -32768 end,
    ["int"] = function() return v[4] == -2147483648 end,
    ["bigint above 2^53"] = function() return v[5] == 9007199254740993 and math.type(v[5]) == "integer" end,
    ["float"] = function() return v[6] == 1.1 end,
    ["double"] = function() return v[7] == 2.25 end,
    ["decimal as exact text"] = function() return v[8] == "12345678.9012" end,
    ["string non-ascii"] = function() return v[9] == "grüße ✓ 日本" end,
    ["varchar"] = function() return v[10] == "varchar" end,
    ["char padded"] = function() return v[11] == "ch   " end,
    ["boolean"] = function() return v[12] == true end,
    ["date"] = function() return v[13] == "2024-02-29" end,
    ["timestamp"] = function() return v[14] == "2024-02-29 12:34:56.789" end,
    ["binary"] = function() return v[15] == "bin" end,
    ["nulls"] = function()
      for i = 2, 15 do if n[i] ~= nil then return false end end
      return n[1] == 2
    end,
    ["types"] = function(r) return r.types[5] == "BIGINT" and r.types[8] == "DECIMAL" and r.types[15] == "BINARY" end,
  })
end
function teardown() h:execute("DROP TABLE IF EXISTS " .. t) end
"#,
    );
    let o = hive_env_over(
        &case,
        transport,
        &[("TABLE", table), ("HOW", how.to_string())],
    );
    let hint = if stderr(&o).contains("Error running query") {
        "\nHiveServer2 failed to run the statement: see its hive.log (`scripts/stack logs hive`). \
         A NoSuchMethodError on org.antlr.runtime.tree.CommonTree.insertChild there means its \
         classpath has antlr-runtime 3.3 where Hive 4 needs 3.5.2: every INSERT and CTAS fails."
    } else {
        ""
    };
    assert_eq!(code(&o), 0, "{}\n{}{hint}", stdout(&o), stderr(&o));
    let r = case.result();
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{}", stdout(&o));
    assert_eq!(r["metrics"]["hive.query"]["error_count"], 0);
}

#[test]
fn a_failing_statement_returns_hive_message_and_counts_as_server_error() {
    require_hive();
    failing_statement("binary");
}

#[test]
fn a_failing_statement_returns_hive_message_and_counts_as_server_error_over_http() {
    require_hive_http();
    failing_statement("http");
}

fn failing_statement(transport: &str) {
    let case = Case::new(
        r#"
local lg = require("loadgen")
local hive = require("loadgen.hive")
local h = hive.connect{ port = tonumber(lg.env("HIVE_PORT")), transport = lg.env("TRANSPORT") }
options = { scenarios = { s = { executor = "per-vu-iterations", vus = 2, iterations = 2 } },
            thresholds = { checks = { "rate == 1" } } }
function default()
  local bad = h:query("SELECT * FROM loadgen_no_such_table", { name = "bad" })
  lg.check(bad, {
    ["server error"] = function(b) return b.err == "server" end,
    ["hive's message"] = function(b) return b.error:find("Table not found 'loadgen_no_such_table'", 1, true) ~= nil end,
    ["sql state"] = function(b) return b.sql_state == "42S02" and b.code == 10001 end,
  })
  -- The session goes on after the error.
  local ok = h:query("SELECT " .. lg.vu() .. ", 'x'", { name = "ok" })
  lg.check(ok, { ["session still works"] = function(r) return r.rows[1][1] == lg.vu() and r.rows[1][2] == "x" end })
end
"#,
    );
    let o = hive_env_over(&case, transport, &[]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let r = case.result();
    assert_valid(&r);
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{}", stdout(&o));
    let q = &r["metrics"]["hive.query"];
    assert_eq!(q["count"], 8, "{q}");
    assert_eq!(q["error_count"], 4, "{q}");
    assert_eq!(q["errors"]["server"], 4, "{q}");
    // One session per VU.
    assert_eq!(r["metrics"]["hive.connect"]["count"], 2);
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Runs `query` against a HiveServer2 that is not there (or not one) and returns the error kinds
/// counted under hive.query, checking that the run took less than `limit`.
fn failing_run(port: u16, opts: &str, limit: Duration) -> (serde_json::Value, String) {
    let case = Case::new(&format!(
        r#"
local lg = require("loadgen")
local hive = require("loadgen.hive")
local h = hive.connect{{ port = {port}, healthcheck = false, {opts} }}
options = {{ iterations = 2 }}
function default()
  local r = h:query("SELECT 1")
  lg.check(r, {{ ["has an error"] = function(r) return r.err ~= nil and #r.error > 0 end }})
  print(r.err, r.error)
end
"#
    ));
    let started = Instant::now();
    let o = case.run(&[]);
    assert!(started.elapsed() < limit, "{:?}", started.elapsed());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = case.result();
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{}", stdout(&o));
    assert_eq!(r["metrics"]["hive.query"]["error_count"], 2);
    // A statement that failed with its session took as long as the failed attempt, not a zero-length
    // sample pulling the percentiles down (it was recorded at ~1 us).
    let took = |m: &str| r["metrics"][m]["service_time"]["min"].as_f64().unwrap();
    assert!(
        took("hive.query") >= took("hive.connect"),
        "hive.query {} ms < hive.connect {} ms",
        took("hive.query"),
        took("hive.connect")
    );
    (r["metrics"]["hive.query"]["errors"].clone(), stdout(&o))
}

#[test]
fn unreachable_server_fails_fast_with_its_address() {
    let port = free_port();
    // With the health check: exit 4 before any load, naming the address.
    let case = Case::new(&format!(
        "local hive = require('loadgen.hive')\nlocal h = hive.connect{{ port = {port}, timeout = '5s' }}\nfunction default() h:query('SELECT 1') end\n"
    ));
    let started = Instant::now();
    let o = case.run(&[]);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("127.0.0.1:{port}")),
        "{}",
        stderr(&o)
    );
    // Without: every statement fails as `connect`.
    let (errors, out) = failing_run(port, "timeout = '3s'", Duration::from_secs(20));
    assert_eq!(errors["connect"], 2, "{errors}");
    assert!(out.contains(&format!("127.0.0.1:{port}")), "{out}");
}

#[test]
fn over_http_an_unreachable_port_is_a_connect_error_naming_the_url() {
    let port = free_port();
    let (errors, out) = failing_run(
        port,
        "transport = 'http', timeout = '5s'",
        Duration::from_secs(20),
    );
    assert_eq!(errors["connect"], 2, "{errors}");
    assert!(
        out.contains(&format!("POST http://127.0.0.1:{port}/cliservice")),
        "{out}"
    );
}

#[test]
fn over_http_a_server_that_is_not_hiveserver2_is_a_protocol_error() {
    let http = server();
    let (errors, out) = failing_run(
        http.addr.port(),
        "transport = 'http', timeout = '5s'",
        Duration::from_secs(20),
    );
    assert_eq!(errors["protocol"], 2, "{errors}");
    assert!(out.contains("/cliservice"), "{out}");
}

#[test]
fn over_http_the_binary_port_is_a_protocol_error() {
    require_hive();
    let port: u16 = HIVE.rsplit(':').next().unwrap().parse().unwrap();
    let (errors, out) = failing_run(
        port,
        "transport = 'http', timeout = '5s'",
        Duration::from_secs(20),
    );
    assert_eq!(errors["protocol"], 2, "{errors}\n{out}");
}

#[test]
fn an_http_port_is_a_protocol_error() {
    let http = server();
    let (errors, out) = failing_run(http.addr.port(), "timeout = '5s'", Duration::from_secs(20));
    assert_eq!(errors["protocol"], 2, "{errors}");
    assert!(out.contains("does not speak HiveServer2"), "{out}");
}

#[test]
fn nosasl_against_a_sasl_server_is_a_protocol_error() {
    require_hive();
    let port: u16 = HIVE.rsplit(':').next().unwrap().parse().unwrap();
    let (errors, out) = failing_run(
        port,
        "auth = 'nosasl', timeout = '5s'",
        Duration::from_secs(20),
    );
    assert_eq!(errors["protocol"], 2, "{errors}");
    assert!(out.contains("SASL"), "{out}");
}

#[test]
fn a_silent_server_is_a_timeout_not_a_hang() {
    // Accepts connections and never answers.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming() {
            held.push(s);
        }
    });
    let (errors, _) = failing_run(port, "timeout = '1s'", Duration::from_secs(15));
    assert_eq!(errors["timeout"], 2, "{errors}");
}

#[test]
fn unknown_options_are_errors_listing_the_valid_ones() {
    let case = Case::new(
        "local hive = require('loadgen.hive')\nlocal h = hive.connect{ prot = 1, healthcheck = false }\nfunction default() end\n",
    );
    let o = case.run(&[]);
    assert_ne!(code(&o), 0);
    assert!(
        stderr(&o).contains("unknown option 'prot'") && stderr(&o).contains("poll_interval"),
        "{}",
        stderr(&o)
    );
    let case = Case::new(
        "local hive = require('loadgen.hive')\nlocal h = hive.connect{ healthcheck = false, port = 1 }\nfunction default() h:query('SELECT 1', { nmae = 'x' }) end\n",
    );
    let o = case.run(&[]);
    let r = case.result();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        r["script_errors"]
            .to_string()
            .contains("unknown option 'nmae'"),
        "{}",
        r["script_errors"]
    );
}

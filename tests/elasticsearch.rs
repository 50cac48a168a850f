//! `loadgen.elasticsearch` against the real Elasticsearch node of `scripts/stack`.

mod common;

use common::stack::{require_elasticsearch, unique, ELASTICSEARCH};
use common::*;

#[test]
fn bulk_ten_thousand_then_count_search_and_mapping_conflicts() {
    require_elasticsearch();
    let index = unique("lg-bulk");
    let case = Case::new(
        r#"
local lg = require("loadgen")
local es = require("loadgen.elasticsearch")
local c = es.client{ urls = { lg.env("ES") } }
local index = lg.env("INDEX")
options = {
  scenarios = { load = { executor = "per-vu-iterations", vus = 4, iterations = 25 } },
  thresholds = { checks = { "rate == 1" } },
}
function setup()
  local r = c:create_index(index, {
    settings = { number_of_shards = 1, number_of_replicas = 0 },
    mappings = { properties = { n = { type = "long" }, word = { type = "keyword" } } },
  })
  assert(r.ok, r.error)
end
function default()
  -- 100 documents per bulk, 100 bulks in all.
  local docs = {}
  local base = ((lg.vu() - 1) * 25 + (lg.iteration() - 1)) * 100
  for i = 1, 100 do
    local n = base + i
    docs[i] = { _id = tostring(n), n = n, word = (n % 10 == 0) and "ten" or "other" }
  end
  local r = c:bulk(index, docs)
  lg.check(r, { ["bulk ok"] = function(r) return r.err == nil and r.items == 100 and r.failed == 0 end })
end
function teardown()
  c:refresh(index)
  local n = c:count(index)
  lg.check(n, { ["count is 10000"] = function(n) return n.count == 10000 end })
  local s = c:search(index, { query = { term = { word = "ten" } }, size = 5, sort = { { n = "asc" } } })
  lg.check(s, {
    ["1000 hits"] = function(s) return s.total == 1000 end,
    ["first hits in order"] = function(s) return s.hits[1].n == 10 and s.hits[2].n == 20 and s.hits[1]._id == "10" end,
  })
  local g = c:get(index, "4242")
  lg.check(g, { ["get by id"] = function(g) return g.found and g.source.n == 4242 end })
  local missing = c:get(index, "nope")
  lg.check(missing, { ["missing doc is not an error"] = function(m) return m.found == false and m.err == nil end })
  -- A mapping conflict: 'n' is a long, these are not numbers.
  local bad = c:bulk(index, { { n = "not a number" }, { n = 1 }, { n = "nor this" } })
  lg.check(bad, { ["conflicts are item errors"] = function(b) return b.err == "client" and b.items == 3 and b.failed == 2 end })
  local st = c:stats(index)
  lg.check(st, { ["stats"] = function(s) return s.docs ~= nil and s.store_bytes > 0 end })
  c:delete_index(index)
end
"#,
    );
    let o = case.run(&[
        "-e",
        &format!("ES={ELASTICSEARCH}"),
        "-e",
        &format!("INDEX={index}"),
    ]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let r = case.result();
    assert_valid(&r);
    let bulk = &r["metrics"]["es.bulk"];
    // 100 bulks of 100 documents, then one with 2 conflicts out of 3.
    assert_eq!(bulk["count"], 101);
    assert_eq!(bulk["units"]["docs"], 10001);
    assert_eq!(bulk["units"]["failed_docs"], 2);
    assert_eq!(bulk["errors"]["client"], 1);
    assert_eq!(r["metrics"]["checks"]["rate"], 1.0, "{}", stdout(&o));
}

#[test]
fn unreachable_elasticsearch_fails_fast_or_counts_connect_errors() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let case = Case::new(&format!(
        "local es = require('loadgen.elasticsearch')\nlocal c = es.client{{ url = 'http://127.0.0.1:{port}' }}\nfunction default() c:count('x') end\n"
    ));
    let o = case.run(&[]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("127.0.0.1:{port}")),
        "{}",
        stderr(&o)
    );
    assert_eq!(case.result()["status"], "failed");

    let case = Case::new(&format!(
        "local es = require('loadgen.elasticsearch')\nlocal c = es.client{{ url = 'http://127.0.0.1:{port}', healthcheck = false, timeout = '2s' }}\noptions = {{ iterations = 3 }}\nfunction default() c:count('x') end\n"
    ));
    let o = case.run(&[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(case.result()["metrics"]["es.count"]["errors"]["connect"], 3);
}

/// `rate_limit` holds for a bulk larger than the burst: 1,500 documents at 500 documents/s (burst 500)
/// take at least 2 s. Before the shared `wait_units`, the binding waited for 2 units and sent at once.
#[test]
fn rate_limit_holds_for_a_bulk_larger_than_the_burst() {
    require_elasticsearch();
    let index = unique("lg-rate");
    let case = Case::new(
        r#"
local lg = require("loadgen")
local es = require("loadgen.elasticsearch")
local c = es.client{ urls = { lg.env("ES") }, rate_limit = 500 }
local index = lg.env("INDEX")
options = { iterations = 1, vus = 1, thresholds = { checks = { "rate == 1" } } }
local took = lg.gauge("took_s")
function default()
  local docs = {}
  for i = 1, 1500 do docs[i] = { n = i } end
  local t0 = lg.now_us()
  local r = c:bulk(index, docs)
  took:set((lg.now_us() - t0) / 1e6)
  lg.check(r, { ["bulk ok"] = function(r) return r.err == nil and r.items == 1500 end })
end
function teardown() c:delete_index(index) end
"#,
    );
    let o = case.run(&[
        "-e",
        &format!("ES={ELASTICSEARCH}"),
        "-e",
        &format!("INDEX={index}"),
    ]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let r = case.result();
    let took = r["metrics"]["took_s"]["gauge"]["value"].as_f64().unwrap();
    // 500 at once (the burst), 1,000 more at 500/s: a lower bound from the rate, not a speed target.
    assert!(
        took >= 1.95,
        "a 1,500-document bulk at 500/s went out after {took} s"
    );
}
